// Shared by batch.test.ts (context manager registered) and no-context-manager.test.ts (none):
// several events published in one tick from one service reach another as one NATS batch, and
// the receiver's handler spans and `catga.transport.batch.size` say so.

import type { Histogram } from "@opentelemetry/sdk-metrics";
import { expect } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { MetricNames, withObservability } from "../../ts/entries/observability.js";
import { createCatga, defineEvent, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";
import { api, telemetry } from "./helpers.js";

const Shipped = defineEvent("parcel.shipped").payload<{ n: number }>();

export async function batchScenario(options: { contextManager: boolean }): Promise<void> {
  const COUNT = 20;
  const t = telemetry(options);
  const prefix = uniquePrefix("batch");
  const senderTransport = await natsTransport({ servers: NATS_URL, service: "orders", prefix });
  const receiverTransport = await natsTransport({ servers: NATS_URL, service: "shipping", prefix });
  // What the engine really delivered: one entry per inbound batch (the test's own record).
  const batches: number[] = [];
  const stopWatching = receiverTransport.connection.observeBatches((size) => batches.push(size));
  let handled = 0;
  const receiver = withObservability(createCatga({ logger: silentLogger, transport: receiverTransport }), {
    api,
    tracerProvider: t.tracerProvider,
    meterProvider: t.meterProvider,
  })
    .handle(Shipped, function onShipped() {
      handled++;
    })
    .build();
  const sender = createCatga({ logger: silentLogger, transport: senderTransport }).build();
  try {
    await receiverTransport.ready();
    // One tick: the sender's batcher puts them in one frame, delivered to the receiver together.
    const published = Array.from({ length: COUNT }, (_, n) => sender.publish(Shipped, { n }));
    for (const result of await Promise.all(published)) result.unwrap();
    await senderTransport.connection.flush();
    await until(() => handled === COUNT, 5000, "events handled");
    const processSpans = () => t.spans().filter((s) => s.name === "process parcel.shipped");
    await until(() => processSpans().length === COUNT, 5000, "handler spans");

    expect(batches.reduce((a, b) => a + b, 0)).toBe(COUNT);
    expect(batches.some((size) => size > 1)).toBe(true);
    const spans = processSpans();
    const counts = spans.map((s) => s.attributes["catga.batch.size"]);
    // Each span covers one message: OTel reserves messaging.batch.message_count for batch spans.
    for (const span of spans) expect(span.attributes).not.toHaveProperty("messaging.batch.message_count");
    expect(counts.some((c) => typeof c === "number" && c > 1)).toBe(true);
    // Each batch of k > 1 gives k spans carrying k; a batch of one gives a span without it.
    const sizes = new Set(batches);
    for (const size of sizes) {
      const expected = batches.filter((b) => b === size).length * size;
      const carrying = size > 1 ? counts.filter((c) => c === size) : counts.filter((c) => c === undefined);
      expect(carrying.length, `spans for batches of ${size}`).toBe(expected);
    }
    for (const c of counts) expect(c === undefined || sizes.has(c as number)).toBe(true);

    // The histogram: one record per inbound batch, envelopes per batch.
    const points = await t.points(MetricNames.transportBatchSize);
    expect(points).toHaveLength(1);
    expect(points[0]!.attributes["messaging.system"]).toBe("nats");
    const histogram = points[0]!.value as Histogram;
    expect(histogram.count).toBe(batches.length);
    expect(histogram.sum).toBe(COUNT);
    expect(histogram.max).toBe(Math.max(...batches));
  } finally {
    stopWatching();
    await Promise.all([sender.close(), receiver.close()]);
    await t.shutdown();
  }
}
