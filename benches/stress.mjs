// Stress suite of issue 19: flow (b) (HTTP → command over NATS to a service process → reply)
// driven from below saturation to ~5x it. The gateway (benches/stress/gateway.mjs) must shed what
// it cannot serve — 503 with Retry-After — instead of queueing without bound, keep its RSS and the
// service's bounded, not crash, and serve normally again within seconds once the load drops.
//
//   npx tsup && npm run stress [-- --step=4] [--calibrate=3] [--out=benches/reports] [--tiny]
//   (--tiny: steps 0.5, 2, 5 S and the drop, 1.25 s each, 1 s of calibration)
//
// 1. Calibration: the gateway without a rate limit, 64 connections as fast as they go: its
//    saturation S (req/s answered). 2. The gateway restarted with a global rate limit at 0.9 S
//    (Retry-After from the bucket), at most 256 requests awaiting a reply (CATGA_BACKPRESSURE past
//    it) and a 1 s reply timeout (503 too). 3. Steps of offered load at 0.25, 0.5, 1, 2, 3 and 5 S
//    (autocannon `overallRate`, one connection per 25 req/s, 10–1000), then back to 0.25 S.
// The machine's nats-server (NATS_URL, loopback). Writes stress.json, stress.md and stress.svg to
// --out. Exits 1 when an invariant fails (listed at the end). Every process it starts is stopped.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { latencyHistogramSvg } from "./stress/histogram-svg.mjs";
import { rssMiB, start, stop } from "./stress/processes.mjs";
import { timelineSvg } from "./stress/svg.mjs";
import { Timeline } from "./stress/timeline.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const flag = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const tiny = process.argv.includes("--tiny");
const stepSeconds = Number(flag("step") ?? (tiny ? 1.25 : 4));
const calibrateSeconds = Number(flag("calibrate") ?? (tiny ? 1 : 3));
const out = flag("out") ?? join(here, "reports");
// --tiny (the smoke test): fewer, shorter steps.
const MULTIPLES = tiny ? [0.5, 2, 5] : [0.25, 0.5, 1, 2, 3, 5];
const RECOVERY_MULTIPLE = 0.25;
const RSS_BOUND_MIB = 1024;
if (!(stepSeconds >= 1 && stepSeconds <= 8) || !(calibrateSeconds > 0 && calibrateSeconds <= 8)) {
  console.error("--step must be in [1, 8] s, --calibrate in (0, 8] s");
  process.exit(2);
}
if (!existsSync(join(here, "..", "dist", "fastify.js"))) {
  console.error("dist/fastify.js is missing: run `npx tsup` first");
  process.exit(2);
}
const servers = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const prefix = `stress${process.pid}`;

// 500 ms buckets; 250 in --tiny, whose steps are too short for more than one.
const timeline = new Timeline(tiny ? 250 : 500);
const marks = [];
const rss = { gateway: [], service: [] };
let gateway;
let service;
const sampler = setInterval(() => {
  const t = timeline.now() / 1000;
  if (gateway) rss.gateway.push([t, rssMiB(gateway.child.pid)]);
  if (service) rss.service.push([t, rssMiB(service.child.pid)]);
}, 250);

async function startGateway(rateLimit) {
  const config = { servers, prefix, rateLimit, maxInFlight: 256, requestTimeoutMs: 1000 };
  gateway = await start(join(here, "stress", "gateway.mjs"), [JSON.stringify(config)]);
  gateway.url = `http://127.0.0.1:${gateway.message.port}/orders`;
}

const steps = [];
async function step(label, multiple, saturation) {
  const rate = Math.round(multiple * saturation);
  const connections = Math.min(1000, Math.max(10, Math.ceil(rate / 25)));
  const from = timeline.now();
  marks.push({ t: from / 1000, label });
  const result = await timeline.load(gateway.url, { connections, rate, seconds: stepSeconds });
  const to = timeline.now();
  // Rates over the window where all four staggered load instances run (see Timeline.load), in whole
  // seconds when the step has them: each instance sends its quota once per second of its own, so a
  // whole-second window holds each quota once (a 2.75 s window held some three times: 2xx per
  // second came out above the offered rate). Steps under 2.25 s (--tiny's, a short --step) are
  // too short for that: their rates are rough.
  const whole = Math.floor((stepSeconds * 1000 - 750 - timeline.bucketMs) / 1000) * 1000;
  const windowMs =
    whole >= 1000 ? whole : Math.max(timeline.bucketMs, stepSeconds * 1000 - 750 - timeline.bucketMs);
  const inWindow = timeline.totals(from + 750, from + 750 + windowMs);
  const seconds = Math.max(inWindow.seconds, timeline.bucketMs / 1000);
  const inStep = timeline.totals(from, to + 250);
  const rssIn = (points) => points.filter(([t]) => t * 1000 >= from && t * 1000 <= to).map(([, v]) => v ?? 0);
  const row = {
    label,
    multiple,
    offered: rate,
    connections,
    ok: inWindow.ok / seconds,
    rejected503: inWindow.rejected / seconds,
    count503: inStep.rejected,
    failures: inStep.failed,
    socketErrors: result.errors + result.timeouts,
    p99ok: inWindow.p99 === undefined ? undefined : Math.round(inWindow.p99 * 10) / 10,
    p50: result.p50,
    p99: result.p99,
    gatewayRssMiB: Math.max(0, ...rssIn(rss.gateway)),
    serviceRssMiB: Math.max(0, ...rssIn(rss.service)),
    fromMs: from,
    toMs: to,
  };
  steps.push(row);
  console.log(
    `${label.padEnd(6)} offered ${fmt(rate).padStart(6)} req/s (${connections} conn)  2xx ${fmt(row.ok).padStart(6)}/s  503 ${fmt(row.rejected503).padStart(6)}/s  failures ${row.failures}  p99 of 2xx ${row.p99ok} ms, of all p50 ${row.p50} p99 ${row.p99} ms  RSS gateway ${row.gatewayRssMiB.toFixed(0)} MiB, service ${row.serviceRssMiB.toFixed(0)} MiB`,
  );
  return row;
}
const fmt = (n) => Math.round(n).toLocaleString("en-US");

let saturation;
try {
  service = await start(join(here, "load", "service.mjs"), [servers, prefix]);
  await startGateway(0);
  marks.push({ t: timeline.now() / 1000, label: "calibrate" });
  const calibrationFrom = timeline.now();
  const calibration = await timeline.load(gateway.url, {
    connections: 64,
    rate: 0,
    seconds: calibrateSeconds,
  });
  const calibrated = timeline.totals(calibrationFrom + 250, timeline.now() - timeline.bucketMs);
  saturation = calibrated.ok / Math.max(calibrated.seconds, timeline.bucketMs / 1000);
  console.log(
    `node ${process.version}; saturation S (64 connections, no limit): ${fmt(saturation)} req/s, p99 ${calibration.p99} ms`,
  );
  await stop(gateway.child);
  gateway = undefined;
  await startGateway(Math.round(0.9 * saturation));
  for (const multiple of MULTIPLES) await step(`${multiple}x`, multiple, saturation);
  await step("drop", RECOVERY_MULTIPLE, saturation);
} finally {
  clearInterval(sampler);
}
const alive = { gateway: gateway.child.exitCode === null, service: service.child.exitCode === null };
await stop(gateway.child);
await stop(service.child);

// Recovery: from the drop to the last bucket with a 503 or a failure (0 when there was none).
const recovery = steps.at(-1);
const lastBad = timeline.buckets.filter(
  (b) => b.t >= recovery.fromMs && b.t < recovery.toMs && b.rejected + b.failed > 0,
);
const recoveryMs = lastBad.length === 0 ? 0 : lastBad.at(-1).t + timeline.bucketMs - recovery.fromMs;
// The knee: the last step that still answered ≥ 95 % of what was offered with 2xx.
const served = steps.slice(0, MULTIPLES.length).filter((s) => s.ok >= 0.95 * s.offered);
const knee = served.at(-1);
const overload = steps.filter((s) => s.multiple >= 2 && s.label !== "drop");
const checks = {
  "no crash (gateway and service alive at the end)": alive.gateway && alive.service,
  "every 503 carries Retry-After": timeline.missingRetryAfter === 0,
  "no answer other than 2xx and 503": Object.keys(timeline.statuses).every((status) => status === "503"),
  "overload is shed with 503 (≥ 2x steps)": overload.every((s) => s.count503 > 0),
  [`RSS bounded (< ${RSS_BOUND_MIB} MiB each)`]: steps.every(
    (s) => s.gatewayRssMiB < RSS_BOUND_MIB && s.serviceRssMiB < RSS_BOUND_MIB,
  ),
  "recovered: no 503 nor failure in the second half of the drop step":
    recoveryMs <= (stepSeconds * 1000) / 2 && recovery.failures === 0 && recovery.socketErrors === 0,
};

const report = {
  suite: "stress",
  date: new Date().toISOString(),
  node: process.version,
  stepSeconds,
  saturation,
  rateLimit: Math.round(0.9 * saturation),
  plateau: Math.max(...steps.map((s) => s.ok)),
  knee: knee && { label: knee.label, offered: knee.offered, ok: knee.ok, p99ok: knee.p99ok },
  recoveryMs,
  statuses: timeline.statuses,
  retryAfterValues: [...timeline.retryAfterValues],
  missingRetryAfter: timeline.missingRetryAfter,
  steps,
  checks,
};
const series = timeline.series();
const svg = timelineSvg({
  title: `Stress, flow (b): saturation S ≈ ${fmt(saturation)} req/s, rate limit 0.9 S, steps to 5 S and back`,
  seconds: Math.ceil(timeline.now() / 1000),
  marks,
  panels: [
    {
      label: "answers per second",
      series: [
        {
          name: "offered",
          color: "#bbb",
          points: steps.flatMap((s) => [
            [s.fromMs / 1000, s.offered],
            [s.toMs / 1000, s.offered],
            [s.toMs / 1000, undefined],
          ]),
        },
        { name: "2xx", color: "#2a7", points: series.map((b) => [b.t, b.ok]) },
        { name: "503 + Retry-After", color: "#e80", points: series.map((b) => [b.t, b.rejected]) },
        { name: "failures", color: "#d22", points: series.map((b) => [b.t, b.failed]) },
      ],
    },
    {
      label: "p99 of 2xx (ms)",
      series: [{ name: "p99", color: "#36c", points: series.map((b) => [b.t, b.p99]) }],
    },
    {
      label: "RSS (MiB)",
      series: [
        { name: "gateway", color: "#85c", points: rss.gateway },
        { name: "service", color: "#999", points: rss.service },
      ],
    },
  ],
});
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "stress.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(out, "stress.svg"), svg);
writeFileSync(
  join(out, "stress-latency.svg"),
  latencyHistogramSvg({
    title: "Stress, flow (b): latency of the 2xx answers per step",
    subtitle: `${report.date.slice(0, 16).replace("T", " ")} UTC, saturation S ≈ ${fmt(saturation)} req/s, rate limit 0.9 S`,
    series: steps.map((s) => ({
      name: `${s.label} (${fmt(s.offered)} req/s offered)`,
      latencies: timeline.latencies(s.fromMs, s.toMs),
    })),
  }),
);
const table = [
  "| step | offered req/s | connections | 2xx req/s | 503/s | failures | p99 of 2xx ms | p50 / p99 of all answers ms | RSS gateway / service MiB |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...steps.map(
    (s) =>
      `| ${s.label} | ${fmt(s.offered)} | ${s.connections} | ${fmt(s.ok)} | ${fmt(s.rejected503)} | ${s.failures} | ${s.p99ok ?? "–"} | ${s.p50} / ${s.p99} | ${s.gatewayRssMiB.toFixed(0)} / ${s.serviceRssMiB.toFixed(0)} |`,
  ),
];
const summary = [
  `# Stress run ${report.date}`,
  "",
  `Saturation S ≈ ${fmt(saturation)} req/s (64 connections, no limit); gateway rate limit ${fmt(report.rateLimit)} req/s; steps of ${stepSeconds} s. Plateau of 2xx: ${fmt(report.plateau)} req/s. Knee (last step served ≥ 95 % with 2xx): ${knee ? `${knee.label} (${fmt(knee.ok)} req/s 2xx, p99 of 2xx ${knee.p99ok} ms)` : "below the first step"}; recovery after the drop: ${recoveryMs} ms.`,
  "",
  "![throughput, p99 and RSS over time](stress.svg)",
  "",
  "![latency histogram of the 2xx answers per step](stress-latency.svg)",
  "",
  ...table,
  "",
  ...Object.entries(checks).map(([name, ok]) => `- ${ok ? "pass" : "FAIL"}: ${name}`),
  "",
];
writeFileSync(join(out, "stress.md"), summary.join("\n"));
console.log(`\n${table.join("\n")}\n`);
console.log(`knee: ${report.knee ? JSON.stringify(report.knee) : "none"}; recovery ${recoveryMs} ms`);
for (const [name, ok] of Object.entries(checks)) console.log(`${ok ? "pass" : "FAIL"}: ${name}`);
console.log(`report: ${join(out, "stress.md")}`);
if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
