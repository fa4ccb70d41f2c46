// `observeNats`: every connection one instance observes is reported as one series per metric,
// their counters summed (not the last connection's numbers replacing the others').
import type { Histogram } from "@opentelemetry/sdk-metrics";
import { afterEach, describe, expect, it } from "vitest";
import { type NatsStats, natsTransport } from "../../ts/entries/nats.js";
import { CatgaObservability, MetricNames } from "../../ts/entries/observability.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";
import { api, type Telemetry, telemetry } from "./helpers.js";

/** A connection whose counters the test sets, and which can close (stats() then throws). */
class FakeConnection {
  closed = false;
  private listeners = new Set<(size: number) => void>();
  constructor(public counts: Partial<NatsStats>) {}
  stats(): NatsStats {
    if (this.closed) throw new Error("closed");
    return {
      messagesSent: 0,
      framesSent: 0,
      bytesSent: 0,
      bytesBeforeCompression: 0,
      messagesReceived: 0,
      framesReceived: 0,
      batchesDelivered: 0,
      malformedReceived: 0,
      requests: 0,
      requestFailures: 0,
      backpressureWaits: 0,
      backpressureRejections: 0,
      reconnects: 0,
      framesDropped: 0,
      ...this.counts,
    };
  }
  observeBatches(listener: (size: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  deliver(size: number): void {
    for (const listener of this.listeners) listener(size);
  }
  get observers(): number {
    return this.listeners.size;
  }
}

let t: Telemetry;
afterEach(async () => {
  await t?.shutdown();
});

function instance(): CatgaObservability {
  t = telemetry();
  return new CatgaObservability({ api, tracerProvider: t.tracerProvider, meterProvider: t.meterProvider });
}

async function only(name: string): Promise<{ value: unknown; attributes: Record<string, unknown> }> {
  const points = await t.points(name);
  expect(points, name).toHaveLength(1);
  return points[0]!;
}

describe("observeNats with several connections", () => {
  it("sums the counters of every observed connection in one series", async () => {
    const obs = instance();
    const a = new FakeConnection({
      bytesSent: 1000,
      bytesBeforeCompression: 3000,
      framesSent: 4,
      reconnects: 1,
    });
    const b = new FakeConnection({
      bytesSent: 5,
      bytesBeforeCompression: 5,
      framesSent: 1,
      requestFailures: 2,
    });
    obs.observeNats(a);
    obs.observeNats({ connection: b }); // a transport: its connection
    const bytes = await only(MetricNames.transportBytesSent);
    expect(bytes.value).toBe(1005);
    expect(bytes.attributes).toEqual({ "messaging.system": "nats" });
    expect((await only(MetricNames.transportBytesUncompressed)).value).toBe(3005);
    expect((await only(MetricNames.transportFramesSent)).value).toBe(5);
    expect((await only(MetricNames.transportReconnects)).value).toBe(1);
    expect((await only(MetricNames.transportRequestFailures)).value).toBe(2);

    // Both connections' batches go to the one histogram.
    a.deliver(3);
    b.deliver(7);
    const histogram = (await only(MetricNames.transportBatchSize)).value as Histogram;
    expect(histogram.count).toBe(2);
    expect(histogram.sum).toBe(10);
  });

  it("the compression ratio is over the summed bytes since the last collection", async () => {
    const obs = instance();
    const a = new FakeConnection({ bytesSent: 100, bytesBeforeCompression: 400 });
    const b = new FakeConnection({ bytesSent: 100, bytesBeforeCompression: 200 });
    obs.observeNats(a);
    obs.observeNats(b);
    expect((await only(MetricNames.transportCompressionRatio)).value).toBe(3); // 600 / 200
    a.counts = { bytesSent: 150, bytesBeforeCompression: 450 }; // +50 wire, +50 raw
    b.counts = { bytesSent: 150, bytesBeforeCompression: 350 }; // +50 wire, +150 raw
    expect((await only(MetricNames.transportCompressionRatio)).value).toBe(2); // 200 / 100
  });

  it("the same connection observed twice counts once; a stopped or closed one keeps its counts", async () => {
    const obs = instance();
    const a = new FakeConnection({ bytesSent: 10 });
    const b = new FakeConnection({ bytesSent: 100 });
    const stopA1 = obs.observeNats(a);
    const stopA2 = obs.observeNats(a);
    obs.observeNats(b);
    expect(a.observers).toBe(1);
    expect((await only(MetricNames.transportBytesSent)).value).toBe(110);

    stopA1();
    expect(a.observers).toBe(1); // still held by the second observeNats
    a.counts = { bytesSent: 20 };
    expect((await only(MetricNames.transportBytesSent)).value).toBe(120);

    stopA2();
    expect(a.observers).toBe(0);
    a.counts = { bytesSent: 999 }; // no longer read: its last counts (20) stand
    expect((await only(MetricNames.transportBytesSent)).value).toBe(120);

    b.counts = { bytesSent: 150 };
    expect((await only(MetricNames.transportBytesSent)).value).toBe(170);
    b.closed = true; // stats() throws now: the counter does not go down
    expect((await only(MetricNames.transportBytesSent)).value).toBe(170);
  });

  it("a connection observed again after stop() is counted once, from its own counters", async () => {
    const obs = instance();
    obs.observeNats(new FakeConnection({ bytesSent: 1 })); // keeps the series reported throughout
    const a = new FakeConnection({ bytesSent: 100 });
    obs.observeNats(a)();
    expect((await only(MetricNames.transportBytesSent)).value).toBe(101);
    a.counts = { bytesSent: 130 };
    const again = obs.observeNats(a);
    expect((await only(MetricNames.transportBytesSent)).value).toBe(131);
    // Closed, then observed once more: its last counts stand, the counter never goes down.
    again();
    a.closed = true;
    obs.observeNats(a);
    expect((await only(MetricNames.transportBytesSent)).value).toBe(131);
  });

  it("shutdown stops reading every connection", async () => {
    const obs = instance();
    const a = new FakeConnection({ bytesSent: 10 });
    obs.observeNats(a);
    obs.observeNats(new FakeConnection({ bytesSent: 1 }));
    expect((await only(MetricNames.transportBytesSent)).value).toBe(11);
    obs.shutdown();
    expect(a.observers).toBe(0);
    a.counts = { bytesSent: 50 };
    const points = await t.points(MetricNames.transportBytesSent);
    expect(points.map((p) => p.value)).not.toContain(51);
  });

  it("two real NATS connections: bytes.sent is the sum of both engines' counters", async () => {
    const obs = instance();
    const prefix = uniquePrefix("obsnats");
    const one = await natsTransport({ servers: NATS_URL, service: "one", prefix });
    const two = await natsTransport({ servers: NATS_URL, service: "two", prefix });
    try {
      obs.observeNats(one);
      obs.observeNats(two.connection);
      await one.connection.publish(`${prefix}.x.one`, new Uint8Array(64).fill(1));
      await two.connection.publish(`${prefix}.x.two`, new Uint8Array(2048).fill(2));
      await Promise.all([one.connection.flush(), two.connection.flush()]);
      await until(
        () => one.connection.stats().bytesSent > 0 && two.connection.stats().bytesSent > 0,
        5000,
        "bytes sent on both",
      );
      const expected = one.connection.stats().bytesSent + two.connection.stats().bytesSent;
      expect((await only(MetricNames.transportBytesSent)).value).toBe(expected);
      expect(expected).toBeGreaterThan(
        Math.max(one.connection.stats().bytesSent, two.connection.stats().bytesSent),
      );
    } finally {
      obs.shutdown();
      await Promise.all([one.close(), two.close()]);
    }
  });
});
