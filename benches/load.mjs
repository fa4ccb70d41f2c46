// Load suite of issue 19: (a) HTTP → in-process command → reply, against bare Fastify returning
// the same JSON, in the same run; with --servers=bare,catga,catga-nats also (b) HTTP → command
// over NATS (the machine's nats-server, NATS_URL) to a service process → reply; with moleculer,
// the same flow (b) built with moleculer + moleculer-web over moleculer's NATS transporter.
//
//   npx tsup && npm run load [-- --duration=8] [--rounds=3] [--connections=100] [--warmup=2]
//                              [--servers=bare,catga] [--rate=0] [--out=benches/reports]
//
// Writes load-c<connections>[-r<rate>].json (every run's figures) and .svg (latency at p50 to
// p99.99 per server, the median over the rounds, on a log axis) to --out.
//
// --rate=0 (the default) is a closed loop: every connection sends its next request when the last
// is answered, so req/s is the most the server does at that many connections, and the latency is
// mostly queueing (1,000 connections at 5,000 req/s wait 200 ms on average). --rate=N offers N
// req/s instead, to read the latency at a rate: autocannon paces per connection per whole second
// (a connection sends its quota at the start of each second), so the rate is split over up to 20
// autocannon instances started evenly over a second (bursts of N/20 every 50 ms), and the
// latencies of the 2xx are merged in one HDR histogram from autocannon's per-response times
// (µs resolution, no coordinated-omission correction). A run at a rate counts as held when it had
// no error, timeout or non-2xx and answered at least 97 % of the rate (counting answers to requests
// written within the run: benches/load/held.mjs). At a rate, each run
// also reports p50/p99 without each instance's first second, while its connections open (at 2,000
// req/s the 1,000 connections' first requests are 8 % of a 6 s run and set its p99); `npm run load:sweep`
// (benches/load-sweep.mjs) runs a list of rates and finds the highest held within a p99 bound.
//
// Each run starts a fresh server process (benches/load/server.mjs bare|catga|catga-nats), one at a time: with
// both servers started once and left running, whichever started second won by up to 2x here.
// autocannon drives it from this process, over loopback only: POST /orders with { sku, qty },
// 100 connections, no pipelining. Every round runs both servers, one after the other, the order
// swapped each round (this VM's speed drifts over tens of seconds, so a pair is compared within
// its round); each run is bounded (--duration seconds, at most 10) after a warm-up run
// (--warmup seconds) that is not counted.
//
// Reported per run: req/s (mean over the run); the server process's CPU time per request (user +
// system over the measured window, all its threads: it moves far less with the machine's load
// than req/s; for catga-nats the gateway's alone, not the service's nor nats-server's);
// latency p50 / p99 / p99.9 (ms, autocannon's HDR histogram, whole milliseconds); errors,
// timeouts and non-2xx answers (all must be 0). Then the median of each server's rounds and the
// medians of the rounds' ratios catga / bare. The suite stops by itself: each server is stopped
// ("stop" over IPC, SIGKILL to its PID after 5 s).
import { fork } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import * as hdr from "hdr-histogram-js";
import { heldAt } from "./load/held.mjs";
import { PERCENTILES, percentilesSvg } from "./load/percentiles-svg.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 3));
};
const duration = arg("duration", 8);
const rounds = arg("rounds", 3);
const connections = arg("connections", 100);
const warmup = arg("warmup", 2);
const rate = arg("rate", 0);
const out = process.argv.find((a) => a.startsWith("--out="))?.slice(6) ?? join(here, "reports");
/** Short names for the plot's legend. */
const SHORT = {
  bare: "bare Fastify",
  catga: "Catga in-process (a)",
  "catga-nats": "Catga over NATS (b)",
  moleculer: "moleculer over NATS (b)",
};
/** Servers to compare, bare first (the reference): --servers=bare,catga,catga-nats. */
const LABELS = {
  bare: "bare Fastify",
  catga: "Fastify + Catga, in-process command (flow a)",
  "catga-nats": "Fastify + Catga, command over NATS to a service process (flow b)",
  moleculer: "moleculer-web + moleculer, action over NATS to a service process (flow b, moleculer)",
};
const modes = (process.argv.find((a) => a.startsWith("--servers="))?.slice(10) ?? "bare,catga").split(",");
if (modes[0] !== "bare" || modes.length < 2 || modes.some((mode) => !(mode in LABELS))) {
  console.error(
    `--servers must start with bare and name at least one of: ${Object.keys(LABELS).slice(1).join(", ")}`,
  );
  process.exit(2);
}
if (
  !(duration > 0 && duration <= 10) ||
  !(rounds >= 1 && rounds <= 10) ||
  !(connections >= 1 && connections <= 1000) ||
  !(rate === 0 || (rate >= connections && rate <= 100_000))
) {
  console.error(
    "--duration must be in (0, 10] s, --rounds in [1, 10], --connections in [1, 1000], --rate 0 or in [connections, 100000]",
  );
  process.exit(2);
}
if (!existsSync(join(here, "..", "dist", "fastify.js"))) {
  console.error("dist/fastify.js is missing: run `npx tsup` first");
  process.exit(2);
}

/** The server process of the run in progress (one at a time: no idle server shares the CPUs). */
let server;
async function start(mode) {
  const child = fork(join(here, "load", "server.mjs"), [mode], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  server = { child, mode };
  const port = await new Promise((resolve, reject) => {
    child.once("message", (message) => resolve(message.port));
    child.once("exit", (code) => reject(new Error(`${mode} server exited with ${code} before listening`)));
  });
  server.url = `http://127.0.0.1:${port}/orders`;
  return server.url;
}

async function stop() {
  const current = server;
  server = undefined;
  if (current === undefined || current.child.exitCode !== null) return;
  const exited = new Promise((resolve) => current.child.once("exit", resolve));
  current.child.send("stop");
  const timer = setTimeout(() => current.child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

process.on("exit", () => server?.child.kill("SIGKILL"));
process.on("SIGINT", () => process.exit(130));

const body = JSON.stringify({ sku: "book", qty: 2 });
function load(url, seconds) {
  return autocannon({
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    connections,
    duration: seconds,
    timeout: 10,
  });
}

/** Closed loop for `seconds`: autocannon's own figures (latencies in whole ms). */
async function closedLoop(url, seconds) {
  const result = await load(url, seconds);
  const key = (p) => `p${String(p).replace(".", "_")}`;
  return {
    percentiles: Object.fromEntries(PERCENTILES.map((p) => [p, result.latency[key(p)]])),
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    total: result.requests.total,
  };
}

/** `rate` req/s offered for `seconds` over staggered autocannon instances (see the head comment). */
async function atRate(url, seconds) {
  const parts = Math.min(20, Math.max(1, Math.floor(connections / 50)));
  // µs from 1 µs to 60 s, 3 significant digits.
  const histogram = () =>
    hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
  const latencies = histogram();
  // The same latencies without each instance's first second, while its connections are being
  // opened: a fresh connection's first answers queue behind the server accepting the others, and at
  // low rates (two requests per connection per second) they alone are a few percent of the run.
  const steady = histogram();
  const counts = { ok: 0, inRun: 0, non2xx: 0, errors: 0, timeouts: 0 };
  const runs = [];
  for (let part = 0; part < parts; part++) {
    if (part > 0) await new Promise((resolve) => setTimeout(resolve, 1000 / parts));
    const instance = autocannon({
      url,
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      connections: Math.ceil(connections / parts),
      overallRate: Math.ceil(rate / parts),
      duration: seconds,
      timeout: 10,
    });
    const steadyFrom = performance.now() + 1000;
    // Answers count only for requests written within the run: as it stops, autocannon may write
    // more. Its per-second quotas also overshoot a little by themselves (1–16 % more requests than
    // rate × seconds against a plain server here, more with fewer requests per connection), so
    // "answered per offered second" can read a bit above the rate; a server that falls behind
    // still reads far below it (36,000 offered: 27–31K answered per second).
    const endsAt = performance.now() + seconds * 1000;
    instance.on("response", (_client, status, _bytes, ms) => {
      if (status < 200 || status >= 300) counts.non2xx++;
      else {
        counts.ok++;
        if (performance.now() - ms < endsAt) counts.inRun++;
        const micros = Math.max(1, Math.round(ms * 1000));
        latencies.recordValue(micros);
        // By when the request went out, not when its answer came: a slow answer to a request
        // sent while the connections were opening belongs to that first second.
        if (performance.now() - ms >= steadyFrom) steady.recordValue(micros);
      }
    });
    instance.on("reqError", (error) => {
      counts.errors++;
      if (error?.message === "request timed out") counts.timeouts++;
    });
    runs.push(new Promise((resolve) => instance.on("done", resolve)));
  }
  await Promise.all(runs);
  const ms = (p) => Math.round(latencies.getValueAtPercentile(p) / 10) / 100;
  return {
    percentiles: Object.fromEntries(PERCENTILES.map((p) => [p, ms(p)])),
    // Each instance offers its share for `seconds` (from its own start): 2xx answers to requests
    // written within the run, per offered second.
    rps: counts.inRun / seconds,
    p50: ms(50),
    p99: ms(99),
    p999: ms(99.9),
    // null for a run of a second or less: nothing came after its first second.
    steadyP50: steady.totalCount > 0 ? Math.round(steady.getValueAtPercentile(50) / 10) / 100 : null,
    steadyP99: steady.totalCount > 0 ? Math.round(steady.getValueAtPercentile(99) / 10) / 100 : null,
    errors: counts.errors - counts.timeouts,
    timeouts: counts.timeouts,
    non2xx: counts.non2xx,
    total: counts.ok + counts.non2xx,
  };
}

/** A fresh server process: warmed up (not counted), measured, stopped. */
async function run(mode) {
  const url = await start(mode);
  try {
    if (warmup > 0) await load(url, warmup);
    server.child.send("mark");
    const result = rate > 0 ? await atRate(url, duration) : await closedLoop(url, duration);
    const cpu = new Promise((resolve) =>
      server.child.once("message", (message) => resolve(message.cpuMicros)),
    );
    server.child.send("cpu");
    const cpuMicros = await cpu;
    return { cpuPerRequest: cpuMicros / Math.max(1, result.total), mode, ...result };
  } finally {
    await stop();
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString("en-US");
/** A median of two runs' ms (each to 0.01 ms) without float noise. */
const ms2 = (n) => Math.round(n * 100) / 100;

try {
  // Sanity: all answer the same JSON.
  const answers = [];
  for (const mode of modes) {
    const response = await fetch(await start(mode), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    answers.push(`${response.status} ${await response.text()}`);
    await stop();
  }
  if (new Set(answers).size !== 1) throw new Error(`the servers answer differently: ${answers.join(" vs ")}`);
  console.log(`all answer: ${answers[0]}`);
  console.log(
    `node ${process.version}; ${connections} connections; ${rate > 0 ? `${fmt(rate)} req/s offered` : "closed loop"}; ${rounds} rounds of ${duration} s per server (after ${warmup} s of warm-up each)`,
  );

  const rows = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? modes : [...modes].reverse();
    for (const mode of order) {
      const row = { round, ...(await run(mode)) };
      rows.push(row);
      console.log(
        `round ${round} ${mode.padEnd(10)} ${fmt(row.rps).padStart(7)} req/s  server CPU ${row.cpuPerRequest.toFixed(1)} µs/req  p50 ${row.p50} ms  p99 ${row.p99} ms  p99.9 ${row.p999} ms${rate > 0 ? `  after the first second: p50 ${row.steadyP50} ms p99 ${row.steadyP99} ms` : ""}  errors ${row.errors}  timeouts ${row.timeouts}  non-2xx ${row.non2xx}`,
      );
    }
  }

  console.log(
    "\n| server | req/s (median of rounds) | server CPU µs/request | p50 ms | p99 ms | p99.9 ms | errors + timeouts + non-2xx |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const mode of modes) {
    const mine = rows.filter((r) => r.mode === mode);
    const failures = mine.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0);
    console.log(
      `| ${LABELS[mode]} | ${fmt(median(mine.map((r) => r.rps)))} | ${median(mine.map((r) => r.cpuPerRequest)).toFixed(1)} | ${ms2(median(mine.map((r) => r.p50)))} | ${ms2(median(mine.map((r) => r.p99)))} | ${ms2(median(mine.map((r) => r.p999)))} | ${failures} |`,
    );
  }
  for (const mode of modes.slice(1)) {
    const ratios = [];
    const cpuRatios = [];
    for (let round = 1; round <= rounds; round++) {
      const [bare, other] = ["bare", mode].map((m) => rows.find((r) => r.round === round && r.mode === m));
      ratios.push(other.rps / bare.rps);
      cpuRatios.push(other.cpuPerRequest / bare.cpuPerRequest);
    }
    console.log(
      `\n${mode} / bare req/s per round: ${ratios.map((r) => r.toFixed(3)).join(", ")}; median ${median(ratios).toFixed(3)}${mode === "catga" ? " (bar: ≥ 0.90)" : ""}`,
    );
    console.log(
      `${mode} / bare server CPU per request per round: ${cpuRatios.map((r) => r.toFixed(3)).join(", ")}; median ${median(cpuRatios).toFixed(3)}`,
    );
  }
  if (modes.includes("catga-nats") && modes.includes("moleculer")) {
    const ratios = [];
    for (let round = 1; round <= rounds; round++) {
      const [catga, moleculer] = ["catga-nats", "moleculer"].map((m) =>
        rows.find((r) => r.round === round && r.mode === m),
      );
      ratios.push(catga.rps / moleculer.rps);
    }
    console.log(
      `\ncatga-nats / moleculer req/s per round: ${ratios.map((r) => r.toFixed(2)).join(", ")}; median ${median(ratios).toFixed(2)} (bar: ≥ 2)`,
    );
  }
  if (rate > 0) {
    for (const mode of modes) {
      const held = rows.filter((r) => r.mode === mode && heldAt(r, rate)).length;
      console.log(
        `${mode}: ${fmt(rate)} req/s held (no failure, ≥ 97 % answered) in ${held} of ${rounds} rounds`,
      );
    }
  }
  // The report: every run's figures, and the latency at each percentile (median over the rounds).
  const name = `load-c${connections}${rate > 0 ? `-r${rate}` : ""}`;
  const date = new Date().toISOString();
  const series = modes.map((mode) => {
    const mine = rows.filter((r) => r.mode === mode);
    return {
      name: SHORT[mode],
      values: Object.fromEntries(PERCENTILES.map((p) => [p, median(mine.map((r) => r.percentiles[p]))])),
    };
  });
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, `${name}.json`),
    `${JSON.stringify({ suite: "load", date, node: process.version, connections, rate, duration, warmup, rounds: rows }, null, 2)}\n`,
  );
  writeFileSync(
    join(out, `${name}.svg`),
    percentilesSvg({
      title: `Latency by percentile, ${connections} connections, ${rate > 0 ? `${fmt(rate)} req/s offered` : "closed loop"}`,
      subtitle: `${date.slice(0, 16).replace("T", " ")} UTC, ${rounds} rounds of ${duration} s per server, node ${process.version}`,
      series,
    }),
  );
  console.log(`\nreport: ${join(out, `${name}.json`)}, plot ${name}.svg`);
  const failed = rows.some((r) => r.errors + r.timeouts + r.non2xx > 0);
  if (failed) {
    console.error("some requests failed (see the errors / timeouts / non-2xx columns)");
    process.exitCode = 1;
  }
} finally {
  await stop();
}
