// NATS engine bench: Catga (Rust engine via NatsConnection) vs nats.js v2, same server, same
// bytes per message, one run.
//
//   npx tsup && npm run bench:nats [-- --quick] [--only=rr,ps,rust,rss] [--impl=catga,natsjs] [--rounds=5]
//   CATGA_OPTS=<json> merges options into every Catga connection (see benches/nats/common.mjs)
//   (Rust ceiling: cargo build --release -p catga-core --example nats_pubsub_baseline first;
//    the bench runs that binary when it exists)
//
// 1. rr   request/reply to a responder in ANOTHER process (benches/nats/responder.mjs), at
//         concurrency 1 and 64: warm-up, then a fixed window; req/s and latency percentiles
//         from an HDR histogram (µs, 3 significant digits) of every request in the window.
// 2. ps   pub/sub: publisher in this process, subscriber in a child process
//         (benches/nats/subscriber.mjs) counting messages delivered to its handler; the rate is
//         measured in the child between two marks. The publisher holds off while more than
//         WINDOW messages are undelivered, so neither side can flood the server (a subscriber
//         that falls 64 MB behind is cut off by nats-server as a slow consumer). Catga and
//         nats.js alternate for --rounds rounds (5; 1 with --quick) and the bar reads the median
//         of the rounds' ratios (see PS_ROUNDS).
// 3. rust async-nats ceiling (crates/catga-core/examples/nats_pubsub_baseline.rs): plain (one
//         NATS message per envelope, as a Rust user of async-nats would) and framed (CTG1
//         frames of 48 envelopes, ~16 KiB, what the Catga engine sends).
// 4. rss  100K msgs/s publish + consume in one fresh process (benches/nats/rss.mjs), RSS every
//         second, for Catga and nats.js: 20 s warm-up at the rate, then the 30 s window judged;
//         V8's young generation fixed at the size it settles on by itself (see RSS_V8_FLAGS).
//
// Payload: a Catga envelope with a 256-byte random payload (~330 B; BENCH_PAYLOAD=json for an
// order-like JSON document that compresses), the identical Buffer for
// both clients (see benches/nats/common.mjs). Only 127.0.0.1 is targeted; every loop is bounded
// by time and count; every child is killed by PID on exit, error or signal. Subjects carry this
// process's PID, so other users of the server don't cross the bench's traffic (they do share
// its CPU: the load average is printed with each phase).
//
// To see one side's cost alone: benches/nats/publisher-probe.mjs (publishes to nobody, or to a
// subject) and benches/nats/subscriber-probe.mjs print CPU per message of their own process.

import { execFileSync, fork, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as hdr from "hdr-histogram-js";
import {
  connectCatga,
  connectNatsJs,
  makeEnvelopes,
  NATS_PORT,
  NATS_URL,
  POOL,
  sleep,
  tick,
} from "./nats/common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const ONLY = (argv.find((a) => a.startsWith("--only="))?.slice(7) ?? "rr,ps,rust,rss").split(",");
const IMPLS = (argv.find((a) => a.startsWith("--impl="))?.slice(7) ?? "catga,natsjs").split(",");
const WARM_S = QUICK ? 0.5 : 1;
const RUN_S = QUICK ? 2 : 5;
// Pub/sub runs Catga and nats.js back to back this many times and judges the median of the
// rounds' ratios: this VM's speed drifts by ±15 % over tens of seconds (the Rust-only ceiling
// alone moved between 1.4M and 2.0M msgs/s in consecutive runs), so one pair can land on a fast
// stretch for one client and a slow one for the other.
const PS_ROUNDS = Number(argv.find((a) => a.startsWith("--rounds="))?.slice(9) ?? (QUICK ? 1 : 5));
const RSS_S = QUICK ? 10 : 30;
// The RSS window starts after this warm-up at the same rate.
const RSS_WARM_S = QUICK ? 5 : 20;
// Left alone, V8 doubles its young generation (new space 8.4 -> 16.8 MB) once enough has survived
// scavenges: 12-31 s into a run of either client, +10-15 MB of RSS, flat after. Both RSS children
// run with the young generation fixed at that final size, so the window sees the steady state and
// not the moment V8 happens to resize (adaptation, not growth; benches/RESULTS.md).
const RSS_V8_FLAGS = ["--min-semi-space-size=8", "--max-semi-space-size=8"];
const RSS_RATE = 100_000;
const CONCURRENCY = [1, 64];
const MAX_REQUESTS = 20_000_000; // count bound per request/reply run
const MAX_PUBLISH = 200_000_000; // count bound per pub/sub run
const WINDOW = 65_536; // most undelivered messages the publisher allows
const CHUNK = 1024; // messages published between yields
const MASK = POOL - 1;

// ---------------------------------------------------------------------------------------------
// Children: tracked by PID, killed on every way out.
const children = new Map();
function killChildren() {
  for (const [pid, child] of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    children.delete(pid);
  }
}
process.on("exit", killChildren);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

function forkChild(script, args, env = {}, execArgv = []) {
  const child = fork(join(here, "nats", script), args, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv,
    env: { ...process.env, ...env },
  });
  children.set(child.pid, child);
  const waiters = new Map();
  let marks = 0;
  child.on("message", (m) => {
    if (m?.type === "error") console.error(`child ${script} ${args[0]}: ${m.message}`);
    const key = m?.type === "mark" ? `mark:${m.id}` : m?.type;
    waiters.get(key)?.(m);
    waiters.delete(key);
  });
  const next = (type, ms = 15_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script}: no "${type}" within ${ms} ms`)), ms);
      const failed = (code) => reject(new Error(`${script} exited (${code}) before "${type}"`));
      child.once("exit", failed);
      waiters.set(type, (m) => {
        clearTimeout(timer);
        child.off("exit", failed);
        resolve(m);
      });
    });
  const ready = next("ready");
  ready.catch(() => undefined); // awaited by callers that need it; never an unhandled rejection
  return {
    child,
    ready,
    next,
    mark() {
      const id = ++marks;
      const reply = next(`mark:${id}`);
      child.send({ type: "mark", id });
      return reply;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const stopped = next("stopped", 5000).catch(() => undefined);
      child.send({ type: "stop" });
      const result = await stopped;
      await Promise.race([new Promise((r) => child.once("exit", r)), sleep(2000)]);
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
      children.delete(child.pid);
      return result;
    },
  };
}

// ---------------------------------------------------------------------------------------------
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
/** CPU milliseconds per unit of work, in µs. */
const perUnit = (ms, units) => ((1000 * Number(ms)) / Math.max(1, units)).toFixed(2);
/** Middle value (mean of the two middle ones for an even count). */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const cpuMs = (a, b) => ((b.user - a.user + (b.system - a.system)) / 1000).toFixed(0);

// Whole-machine and nats-server CPU over a window, from /proc (Linux; blank elsewhere), so each
// result shows how much of the 2 cores went to the server and how much to other work on the box.
/** The nats-server process serving NATS_PORT (other nats-servers may run on the box for tests). */
function findServerPid() {
  const candidates = [];
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "nats-server") continue;
        const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
        const at = args.findIndex((a) => a === "-p" || a === "--port");
        const port = at >= 0 ? Number(args[at + 1]) : 4222;
        if (port === NATS_PORT) candidates.push(Number(entry));
      } catch {}
    }
  } catch {}
  return candidates.sort((a, b) => a - b)[0];
}
const serverPid = findServerPid();
function cpuSnapshot() {
  const snap = { at: performance.now(), server: undefined, busy: undefined };
  try {
    if (serverPid) {
      const fields = readFileSync(`/proc/${serverPid}/stat`, "utf8").split(") ")[1].split(" ");
      snap.server = (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks (100 Hz) -> ms
    }
  } catch {}
  try {
    const all = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = all[3] + (all[4] ?? 0);
    snap.busy = { total: all.reduce((a, b) => a + b, 0), idle };
  } catch {}
  return snap;
}
/** nats-server CPU ms and machine busy % (of all cores) between two snapshots. */
function cpuWindow(a, b) {
  const server = a.server === undefined || b.server === undefined ? "" : String(b.server - a.server);
  let busy = "";
  if (a.busy && b.busy) {
    const total = b.busy.total - a.busy.total;
    busy = `${Math.round((100 * (total - (b.busy.idle - a.busy.idle))) / Math.max(1, total))}%`;
  }
  return { serverCpuMs: server, machineBusy: busy };
}

async function clientFor(impl, name) {
  if (impl === "catga") {
    const conn = await connectCatga(name);
    return {
      request: (subject, bytes) => conn.request(subject, bytes, 5000),
      close: () => conn.close(),
      conn,
    };
  }
  const nc = await connectNatsJs(name);
  return {
    request: (subject, bytes) => nc.request(subject, bytes, { timeout: 5000 }),
    close: () => nc.close(),
    nc,
  };
}

async function requestReply(impl, concurrency) {
  const subject = `bench.${process.pid}.rr.${impl}.c${concurrency}`;
  // RR_RESPONDER=catga|natsjs pairs every client with one responder, to split client-side from
  // responder-side costs (both reply with the same envelope bytes).
  const responder = forkChild("responder.mjs", [process.env.RR_RESPONDER ?? impl, subject, "bench-rr"]);
  const client = await clientFor(impl, `bench-rr-${impl}`);
  try {
    await responder.ready;
    const requests = makeEnvelopes("query", "bench.query");
    const histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    let recording = false;
    let stopped = false;
    let sent = 0;
    let completed = 0;
    let errors = 0;
    let firstError;
    const worker = async () => {
      while (!stopped && sent < MAX_REQUESTS) {
        const bytes = requests[sent++ & MASK];
        const t0 = performance.now();
        try {
          await client.request(subject, bytes);
        } catch (error) {
          errors++;
          firstError ??= error;
          continue;
        }
        if (recording) {
          histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          completed++;
        }
      }
    };
    const workers = Array.from({ length: concurrency }, worker);
    await sleep(WARM_S * 1000);
    const markStart = await responder.mark();
    const cpu0 = process.cpuUsage();
    const snap0 = cpuSnapshot();
    const t0 = performance.now();
    recording = true;
    await sleep(RUN_S * 1000);
    recording = false;
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = process.cpuUsage();
    const snap1 = cpuSnapshot();
    const markEnd = await responder.mark();
    stopped = true;
    await Promise.all(workers);
    if (firstError) console.error(`  ${impl} c${concurrency}: ${errors} errors, first: ${firstError}`);
    return {
      impl,
      concurrency,
      reqPerSec: completed / seconds,
      p50: histogram.getValueAtPercentile(50),
      p90: histogram.getValueAtPercentile(90),
      p99: histogram.getValueAtPercentile(99),
      p999: histogram.getValueAtPercentile(99.9),
      max: histogram.maxValue,
      errors,
      clientCpuMs: cpuMs(cpu0, cpu1),
      responderCpuMs: cpuMs(markStart.cpu, markEnd.cpu),
      perBatch: (markEnd.messages - markStart.messages) / Math.max(1, markEnd.batches - markStart.batches),
      ...cpuWindow(snap0, snap1),
      seconds,
      load: load(),
    };
  } finally {
    await client.close().catch(() => undefined);
    await responder.stop();
  }
}

async function pubSub(impl) {
  const subject = `bench.${process.pid}.ps.${impl}`;
  const subscriber = forkChild("subscriber.mjs", [impl, subject]);
  let delivered = 0;
  subscriber.child.on("message", (m) => {
    if (m?.type === "count") delivered = m.count;
  });
  const events = makeEnvelopes("event", "bench.event");
  let published = 0;
  let publish;
  let settle;
  let close;
  if (impl === "catga") {
    const conn = await connectCatga("bench-pub-catga");
    const inFlight = [];
    publish = () => {
      let last;
      for (let i = 0; i < CHUNK; i++) last = conn.publish(subject, events[published++ & MASK]);
      inFlight.push(last);
    };
    // Keep up to 4 chunks handed to the batcher; waiting on the oldest also yields the loop.
    settle = async () => {
      if (inFlight.length >= 4) await inFlight.shift();
      else await tick();
    };
    close = async () => {
      await Promise.allSettled(inFlight);
      await conn.close();
    };
  } else {
    const nc = await connectNatsJs("bench-pub-natsjs");
    publish = () => {
      for (let i = 0; i < CHUNK; i++) nc.publish(subject, events[published++ & MASK]);
    };
    settle = tick; // nats.js writes its outbound buffer when the loop turns
    close = () => nc.close();
  }
  let stopped = false;
  let waits = 0;
  try {
    await subscriber.ready;
    let failure;
    const loop = (async () => {
      while (!stopped && published < MAX_PUBLISH) {
        if (published - delivered > WINDOW) {
          waits++;
          await sleep(1);
          continue;
        }
        publish();
        await settle();
      }
    })().catch((error) => {
      failure = error;
      stopped = true;
    });
    await sleep(WARM_S * 1000);
    const a = await subscriber.mark();
    const cpu0 = process.cpuUsage();
    const snap0 = cpuSnapshot();
    const published0 = published;
    const t0 = performance.now();
    await sleep(RUN_S * 1000);
    const b = await subscriber.mark();
    const cpu1 = process.cpuUsage();
    const snap1 = cpuSnapshot();
    const seconds = (performance.now() - t0) / 1000;
    const publishedInWindow = published - published0;
    stopped = true;
    await loop;
    if (failure) throw failure;
    const subSeconds = Number(BigInt(b.ns) - BigInt(a.ns)) / 1e9;
    return {
      impl,
      msgsPerSec: (b.count - a.count) / subSeconds,
      publishedPerSec: publishedInWindow / seconds,
      avgBatch: (b.count - a.count) / Math.max(1, b.batches - a.batches),
      publisherCpuMs: cpuMs(cpu0, cpu1),
      subscriberCpuMs: cpuMs(a.cpu, b.cpu),
      ...cpuWindow(snap0, snap1),
      flowControlWaits: waits,
      seconds: subSeconds,
      load: load(),
    };
  } finally {
    stopped = true;
    await close().catch(() => undefined);
    await subscriber.stop();
  }
}

function rustBaseline(mode) {
  const binary = join(root, "target", "release", "examples", "nats_pubsub_baseline");
  if (!existsSync(binary)) return undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(
      binary,
      ["--mode", mode, "--warm", String(WARM_S), "--secs", String(RUN_S), "--port", String(NATS_PORT)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.set(child.pid, child);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), (WARM_S + RUN_S + 20) * 1000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      children.delete(child.pid);
      const line = out.trim().split("\n").at(-1);
      if (code === 0 && line) resolve({ ...JSON.parse(line), load: load() });
      else reject(new Error(`nats_pubsub_baseline --mode ${mode} exited ${code}: ${out}`));
    });
  });
}

async function rss(impl) {
  const subject = `bench.${process.pid}.rss.${impl}`;
  const child = forkChild(
    "rss.mjs",
    [impl, subject, String(RSS_RATE), String(RSS_WARM_S + RSS_S)],
    {},
    RSS_V8_FLAGS,
  );
  const done = child.next("done", (RSS_WARM_S + RSS_S + 30) * 1000);
  const result = await done;
  await Promise.race([new Promise((r) => child.child.once("exit", r)), sleep(3000)]);
  if (child.child.exitCode === null) process.kill(child.child.pid, "SIGKILL");
  children.delete(child.child.pid);
  const s = result.samples;
  const settled = s.filter((x) => x.t > RSS_WARM_S);
  const rssValues = settled.map((x) => x.rssMB);
  const half = Math.floor(settled.length / 2);
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    impl,
    samples: s,
    peakMB: Math.max(...s.map((x) => x.rssMB)),
    settledMinMB: Math.min(...rssValues),
    settledMaxMB: Math.max(...rssValues),
    driftMB: avg(rssValues.slice(half)) - avg(rssValues.slice(0, half)),
    deliveredPerSec: avg(settled.map((x) => x.deliveredPerSec)),
    published: result.published,
    delivered: result.delivered,
    errors: result.errors,
    throttled: result.throttled,
    load: load(),
  };
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const natsJsVersion = JSON.parse(
    readFileSync(join(root, "node_modules/nats/package.json"), "utf8"),
  ).version;
  const probe = await connectNatsJs("bench-probe");
  const serverVersion = probe.info?.version;
  await probe.close();
  let rustc = "";
  try {
    rustc = execFileSync("rustc", ["--version"], { encoding: "utf8" }).trim();
  } catch {}
  console.log(`# NATS engine bench ${QUICK ? "(quick)" : ""}`);
  console.log(
    `${new Date().toISOString()} | ${os.cpus().length} cores (${os.cpus()[0]?.model}) | Node ${process.version} | ` +
      `nats-server ${serverVersion} at ${NATS_URL} | nats.js ${natsJsVersion} | ${rustc} | load ${load()}`,
  );
  console.log(
    `payload: Catga envelope with a 256-byte ${process.env.BENCH_PAYLOAD === "json" ? "JSON (compressible)" : "random"} payload (${makeEnvelopes("event", "bench.event", 1)[0].length} B on the wire per message for both)`,
  );
  console.log(`windows: ${WARM_S}s warm-up + ${RUN_S}s measured; RSS ${RSS_S}s at ${fmt(RSS_RATE)} msgs/s\n`);
  const results = { rr: [], ps: [], rust: [], rss: [] };

  if (ONLY.includes("rr")) {
    console.log("## request/reply (responder in a child process)\n");
    console.log(
      "| client | concurrency | req/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | errors | client CPU ms | responder CPU ms | client+responder CPU µs/req | requests per responder handler call | server CPU ms | machine busy | load |",
    );
    console.log(
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    );
    for (const concurrency of CONCURRENCY) {
      for (const impl of IMPLS) {
        const r = await requestReply(impl, concurrency);
        results.rr.push(r);
        console.log(
          `| ${impl} | ${concurrency} | ${fmt(r.reqPerSec)} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.p999} | ${r.max} | ${r.errors} | ${r.clientCpuMs} | ${r.responderCpuMs} | ${perUnit(Number(r.clientCpuMs) + Number(r.responderCpuMs), r.reqPerSec * r.seconds)} | ${r.perBatch.toFixed(1)} | ${r.serverCpuMs} | ${r.machineBusy} | ${r.load} |`,
        );
      }
    }
    const c = results.rr.find((r) => r.impl === "catga" && r.concurrency === 64);
    const n = results.rr.find((r) => r.impl === "natsjs" && r.concurrency === 64);
    if (c && n) {
      const ratio = c.reqPerSec / n.reqPerSec;
      const ok = ratio >= 2 && c.p99 <= n.p99;
      console.log(
        `\nbar @64: Catga ≥ 2x nats.js req/s and p99 ≤ nats.js p99 → ${ratio.toFixed(2)}x, p99 ${c.p99} vs ${n.p99} µs: ${ok ? "MET" : "MISSED"}\n`,
      );
    }
  }

  if (ONLY.includes("ps")) {
    console.log(
      "## pub/sub (publisher here, subscriber in a child process; rate counted at the subscriber's handler)\n",
    );
    console.log(
      "| round | client | delivered msgs/s | published msgs/s | msgs per handler call | publisher CPU ms | subscriber CPU ms | pub CPU µs/msg | sub CPU µs/msg | server CPU ms | machine busy | flow-control waits | load |",
    );
    console.log("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    const ratios = [];
    for (let round = 1; round <= PS_ROUNDS; round++) {
      const rate = {};
      for (const impl of IMPLS) {
        const r = await pubSub(impl);
        results.ps.push(r);
        rate[impl] = r.msgsPerSec;
        console.log(
          `| ${round} | ${impl} | ${fmt(r.msgsPerSec)} | ${fmt(r.publishedPerSec)} | ${r.avgBatch.toFixed(1)} | ${r.publisherCpuMs} | ${r.subscriberCpuMs} | ${perUnit(r.publisherCpuMs, r.publishedPerSec * r.seconds)} | ${perUnit(r.subscriberCpuMs, r.msgsPerSec * r.seconds)} | ${r.serverCpuMs} | ${r.machineBusy} | ${r.flowControlWaits} | ${r.load} |`,
        );
      }
      if (rate.catga && rate.natsjs) ratios.push(rate.catga / rate.natsjs);
    }
    if (ratios.length > 0) {
      const ratio = median(ratios);
      console.log(
        `\nbar: Catga ≥ 3x nats.js msgs/s → ${ratio.toFixed(2)}x (median of ${ratios.length} rounds: ${ratios.map((x) => `${x.toFixed(2)}x`).join(", ")}): ${ratio >= 3 ? "MET" : "MISSED"}\n`,
      );
    }
  }

  if (ONLY.includes("rust")) {
    console.log(
      "## Rust async-nats ceiling (one process, publisher and subscriber on separate connections)\n",
    );
    const rows = [];
    for (const mode of ["plain", "framed", "framed-raw"]) {
      try {
        const r = await rustBaseline(mode);
        if (!r) {
          console.log(
            "(skipped: build it with `cargo build --release -p catga-core --example nats_pubsub_baseline`)\n",
          );
          break;
        }
        rows.push(r);
        results.rust.push(r);
      } catch (error) {
        console.error(String(error));
      }
    }
    if (rows.length > 0) {
      console.log("| mode | delivered msgs/s | published msgs/s | load |");
      console.log("| --- | ---: | ---: | --- |");
      for (const r of rows)
        console.log(`| ${r.mode} | ${fmt(r.msgs_per_sec)} | ${fmt(r.published_per_sec)} | ${r.load} |`);
      const catga = results.ps.filter((r) => r.impl === "catga").map((r) => r.msgsPerSec);
      if (catga.length > 0) {
        // Catga's median pub/sub rate over the rounds above.
        const rate = median(catga);
        for (const r of rows) {
          const share = rate / r.msgs_per_sec;
          console.log(
            `\nbar: Catga ≥ 50% of Rust ${r.mode} → ${(share * 100).toFixed(0)}%: ${share >= 0.5 ? "MET" : "MISSED"}`,
          );
        }
      }
      console.log("");
    }
  }

  if (ONLY.includes("rss")) {
    console.log(
      `## RSS at ${fmt(RSS_RATE)} msgs/s publish + consume in one fresh process (${RSS_V8_FLAGS.join(" ")}): ${RSS_WARM_S}s warm-up, then ${RSS_S}s measured\n`,
    );
    for (const impl of IMPLS) {
      const r = await rss(impl);
      results.rss.push(r);
      console.log(
        `${impl}: rss per second (MB): ${r.samples.map((s) => s.rssMB).join(" ")}\n` +
          `  delivered/s per second: ${r.samples.map((s) => s.deliveredPerSec).join(" ")}`,
      );
    }
    console.log(
      "\n| client | delivered msgs/s (avg, window) | peak RSS MB (whole run) | window min–max MB | drift 2nd half vs 1st MB (window) | heapUsed MB (last) | errors | load |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for (const r of results.rss) {
      console.log(
        `| ${r.impl} | ${fmt(r.deliveredPerSec)} | ${r.peakMB} | ${r.settledMinMB}–${r.settledMaxMB} | ${r.driftMB.toFixed(1)} | ${r.samples.at(-1)?.heapUsedMB} | ${r.errors} | ${r.load} |`,
      );
    }
    const c = results.rss.find((r) => r.impl === "catga");
    if (c) {
      const flat = Math.abs(c.driftMB) <= 5;
      console.log(
        `\nbar: Catga RSS ≤ 150 MB and flat at ${fmt(RSS_RATE)} msgs/s → peak ${c.peakMB} MB, drift ${c.driftMB.toFixed(1)} MB over the ${RSS_S}s window, ` +
          `${fmt(c.deliveredPerSec)} msgs/s delivered: ${c.peakMB <= 150 && flat && c.deliveredPerSec >= RSS_RATE * 0.95 ? "MET" : "MISSED"}`,
      );
    }
  }
  if (process.env.BENCH_JSON) console.log(`\nJSON ${JSON.stringify(results)}`);
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  killChildren();
}
process.exit();
