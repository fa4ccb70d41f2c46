// Load suite of issue 19: (a) HTTP → in-process command → reply, against bare Fastify returning
// the same JSON, in the same run; with --servers=bare,catga,catga-nats also (b) HTTP → command
// over NATS (the machine's nats-server, NATS_URL) to a service process → reply.
//
//   npx tsup && npm run load [-- --duration=8] [--rounds=3] [--connections=100] [--warmup=2]
//                              [--servers=bare,catga]
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
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 3));
};
const duration = arg("duration", 8);
const rounds = arg("rounds", 3);
const connections = arg("connections", 100);
const warmup = arg("warmup", 2);
/** Servers to compare, bare first (the reference): --servers=bare,catga,catga-nats. */
const LABELS = {
  bare: "bare Fastify",
  catga: "Fastify + Catga, in-process command (flow a)",
  "catga-nats": "Fastify + Catga, command over NATS to a service process (flow b)",
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
  !(connections >= 1 && connections <= 1000)
) {
  console.error("--duration must be in (0, 10] s, --rounds in [1, 10], --connections in [1, 1000]");
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

/** A fresh server process: warmed up (not counted), measured, stopped. */
async function run(mode) {
  const url = await start(mode);
  try {
    await load(url, warmup);
    server.child.send("mark");
    const result = await load(url, duration);
    const cpu = new Promise((resolve) =>
      server.child.once("message", (message) => resolve(message.cpuMicros)),
    );
    server.child.send("cpu");
    const cpuMicros = await cpu;
    return {
      cpuPerRequest: cpuMicros / Math.max(1, result.requests.total),
      mode,
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      p999: result.latency.p99_9,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      total: result.requests.total,
    };
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
    `node ${process.version}; ${connections} connections; ${rounds} rounds of ${duration} s per server (after ${warmup} s of warm-up each)`,
  );

  const rows = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? modes : [...modes].reverse();
    for (const mode of order) {
      const row = { round, ...(await run(mode)) };
      rows.push(row);
      console.log(
        `round ${round} ${mode.padEnd(10)} ${fmt(row.rps).padStart(7)} req/s  server CPU ${row.cpuPerRequest.toFixed(1)} µs/req  p50 ${row.p50} ms  p99 ${row.p99} ms  p99.9 ${row.p999} ms  errors ${row.errors}  timeouts ${row.timeouts}  non-2xx ${row.non2xx}`,
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
      `| ${LABELS[mode]} | ${fmt(median(mine.map((r) => r.rps)))} | ${median(mine.map((r) => r.cpuPerRequest)).toFixed(1)} | ${median(mine.map((r) => r.p50))} | ${median(mine.map((r) => r.p99))} | ${median(mine.map((r) => r.p999))} | ${failures} |`,
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
  const failed = rows.some((r) => r.errors + r.timeouts + r.non2xx > 0);
  if (failed) {
    console.error("some requests failed (see the errors / timeouts / non-2xx columns)");
    process.exitCode = 1;
  }
} finally {
  await stop();
}
