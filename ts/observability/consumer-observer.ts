// JetStream consumer backlog as observable gauges (`catga.jetstream.consumer.*`).
import type { ConsumerLag } from "../jetstream/consumer-lag.js";
import { Attr, MetricNames } from "./names.js";
import type { OtelAttributes, OtelMeter } from "./otel.js";

/** What `observeConsumers` reads: `consumerLagSource(transport)`, or anything with `consumers()`. */
export interface ConsumerLagSource {
  /** Each durable consumer's backlog now. */
  consumers(): Promise<readonly ConsumerLag[]>;
}

/**
 * Registers `catga.jetstream.consumer.pending` and `.ack_pending` on `meter`, read with
 * `consumers()` at each collection. A consumer seen once keeps reporting (0 once it is gone), so
 * an alert on it clears. Returns a function that removes the callback.
 */
export function observeConsumers(meter: OtelMeter, source: ConsumerLagSource): () => void {
  const pending = meter.createObservableGauge(MetricNames.jetstreamConsumerPending, {
    description: "Messages in the stream not yet delivered to the consumer (its lag)",
  });
  const ackPending = meter.createObservableGauge(MetricNames.jetstreamConsumerAckPending, {
    description: "Messages delivered to the consumer and not yet acknowledged",
  });
  const seen = new Map<string, OtelAttributes>();
  const observables = [pending, ackPending];
  const callback = async (result: {
    // biome-ignore lint/suspicious/noExplicitAny: BatchObservableResult over observables of any attributes
    observe(observable: any, value: number, attributes?: OtelAttributes): void;
  }) => {
    let consumers: readonly ConsumerLag[];
    try {
      consumers = await source.consumers();
    } catch {
      return; // NATS unreachable: no reading this time
    }
    const now = new Map<string, ConsumerLag>();
    for (const each of consumers) {
      const key = `${each.stream}\u0000${each.consumer}`;
      if (!seen.has(key)) seen.set(key, { [Attr.stream]: each.stream, [Attr.consumer]: each.consumer });
      now.set(key, each);
    }
    for (const [key, attributes] of seen) {
      const lag = now.get(key);
      result.observe(pending, lag?.pending ?? 0, attributes);
      result.observe(ackPending, lag?.ackPending ?? 0, attributes);
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
