// Outbound batcher alone: what `NatsConnection.publish` costs in JS per envelope before the
// engine sees it (copy into the pooled batch buffers, offsets, subject index, the batch promise).
// The engine call is replaced by a flush that resolves at once, so only the batcher is timed.
//   npm run build:ts && node benches/nats/batcher.bench.mjs      (BENCH_TIME=ms, default 1500)
import { Bench } from "tinybench";
import { OutboundBatcher } from "../../dist/internal.js";
import { makeEnvelopes, POOL } from "./common.mjs";

const BATCH = 4096;
const MASK = POOL - 1;
const events = makeEnvelopes("event", "bench.event");
const batcher = new OutboundBatcher(() => Promise.resolve(), {
  maxMessages: BATCH,
  maxBytes: 1024 * 1024,
  maxDelayMs: 0,
  maxQueuedBytes: 64 * 1024 * 1024,
  policy: "wait",
});
let next = 0;
const bench = new Bench({ time: Number(process.env.BENCH_TIME ?? 1500), warmupTime: 500 });
bench.add(`publish ${BATCH} envelopes of ${events[0].length} B to one subject, then flush`, async () => {
  let last;
  for (let i = 0; i < BATCH; i++) last = batcher.add("bench.evt.OrderPlaced", events[next++ & MASK]);
  await last;
});
await bench.run();
for (const task of bench.tasks) {
  const meanMs = task.result.latency.mean;
  console.log(
    `${task.name}: ${((meanMs * 1e6) / BATCH).toFixed(1)} ns per envelope (${task.result.latency.samplesCount} samples, ±${task.result.latency.rme.toFixed(1)} %)`,
  );
}
