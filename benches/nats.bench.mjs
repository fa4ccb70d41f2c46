// NATS bench: what users call — Catga's public API (createCatga + natsTransport) on both sides —
// against what users would pick instead, on the same server in the same run, plus the Catga engine
// alone as a labelled ceiling.
//
//   npx tsup && npm run bench:nats [-- --quick] [--rounds=3] [--only=events,rr64,rr1,rust,rss,rr4,rr8]
//                                  [--impl=catga,natsjs,moleculer,nestjs,engine]
//   (--only=ps means events, --only=rr means rr64,rr1; --rounds defaults to 3, 1 with --quick)
//   CATGA_OPTS=<json> merges options into every Catga connection, user API and engine rows alike
//   (see benches/nats/common.mjs). Rust ceiling: cargo build --release -p catga-core --example
//   nats_pubsub_baseline first; the bench runs that binary when it exists (rust-ceiling.mjs).
//
// Implementations (bench-process side in benches/nats/clients/, child side in benches/nats/peers/):
//   catga      catga.publish(Event, payload) / catga.send(Command, payload) → handlers registered
//              with .handle() in a Catga service (MessagePack payloads in Catga envelopes)
//   natsjs     nats.js v2, raw bytes, `noAsyncTraces: true`: nc.publish / nc.request → a callback
//              that counts / msg.respond(msg.data). The floor: no encoding, no dispatch
//   moleculer  Moleculer 0.14, NATS transporter, CBOR serializer: broker.emit / broker.call → a
//              service's event handler / action
//   nestjs     NestJS 11 microservices, Transport.NATS, default JSON serializer: ClientProxy emit /
//              send → @EventPattern / @MessagePattern handlers (the Buffer travels as JSON numbers,
//              ~1 KB a message)
//   engine     "engine ceiling": NatsConnection.publish / request of pre-encoded ~330 B envelopes →
//              a subscriber that only counts / a responder returning pre-encoded replies
//              (benches/nats/subscriber.mjs, responder.mjs). A reference, not a headline
// Payload: { data: <256 random bytes> }, the same objects for every implementation (nats.js raw
// sends the Buffer itself); see benches/nats/payloads.mjs.
//
// Scenarios, each implementation in turn per round (A,B,C,D,E, then again), --rounds rounds; the
// tables give every round, the median of the rounds, and the median of the rounds' ratios to
// nats.js (this VM's speed drifts by ±15 % over tens of seconds, so a pair is only compared
// within its round):
// 1. events  publisher here, subscriber in a child process; msgs/s counted at the handler in the
//            child between two marks; the publisher holds off while more than a window of events
//            is undelivered (benches/nats/events.mjs). CPU per event on both sides.
// 2. rr64    request/reply, 64 in flight, responder in a child process: req/s, p50/p99 from an
//            HDR histogram of every request in the window (benches/nats/request-reply.mjs)
// 3. rr1     the same with 1 in flight: p50, p99, and CPU per request on both sides
//            (process.cpuUsage() here + the child's, reported over IPC, ÷ requests in the window)
// 4. rust    async-nats ceiling (crates/catga-core/examples/nats_pubsub_baseline.rs): plain (one
//            NATS message per envelope) and framed (CTG1 frames of ~16 KiB, what the engine sends)
// 5. rss     100K msgs/s publish + consume in one fresh process (benches/nats/rss.mjs), engine
//            and nats.js (envelope bytes): 20 s warm-up at the rate, then the 30 s window judged;
//            V8's young generation fixed at the size it settles on by itself
//            (benches/nats/rss-phase.mjs).
//
// Only 127.0.0.1 is targeted; every loop is bounded by time and count; every child is killed by
// PID on exit, error or signal (benches/nats/children.mjs). Subjects, prefixes and namespaces
// carry this process's PID (benches/nats/names.mjs), so other users of the server don't cross the
// bench's traffic (they do share its CPU: the load average is printed with each row).
//
// To see one side's cost alone: benches/nats/publisher-probe.mjs (publishes to nobody, or to a
// subject) and benches/nats/subscriber-probe.mjs print CPU per message of their own process.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { killChildren } from "./nats/children.mjs";
import * as catga from "./nats/clients/catga.mjs";
import * as engine from "./nats/clients/engine.mjs";
import * as moleculer from "./nats/clients/moleculer.mjs";
import * as natsjs from "./nats/clients/natsjs.mjs";
import * as nestjs from "./nats/clients/nestjs.mjs";
import { connectNatsJs, makeEnvelopes, NATS_URL, PAYLOAD_BYTES } from "./nats/common.mjs";
import { runEvents } from "./nats/events.mjs";
import { fmt, median, us } from "./nats/format.mjs";
import { load } from "./nats/machine.mjs";
import { makePayloads } from "./nats/payloads.mjs";
import { runRequestReply } from "./nats/request-reply.mjs";
import { runRssPhase } from "./nats/rss-phase.mjs";
import { runRustPhase } from "./nats/rust-ceiling.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const argv = process.argv.slice(2);
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const QUICK = argv.includes("--quick");
const ALIASES = { ps: ["events"], rr: ["rr64", "rr1"] };
const ONLY = (option("only") ?? "events,rr64,rr1,rust,rss").split(",").flatMap((s) => ALIASES[s] ?? [s]);
/** Column order of every table; --impl picks a subset (its order is ignored). */
const CLIENTS = { catga, natsjs, moleculer, nestjs, engine };
const picked = (option("impl") ?? Object.keys(CLIENTS).join(",")).split(",");
for (const name of picked) if (!CLIENTS[name]) throw new Error(`unknown --impl ${name}`);
const IMPLS = Object.keys(CLIENTS).filter((name) => picked.includes(name));
const WARM_S = QUICK ? 0.5 : 1;
const RUN_S = QUICK ? 2 : 5;
const ROUNDS = Number(option("rounds") ?? (QUICK ? 1 : 3));

const pkgVersion = (name) => {
  try {
    return JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
};

// ---------------------------------------------------------------------------------------------
// Scenarios: how to run one implementation once, how to print a round's row, which metrics the
// medians and the summary show (`better` says which way is good, for the reader).
const SCENARIOS = [
  {
    id: "events",
    title: "events to a trivial handler (publisher here, subscriber in a child process)",
    run: (client, ctx) => runEvents(client, ctx),
    columns: [
      "delivered msgs/s",
      "published msgs/s",
      "pub CPU µs/msg",
      "sub CPU µs/msg",
      "server CPU ms",
      "machine busy",
      "flow-control waits",
      "errors",
      "load",
    ],
    row: (r) => [
      fmt(r.msgsPerSec),
      fmt(r.publishedPerSec),
      us(r.pubCpuUsPerMsg),
      us(r.subCpuUsPerMsg),
      r.serverCpuMs,
      r.machineBusy,
      r.flowControlWaits,
      r.errors,
      r.load,
    ],
    metrics: [
      { name: "msgs/s", get: (r) => r.msgsPerSec, show: fmt, better: "higher" },
      {
        name: "CPU µs/event (pub + sub)",
        get: (r) => r.pubCpuUsPerMsg + r.subCpuUsPerMsg,
        show: us,
        better: "lower",
      },
    ],
  },
  // rr4 and rr8 (not in the default run: `--only=rr4,rr8`) show the low-concurrency regime where a
  // request made while others are in flight waits for the end of the event-loop turn.
  ...[64, 1, 4, 8].map((concurrency) => ({
    id: `rr${concurrency}`,
    title: `request/reply, ${concurrency} in flight (responder in a child process)`,
    run: (client, ctx) => runRequestReply(client, concurrency, ctx),
    columns: [
      "req/s",
      "p50 µs",
      "p90 µs",
      "p99 µs",
      "p99.9 µs",
      "max µs",
      "errors",
      "requester CPU µs/req",
      "responder CPU µs/req",
      "server CPU ms",
      "machine busy",
      "load",
    ],
    row: (r) => [
      fmt(r.reqPerSec),
      r.p50,
      r.p90,
      r.p99,
      r.p999,
      r.max,
      r.errors,
      us(r.clientCpuUsPerReq),
      us(r.responderCpuUsPerReq),
      r.serverCpuMs,
      r.machineBusy,
      r.load,
    ],
    metrics: [
      ...(concurrency > 1 ? [{ name: "req/s", get: (r) => r.reqPerSec, show: fmt, better: "higher" }] : []),
      { name: "p50 µs", get: (r) => r.p50, show: fmt, better: "lower" },
      { name: "p99 µs", get: (r) => r.p99, show: fmt, better: "lower" },
      {
        name: "CPU µs/req (requester + responder)",
        get: (r) => r.cpuUsPerReq,
        show: us,
        better: "lower",
      },
    ],
  })),
];

/** Median over the rounds of one implementation, and median of its per-round ratios to nats.js. */
function summarize(rounds, impl, metric) {
  const values = [];
  const ratios = [];
  for (const round of rounds) {
    const r = round[impl];
    if (!r) continue;
    values.push(metric.get(r));
    const base = round.natsjs;
    if (base && impl !== "natsjs" && metric.get(base) > 0) ratios.push(metric.get(r) / metric.get(base));
  }
  if (values.length === 0) return undefined;
  return { value: median(values), ratio: ratios.length > 0 ? median(ratios) : undefined, ratios };
}
const cell = (s, metric) =>
  s === undefined
    ? "—"
    : `${metric.show(s.value)}${s.ratio === undefined ? "" : ` (${s.ratio.toFixed(2)}×)`}`;

async function runScenario(scenario, ctx) {
  console.log(`## ${scenario.title}\n`);
  console.log(`| round | implementation | ${scenario.columns.join(" | ")} |`);
  console.log(`| ---: | --- |${scenario.columns.map((c) => (c === "load" ? " --- |" : " ---: |")).join("")}`);
  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const results = {};
    for (const impl of IMPLS) {
      try {
        results[impl] = await scenario.run(CLIENTS[impl], ctx);
        console.log(`| ${round} | ${CLIENTS[impl].label} | ${scenario.row(results[impl]).join(" | ")} |`);
      } catch (error) {
        console.log(`| ${round} | ${CLIENTS[impl].label} | failed: ${String(error?.message ?? error)} |`);
      }
    }
    rounds.push(results);
  }
  console.log(`\nmedian of ${ROUNDS} round(s) (× nats.js: median of the rounds' ratios)\n`);
  console.log(
    `| implementation | ${scenario.metrics.map((m) => `${m.name} (${m.better} is better)`).join(" | ")} |`,
  );
  console.log(`| --- |${scenario.metrics.map(() => " ---: |").join("")}`);
  for (const impl of IMPLS) {
    const cells = scenario.metrics.map((m) => cell(summarize(rounds, impl, m), m));
    console.log(`| ${CLIENTS[impl].label} | ${cells.join(" | ")} |`);
  }
  console.log("");
  return rounds;
}

// ---------------------------------------------------------------------------------------------
/** The median over rounds of `impl`'s metric divided by `base`'s in the same round. */
function ratioTo(rounds, impl, base, metric) {
  const ratios = [];
  for (const round of rounds) {
    const a = round[impl];
    const b = round[base];
    if (a && b && metric.get(b) > 0) ratios.push(metric.get(a) / metric.get(b));
  }
  return ratios.length > 0 ? median(ratios) : undefined;
}

const verdict = (met) => (met ? "MET" : "MISSED");

/**
 * The bars of issue 13 ("Speed where users are"), each read for the Catga user API against its
 * peers in the same rounds (medians of per-round ratios). A bar whose peers were not run is skipped.
 */
function printBars(rounds) {
  const lines = [];
  const has = (...impls) => impls.every((impl) => IMPLS.includes(impl));
  const metric = (id, name) => SCENARIOS.find((s) => s.id === id)?.metrics.find((m) => m.name === name);
  if (rounds.events && has("catga", "natsjs")) {
    const rate = metric("events", "msgs/s");
    const vsNats = ratioTo(rounds.events, "catga", "natsjs", rate);
    const vsEngine = has("engine") ? ratioTo(rounds.events, "catga", "engine", rate) : undefined;
    lines.push(
      `events: ≥ 1.5× nats.js raw → ${vsNats?.toFixed(2)}×: ${verdict(vsNats >= 1.5)}` +
        (vsEngine === undefined
          ? ""
          : `; ≥ 50 % of the engine ceiling → ${(100 * vsEngine).toFixed(0)} %: ${verdict(vsEngine >= 0.5)}`),
    );
  }
  if (rounds.rr64 && has("catga", "natsjs")) {
    const reqs = metric("rr64", "req/s");
    const p99 = metric("rr64", "p99 µs");
    const peers = ["natsjs", ...(has("moleculer") ? ["moleculer"] : [])];
    const vsNats = ratioTo(rounds.rr64, "catga", "natsjs", reqs);
    const vsMoleculer = has("moleculer") ? ratioTo(rounds.rr64, "catga", "moleculer", reqs) : undefined;
    const p99Ok = peers.every((peer) => ratioTo(rounds.rr64, "catga", peer, p99) <= 1);
    lines.push(
      `rr64: ≥ 1.5× nats.js req/s → ${vsNats?.toFixed(2)}×: ${verdict(vsNats >= 1.5)}` +
        (vsMoleculer === undefined
          ? ""
          : `; ≥ 2× moleculer → ${vsMoleculer.toFixed(2)}×: ${verdict(vsMoleculer >= 2)}`) +
        `; p99 ≤ ${peers.join(" and ")}: ${verdict(p99Ok)}`,
    );
  }
  if (rounds.rr1 && has("catga", "natsjs")) {
    const p50 = ratioTo(rounds.rr1, "catga", "natsjs", metric("rr1", "p50 µs"));
    const p99 = ratioTo(rounds.rr1, "catga", "natsjs", metric("rr1", "p99 µs"));
    const cpu = ratioTo(rounds.rr1, "catga", "natsjs", metric("rr1", "CPU µs/req (requester + responder)"));
    lines.push(
      `rr1: p50 ≤ 1.1× nats.js → ${p50?.toFixed(2)}×: ${verdict(p50 <= 1.1)}; p99 ≤ nats.js → ` +
        `${p99?.toFixed(2)}×: ${verdict(p99 <= 1)}; CPU/req ≤ nats.js → ${cpu?.toFixed(2)}×: ${verdict(cpu <= 1)}`,
    );
  }
  if (lines.length > 0)
    console.log(`## Bars (issue 13; Catga user API; medians of per-round ratios)\n\n${lines.join("\n")}\n`);
}

/** One Markdown table for benches/RESULTS.md: every scenario's metrics, × nats.js in brackets. */
function printSummary(rounds) {
  console.log("## Summary (medians; in brackets: × nats.js raw, median of the per-round ratios)\n");
  console.log(`| scenario | ${IMPLS.map((impl) => CLIENTS[impl].label).join(" | ")} |`);
  console.log(`| --- |${IMPLS.map(() => " ---: |").join("")}`);
  for (const scenario of SCENARIOS) {
    const scenarioRounds = rounds[scenario.id];
    if (!scenarioRounds) continue;
    for (const metric of scenario.metrics) {
      const cells = IMPLS.map((impl) => cell(summarize(scenarioRounds, impl, metric), metric));
      console.log(`| ${scenario.id}: ${metric.name} (${metric.better} is better) | ${cells.join(" | ")} |`);
    }
  }
  console.log("");
}

async function main() {
  const probe = await connectNatsJs("bench-probe");
  const serverVersion = probe.info?.version;
  await probe.close();
  let rustc = "";
  try {
    rustc = execFileSync("rustc", ["--version"], { encoding: "utf8" }).trim();
  } catch {}
  console.log(`# NATS bench: user APIs and the engine ceiling ${QUICK ? "(quick)" : ""}`);
  console.log(
    `${new Date().toISOString()} | ${os.cpus().length} cores (${os.cpus()[0]?.model}) | Node ${process.version} | ` +
      `nats-server ${serverVersion} at ${NATS_URL} | nats.js ${pkgVersion("nats")} | moleculer ${pkgVersion("moleculer")} ` +
      `(cbor-x ${pkgVersion("cbor-x")}) | @nestjs/microservices ${pkgVersion("@nestjs/microservices")} | ${rustc} | load ${load()}`,
  );
  console.log(
    `payload: { data: <${PAYLOAD_BYTES} random bytes> }, the same objects for every implementation (nats.js raw: the bytes alone; ` +
      `engine ceiling: pre-encoded envelopes of ${makeEnvelopes("event", "bench.event", 1)[0].length} B)`,
  );
  console.log(
    `windows: ${WARM_S}s warm-up + ${RUN_S}s measured per run; ${ROUNDS} round(s), order ${IMPLS.join(", ")}\n`,
  );
  const ctx = { warmS: WARM_S, runS: RUN_S, payloads: makePayloads() };
  const rounds = {};
  for (const scenario of SCENARIOS) {
    if (ONLY.includes(scenario.id)) rounds[scenario.id] = await runScenario(scenario, ctx);
  }
  if (ONLY.includes("rust")) {
    // The JS rows' median events rates, as shares of the Rust ceiling; the engine's is the bar.
    const rates = ["engine", "catga"].flatMap((impl) => {
      const rate = rounds.events && summarize(rounds.events, impl, SCENARIOS[0].metrics[0]);
      return rate ? [{ label: CLIENTS[impl].label, msgsPerSec: rate.value, bar: impl === "engine" }] : [];
    });
    await runRustPhase({ warmS: WARM_S, runS: RUN_S }, rates);
  }
  if (ONLY.includes("rss")) await runRssPhase(IMPLS, { quick: QUICK });
  printBars(rounds);
  printSummary(rounds);
  if (process.env.BENCH_JSON) console.log(`\nJSON ${JSON.stringify(rounds)}`);
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
