// The NATS engine counters as observable instruments, summed over every observed connection.
import type { NatsStats } from "../nats/connection.js";
import type { Instrument } from "./metrics.js";
import { MetricNames } from "./names.js";
import type { OtelAttributes, OtelMeter } from "./otel.js";

/** Envelopes per inbound batch (the engine delivers up to `inboundBatchMax`, 4096 by default, per batch). */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/** What `observeNats` reads: engine counters, and (a `NatsConnection`) a per-batch callback. */
export interface NatsSource {
  /** The engine's counters now (a `NatsConnection`'s `stats()`). */
  stats(): NatsStats;
  /** Calls `listener` with the size of each inbound batch; returns the function that stops it. */
  observeBatches?(listener: (size: number) => void): () => void;
}

/** The engine counters `observeNats` reports: stats key, metric name, description, unit. */
const NATS_COUNTERS: readonly (readonly [keyof NatsStats, string, string, string?])[] = [
  ["bytesSent", MetricNames.transportBytesSent, "Bytes written to NATS (after compression)", "By"],
  [
    "bytesBeforeCompression",
    MetricNames.transportBytesUncompressed,
    "Envelope bytes handed to the engine before framing/compression",
    "By",
  ],
  ["framesSent", MetricNames.transportFramesSent, "CTG1 frames published"],
  [
    "framesReceived",
    MetricNames.transportFramesReceived,
    "NATS messages received (frames and single envelopes)",
  ],
  ["reconnects", MetricNames.transportReconnects, "Reconnects of the NATS client"],
  [
    "framesDropped",
    MetricNames.transportFramesDropped,
    "NATS messages dropped on receipt by this client: a subscription's buffer was full",
  ],
  ["backpressureWaits", MetricNames.transportBackpressureWaits, "Publishes that waited for buffer room"],
  [
    "backpressureRejections",
    MetricNames.transportBackpressureRejections,
    "Publishes rejected by backpressure (policy reject)",
  ],
  ["malformedReceived", MetricNames.transportMalformed, "Inbound messages skipped as malformed"],
  ["requestFailures", MetricNames.transportRequestFailures, "Requests that failed or timed out"],
];

interface ObservedConnection {
  /** How many `observeNats` calls hold it (the same connection observed twice counts once). */
  refs: number;
  /** Its last readable stats (kept when it closes: the sums never go down). */
  last: NatsStats | undefined;
  readonly stopBatches: (() => void) | undefined;
}

/**
 * The NATS instruments of one `CatgaObservability`: one batch callback that sums the counters of
 * every observed connection under one attribute set (one series per metric, whatever the number
 * of connections), and one batch-size histogram every connection records into.
 */
export class NatsObserver {
  private readonly connections = new Map<NatsSource, ObservedConnection>();
  /** Last counts of connections no longer observed, still part of the sums. */
  private readonly retired = new Map<keyof NatsStats, number>();
  /** What each of those added to `retired`: taken out again if it is observed anew, since its
   * own counters go on from those values. Weak, so a dropped connection is not kept alive. */
  private readonly retiredBy = new WeakMap<NatsSource, NatsStats>();
  private readonly counters: readonly (readonly [keyof NatsStats, Instrument])[];
  private readonly ratio: Instrument;
  private readonly batchSize: Instrument;
  private readonly observables: Instrument[];
  /** Summed bytes at the previous collection, for the compression ratio since then. */
  private lastWire = 0;
  private lastRaw = 0;
  private registered = false;

  constructor(
    private readonly meter: OtelMeter,
    private readonly attributes: OtelAttributes,
  ) {
    this.counters = NATS_COUNTERS.map(([key, name, description, unit]) => [
      key,
      meter.createObservableCounter(name, { description, ...(unit ? { unit } : {}) }),
    ]);
    this.batchSize = meter.createHistogram(MetricNames.transportBatchSize, {
      unit: "{message}",
      description: "Envelopes per inbound batch delivered to a subscription (one record per batch)",
      advice: { explicitBucketBoundaries: BATCH_BUCKETS },
    });
    this.ratio = meter.createObservableGauge(MetricNames.transportCompressionRatio, {
      description: "Bytes before compression / bytes on the wire, since the last collection",
    });
    this.observables = [...this.counters.map(([, counter]) => counter), this.ratio];
  }

  add(target: NatsSource): void {
    const known = this.connections.get(target);
    if (known !== undefined) {
      known.refs++;
      return;
    }
    const counted = this.retiredBy.get(target);
    if (counted !== undefined) {
      this.retiredBy.delete(target);
      for (const [key] of NATS_COUNTERS) this.retired.set(key, (this.retired.get(key) ?? 0) - counted[key]);
    }
    const attributes = this.attributes;
    const batchSize = this.batchSize;
    // Recorded where the batch is known: one call per inbound batch, nothing per message.
    const stopBatches = target.observeBatches?.((size) => batchSize.record(size, attributes));
    // Its retired counts move back into the entry: a closed connection observed again keeps them.
    this.connections.set(target, { refs: 1, last: counted, stopBatches });
    if (!this.registered) {
      this.meter.addBatchObservableCallback(this.collect, this.observables);
      this.registered = true;
    }
  }

  remove(target: NatsSource): void {
    const entry = this.connections.get(target);
    if (entry === undefined || --entry.refs > 0) return;
    this.connections.delete(target);
    entry.stopBatches?.();
    const last = read(target) ?? entry.last;
    if (last !== undefined) {
      for (const [key] of NATS_COUNTERS) this.retired.set(key, (this.retired.get(key) ?? 0) + last[key]);
      this.retiredBy.set(target, last);
    }
    if (this.connections.size === 0 && this.registered) {
      this.meter.removeBatchObservableCallback(this.collect, this.observables);
      this.registered = false;
    }
  }

  private readonly collect = (result: {
    // biome-ignore lint/suspicious/noExplicitAny: BatchObservableResult over observables of any attributes
    observe(observable: any, value: number, attributes?: OtelAttributes): void;
  }): void => {
    const totals = new Map(this.retired);
    for (const [target, entry] of this.connections) {
      // A closed connection answers no more: its last counts stand.
      entry.last = read(target) ?? entry.last;
      const stats = entry.last;
      if (stats === undefined) continue;
      for (const [key] of NATS_COUNTERS) totals.set(key, (totals.get(key) ?? 0) + stats[key]);
    }
    for (const [key, counter] of this.counters)
      result.observe(counter, totals.get(key) ?? 0, this.attributes);
    const wire = totals.get("bytesSent") ?? 0;
    const raw = totals.get("bytesBeforeCompression") ?? 0;
    if (wire > this.lastWire)
      result.observe(this.ratio, (raw - this.lastRaw) / (wire - this.lastWire), this.attributes);
    this.lastWire = wire;
    this.lastRaw = raw;
  };
}

/** A connection's stats, or undefined when it cannot answer (closed). */
function read(target: NatsSource): NatsStats | undefined {
  try {
    return target.stats();
  } catch {
    return undefined;
  }
}
