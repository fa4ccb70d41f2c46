// Observability overhead: in-process `send` with observability off vs on.
// Run: npm run build:ts && npm run bench:observability
// The bar (issue 6): with no OpenTelemetry SDK registered, `send` with observability on is at most
// 10% slower than with it off, and allocates nothing extra per message beyond what the API needs.
// Cases:
//   off                      - createCatga() as usual
//   on, no SDK (default)     - withObservability(builder): with no SDK registered it installs nothing
//   on, no SDK, forced       - withObservability(builder, { enabled: true }): the full hook + handler
//                              behavior runs over the no-op API (what a user pays before an SDK exists)
//   on, SDK (spans sampled)  - a BasicTracerProvider (no exporter work: NoopSpanProcessor) + MeterProvider
//   on, SDK, sampler off     - same with AlwaysOffSampler: metrics recorded, span context propagated, nothing recorded
// Each case is measured "per call" (one awaited op per tinybench sample, p50) and in a "tight loop"
// (100 awaited ops per sample, mean). Bytes/op: heapUsed growth over 20,000 sends with a 64 MB young
// generation (no scavenge in between), median of 7 runs; run with --expose-gc --max-semi-space-size=64.

import { loadavg } from "node:os";
import * as api from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { AlwaysOffSampler, BasicTracerProvider, NoopSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Bench } from "tinybench";
import { createCatga, defineCommand, silentLogger } from "../dist/index.js";
import { withObservability } from "../dist/observability.js";

const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1500);
const LOOP = 100;
const payload = { a: 1, b: 2 };
const add = async (p) => p.a + p.b;
const Add = defineCommand("math.add");

class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

const app = (builder) => builder.handle(Add, add).build();
const base = (preset) => createCatga({ logger: silentLogger, ...(preset ? { preset } : {}) });

function noSdk(preset) {
  const off = app(base(preset));
  // No SDK registered: "auto" finds none and installs nothing.
  const auto = app(withObservability(base(preset), { api }));
  const forced = app(withObservability(base(preset), { api, enabled: true }));
  return { off, auto, forced };
}

function withSdk(preset) {
  const off = app(base(preset));
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] });
  const meterProvider = new MeterProvider({ readers: [new Reader()] });
  const sdk = app(withObservability(base(preset), { api, tracerProvider, meterProvider }));
  const unsampled = app(
    withObservability(base(preset), {
      api,
      tracerProvider: new BasicTracerProvider({ sampler: new AlwaysOffSampler() }),
      meterProvider,
    }),
  );
  return { off, sdk, unsampled };
}

async function measure(cases, loop) {
  const bench = new Bench({ time: TIME_MS, warmupTime: 300 });
  for (const [name, catga] of Object.entries(cases)) {
    bench.add(
      name,
      loop === 1
        ? async () => {
            await catga.send(Add, payload);
          }
        : async () => {
            for (let i = 0; i < loop; i++) await catga.send(Add, payload);
          },
    );
  }
  await bench.run();
  return Object.fromEntries(
    bench.tasks.map((task) => [
      task.name,
      { mean: (task.result.period / loop) * 1e6, p50: (task.result.latency.p50 / loop) * 1e6 },
    ]),
  );
}

async function bytesPerOp(catga, count = 20_000, runs = 7) {
  const samples = [];
  for (let r = 0; r < runs; r++) {
    globalThis.gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < count; i++) await catga.send(Add, payload);
    const after = process.memoryUsage().heapUsed;
    samples.push((after - before) / count);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(runs / 2)];
}

async function phase(cases) {
  for (const [name, catga] of Object.entries(cases)) {
    if ((await catga.send(Add, payload)).unwrap() !== 3) throw new Error(`${name}: wrong sum`);
  }
  const perCall = await measure(cases, 1);
  const tight = await measure(cases, LOOP);
  const bytes = {};
  if (globalThis.gc) for (const [name, catga] of Object.entries(cases)) bytes[name] = await bytesPerOp(catga);
  return { perCall, tight, bytes };
}

const loadBefore = loadavg()[0];
// Phase 1, no SDK at all (no context manager either): the bar.
const bare = noSdk(undefined);
const production = noSdk("production");
const first = await phase({
  "send, off": bare.off,
  "send, on, no SDK (default auto)": bare.auto,
  "send, on, no SDK, forced (no-op API)": bare.forced,
  "production preset send, off": production.off,
  "production preset send, on, no SDK (default auto)": production.auto,
  "production preset send, on, no SDK, forced (no-op API)": production.forced,
});
// Phase 2, with an SDK: it needs a context manager (NodeSDK registers AsyncLocalStorage), which
// slows every promise in the process, so this phase has its own "off" baseline.
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const bareSdk = withSdk(undefined);
const productionSdk = withSdk("production");
const second = await phase({
  "send, off (context manager registered)": bareSdk.off,
  "send, on, SDK (spans sampled, no-op processor)": bareSdk.sdk,
  "send, on, SDK, sampler off (spans propagated, not recorded)": bareSdk.unsampled,
  "production preset send, off (context manager registered)": productionSdk.off,
  "production preset send, on, SDK (spans sampled)": productionSdk.sdk,
});
const loadAfter = loadavg()[0];
const perCall = { ...first.perCall, ...second.perCall };
const tight = { ...first.tight, ...second.tight };
const bytes = { ...first.bytes, ...second.bytes };
const cases = perCall;

const fmt = (n, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const lines = [
  `Node ${process.version}; load average ${fmt(loadBefore, 2)} at start, ${fmt(loadAfter, 2)} at end.`,
  "",
  "| case | per call: p50 ns | per call: mean ns | tight loop: ns/op | bytes/op |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...Object.keys(cases).map(
    (name) =>
      `| ${name} | ${fmt(perCall[name].p50)} | ${fmt(perCall[name].mean)} | ${fmt(tight[name].mean)} | ${
        bytes[name] === undefined ? "-" : fmt(bytes[name])
      } |`,
  ),
  "",
  "| bar: on / off (time), no SDK | target | per call (p50) | tight loop (mean) |",
  "| --- | :---: | ---: | ---: |",
];
for (const [label, prefix] of [
  ["send", "send"],
  ["production preset send", "production preset send"],
]) {
  for (const variant of ["on, no SDK (default auto)", "on, no SDK, forced (no-op API)"]) {
    const on = `${prefix}, ${variant}`;
    const off = `${prefix}, off`;
    const p = perCall[on].p50 / perCall[off].p50;
    const t = tight[on].mean / tight[off].mean;
    const verdict = (v) => `${fmt(v, 2)}x${v <= 1.1 ? "" : " (not met)"}`;
    lines.push(`| ${label}, ${variant} | <= 1.10 | ${verdict(p)} | ${verdict(t)} |`);
  }
}
console.log(lines.join("\n"));
