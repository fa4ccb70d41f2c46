// Chaos suite of issue 19, first slice: steady load on flow (b) (HTTP → command over NATS →
// reply) with TWO service instances in one queue group, while one of them is killed (SIGKILL),
// restarted, then starved (SIGSTOP/SIGCONT cycles). Measured per fault: the time with errors as
// clients saw it (100 ms buckets holding a non-2xx answer or a socket error), and p99 of the 2xx.
//
//   npx tsup && npm run chaos:instance [-- --rate=1000] [--out=benches/reports] [--tiny]
//   (`npm run chaos` runs this suite, then benches/chaos-orders.mjs)
//
// Timeline (normal run, 22 s): steady from 0 s; 4 s kill -9 of instance B (A serves on); 9 s B
// restarted; 13–16 s three cycles of B stopped 400 ms / running 600 ms; 17 s B stopped 1.5 s,
// longer than the reply timeout (a hung instance keeps its subscription: the requests routed to
// it fail); load ends at 22 s. --tiny runs it in 8 s with one stop cycle and no hang. The gateway is benches/stress/gateway.mjs without a rate
// limit and with a 1 s reply timeout: a request the killed instance had taken is answered 503
// (CATGA_TIMEOUT mapped) a second later. The machine's nats-server (NATS_URL, loopback); writes
// chaos.json, chaos.md and chaos.svg to --out; exits 1 when a check fails. The other faults of
// the issue (kill -9 of one node of a 3-node NATS cluster, latency and resets through a TCP proxy
// on the path to NATS) and zero lost orders checked in PostgreSQL are benches/chaos-orders.mjs.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { latencyHistogramSvg } from "./stress/histogram-svg.mjs";
import { start, stop } from "./stress/processes.mjs";
import { timelineSvg } from "./stress/svg.mjs";
import { Timeline } from "./stress/timeline.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const flag = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const tiny = process.argv.includes("--tiny");
const rate = Number(flag("rate") ?? (tiny ? 400 : 1000));
const out = flag("out") ?? join(here, "reports");
const REQUEST_TIMEOUT_MS = 1000;
/** Seconds from the start of the load: the faults, then the end of the load. */
const plan = tiny
  ? { kill: 2, restart: 4, stops: [5.5], hang: undefined, end: 8 }
  : { kill: 4, restart: 9, stops: [13, 14, 15], hang: 17, end: 22 };
const STOPPED_MS = 400;
/** A stop longer than the reply timeout: the requests routed to B meanwhile fail (503). */
const HUNG_MS = 1500;
if (!(rate >= 10 && rate <= 20_000)) {
  console.error("--rate must be in [10, 20000] req/s");
  process.exit(2);
}
if (!existsSync(join(here, "..", "dist", "fastify.js"))) {
  console.error("dist/fastify.js is missing: run `npx tsup` first");
  process.exit(2);
}
const servers = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const prefix = `chaos${process.pid}`;
const serviceScript = join(here, "load", "service.mjs");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const timeline = new Timeline(100);
const marks = [];
const faults = [];
const instances = {};
let gateway;
/** Commands an instance has handled so far (asked over IPC). */
const handledBy = (instance) =>
  new Promise((resolve) => {
    instance.child.once("message", (message) => resolve(message.handled));
    instance.child.send("handled");
  });
const handled = {};
const at = (origin, seconds) => sleep(Math.max(0, origin + seconds * 1000 - timeline.now()));

/** The fault script, run next to the load; `origin` is the timeline time the load started. */
async function inject(origin) {
  await at(origin, plan.kill - 0.05);
  handled.bBeforeKill = await handledBy(instances.b);
  await at(origin, plan.kill);
  const killedAt = timeline.now();
  instances.b.child.kill("SIGKILL");
  marks.push({ t: killedAt / 1000, label: "kill -9 B", color: "#d22" });
  faults.push({ name: "kill -9 of instance B (A serves on)", fromMs: killedAt });

  await at(origin, plan.restart);
  const restartFrom = timeline.now();
  instances.b = await start(serviceScript, [servers, prefix]);
  const restartedAt = timeline.now();
  marks.push({ t: restartedAt / 1000, label: "B back", color: "#2a7" });
  faults.push({
    name: `restart of B (ready ${Math.round(restartedAt - restartFrom)} ms after fork)`,
    fromMs: restartFrom,
  });

  for (const [index, seconds] of plan.stops.entries()) {
    await at(origin, seconds);
    const stoppedAt = timeline.now();
    instances.b.child.kill("SIGSTOP");
    marks.push({ t: stoppedAt / 1000, label: index === 0 ? "SIGSTOP B" : "", color: "#e80" });
    if (index === 0) {
      faults.push({
        name: `${plan.stops.length} × SIGSTOP ${STOPPED_MS} ms / SIGCONT of B`,
        fromMs: stoppedAt,
      });
    }
    await sleep(STOPPED_MS);
    instances.b.child.kill("SIGCONT");
  }

  if (plan.hang === undefined) return;
  await at(origin, plan.hang);
  const hungAt = timeline.now();
  instances.b.child.kill("SIGSTOP");
  marks.push({ t: hungAt / 1000, label: `B hung ${HUNG_MS / 1000} s`, color: "#d22" });
  faults.push({ name: `SIGSTOP of B for ${HUNG_MS} ms (longer than the reply timeout)`, fromMs: hungAt });
  await sleep(HUNG_MS);
  instances.b.child.kill("SIGCONT");
}

let injected;
let origin;
try {
  instances.a = await start(serviceScript, [servers, prefix]);
  instances.b = await start(serviceScript, [servers, prefix]);
  const config = { servers, prefix, rateLimit: 0, maxInFlight: 4096, requestTimeoutMs: REQUEST_TIMEOUT_MS };
  gateway = await start(join(here, "stress", "gateway.mjs"), [JSON.stringify(config)]);
  const url = `http://127.0.0.1:${gateway.message.port}/orders`;
  origin = timeline.now();
  marks.push({ t: origin / 1000, label: "steady" });
  const connections = Math.min(1000, Math.max(8, Math.ceil(rate / 25)));
  const load = timeline.load(url, { connections, rate, seconds: plan.end });
  injected = inject(origin);
  await Promise.all([load, injected]);
} finally {
  instances.b?.child.kill("SIGCONT");
}
handled.a = await handledBy(instances.a);
handled.bAfterRestart = await handledBy(instances.b);
const alive = {
  gateway: gateway.child.exitCode === null,
  a: instances.a.child.exitCode === null,
  b: instances.b.child.exitCode === null,
};
await Promise.all([stop(gateway.child), stop(instances.a.child), stop(instances.b.child)]);

// Per fault: from it to the next one (the last to the end of the load).
const endMs = timeline.now();
const baseline = timeline.totals(origin + 1000, faults[0].fromMs);
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const rows = faults.map((fault, index) => {
  const toMs = faults[index + 1]?.fromMs ?? endMs;
  const buckets = timeline.buckets.filter((b) => b.t + timeline.bucketMs > fault.fromMs && b.t < toMs);
  const bad = buckets.filter((b) => b.rejected + b.failed > 0);
  const totals = timeline.totals(fault.fromMs - timeline.bucketMs, toMs);
  return {
    name: fault.name,
    atS: Math.round(fault.fromMs) / 1000,
    failedAnswers: totals.rejected + totals.failed,
    errorMs: bad.length * timeline.bucketMs,
    firstErrorAfterMs: bad.length ? Math.max(0, Math.round(bad[0].t - fault.fromMs)) : undefined,
    lastErrorAfterMs: bad.length ? Math.round(bad.at(-1).t + timeline.bucketMs - fault.fromMs) : undefined,
    ok: totals.ok,
    p99ok: totals.p99 === undefined ? undefined : Math.round(totals.p99 * 10) / 10,
    maxOk: totals.max === undefined ? undefined : Math.round(totals.max),
  };
});
const lastTwoSeconds = timeline.totals(endMs - 2500, endMs - 500);
const kill = rows[0];
const checks = {
  "no crash (gateway and instance A alive; B alive after its restart)": alive.gateway && alive.a && alive.b,
  "kill -9 of one of two instances: time with errors < 1 s": kill.errorMs < 1000,
  "both instances served (B before its kill and after its restart)":
    handled.bBeforeKill > 0 && handled.bAfterRestart > 0,
  "every 503 carries Retry-After": timeline.missingRetryAfter === 0,
  "recovered: no failure in the last 2 s of load": lastTwoSeconds.rejected + lastTwoSeconds.failed === 0,
};
const report = {
  suite: "chaos",
  date: new Date().toISOString(),
  node: process.version,
  rate,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  baseline: { okPerSecond: baseline.ok / ((faults[0].fromMs - origin - 1000) / 1000), p99ok: baseline.p99 },
  handled,
  faults: rows,
  statuses: timeline.statuses,
  missingRetryAfter: timeline.missingRetryAfter,
  checks,
};
const series = timeline.series();
// Rates plotted as 500 ms moving averages: autocannon sends in bursts (Timeline.load), which
// makes single 100 ms buckets swing between 0 and several times the rate.
const smooth = (pick) =>
  series.map((b, i) => {
    const window = series.slice(Math.max(0, i - 2), i + 3);
    return [b.t, window.reduce((sum, w) => sum + pick(w), 0) / window.length];
  });
const svg = timelineSvg({
  title: `Chaos, flow (b), two service instances, ${fmt(rate)} req/s offered: kill -9, restart, SIGSTOP/SIGCONT`,
  seconds: Math.ceil(endMs / 1000),
  marks,
  panels: [
    {
      label: "answers per second (500 ms moving average)",
      series: [
        { name: "2xx", color: "#2a7", points: smooth((b) => b.ok) },
        { name: "503", color: "#e80", points: smooth((b) => b.rejected) },
        { name: "other failures", color: "#d22", points: smooth((b) => b.failed) },
      ],
    },
    {
      label: "p99 of 2xx (ms, per 100 ms)",
      series: [{ name: "p99", color: "#36c", points: series.map((b) => [b.t, b.p99]) }],
    },
  ],
});
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "chaos.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(out, "chaos.svg"), svg);
writeFileSync(
  join(out, "chaos-latency.svg"),
  latencyHistogramSvg({
    title: `Chaos, flow (b): latency of the 2xx answers, ${fmt(rate)} req/s offered`,
    subtitle: `${report.date.slice(0, 16).replace("T", " ")} UTC, two service instances, gateway reply timeout ${REQUEST_TIMEOUT_MS} ms`,
    series: [
      { name: "before the first fault", latencies: timeline.latencies(origin, faults[0].fromMs) },
      { name: "from the first fault on", latencies: timeline.latencies(faults[0].fromMs, endMs) },
    ],
  }),
);
const table = [
  "| fault | at s | failed answers | time with errors ms | first / last error after the fault ms | 2xx until next fault | p99 / max of 2xx ms |",
  "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.atS.toFixed(1)} | ${r.failedAnswers} | ${r.errorMs} | ${r.firstErrorAfterMs ?? "–"} / ${r.lastErrorAfterMs ?? "–"} | ${fmt(r.ok)} | ${r.p99ok ?? "–"} / ${r.maxOk ?? "–"} |`,
  ),
];
const baselineP99 = baseline.p99 === undefined ? "–" : baseline.p99.toFixed(1);
writeFileSync(
  join(out, "chaos.md"),
  [
    `# Chaos run ${report.date}`,
    "",
    `Commands handled: A ${fmt(handled.a)}, B ${fmt(handled.bBeforeKill)} before its kill and ${fmt(handled.bAfterRestart)} after its restart.`,
    "",
    `${fmt(rate)} req/s offered; before the first fault ${fmt(report.baseline.okPerSecond)} req/s 2xx, p99 ${baselineP99} ms; gateway reply timeout ${REQUEST_TIMEOUT_MS} ms.`,
    "",
    "![throughput and p99 over time, faults marked](chaos.svg)",
    "",
    "![latency histogram of the 2xx answers, before and during the faults](chaos-latency.svg)",
    "",
    ...table,
    "",
    ...Object.entries(checks).map(([name, ok]) => `- ${ok ? "pass" : "FAIL"}: ${name}`),
    "",
  ].join("\n"),
);
console.log(`node ${process.version}; ${fmt(rate)} req/s offered; baseline p99 ${baselineP99} ms`);
console.log(`handled: ${JSON.stringify(handled)}`);
console.log(`\n${table.join("\n")}\n`);
for (const [name, ok] of Object.entries(checks)) console.log(`${ok ? "pass" : "FAIL"}: ${name}`);
console.log(`report: ${join(out, "chaos.md")}`);
if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
