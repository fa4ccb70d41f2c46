// An outbox relay's counters and backlog as observable instruments (`catga.outbox.*`).
import { Attr, MetricNames } from "./names.js";
import type { OtelAttributes, OtelMeter } from "./otel.js";

/** What `observeRelay` reads: an `OutboxRelay`, or anything with the same counters. */
export interface RelaySource {
  /** How many outbox rows wait to be relayed now. */
  pending(): Promise<number>;
  /** How long the oldest waiting row has waited, in ms; reported as `catga.outbox.lag` when present. */
  lagMs?(): Promise<number>;
  /** Rows relayed so far, by outcome (sent, duplicate, failed) and relay errors, since start. */
  readonly stats: { sent: number; duplicates: number; failed: number; errors: number };
}

/**
 * Registers the relay's instruments and their collection callback on `meter`; `name` becomes the
 * `catga.outbox` attribute. Returns a function that removes the callback.
 */
export function observeRelay(meter: OtelMeter, relay: RelaySource, name: string): () => void {
  const base = { "catga.outbox": name };
  const pending = meter.createObservableGauge(MetricNames.outboxPending, {
    description: "Outbox rows waiting to be relayed",
  });
  const relayed = meter.createObservableCounter(MetricNames.outboxRelayed, {
    description: "Outbox rows handled by the relay, by outcome (sent, duplicate, failed, error)",
  });
  const lag = meter.createObservableGauge(MetricNames.outboxLag, {
    unit: "s",
    description: "How long the oldest outbox row waiting to be relayed has waited",
  });
  const observables = [pending, relayed, lag];
  const callback = async (result: {
    // biome-ignore lint/suspicious/noExplicitAny: BatchObservableResult over observables of any attributes
    observe(observable: any, value: number, attributes?: OtelAttributes): void;
  }) => {
    const { sent, duplicates, failed, errors } = relay.stats;
    result.observe(relayed, sent, { ...base, [Attr.outcome]: "sent" });
    result.observe(relayed, duplicates, { ...base, [Attr.outcome]: "duplicate" });
    result.observe(relayed, failed, { ...base, [Attr.outcome]: "failed" });
    result.observe(relayed, errors, { ...base, [Attr.outcome]: "error" });
    try {
      result.observe(pending, await relay.pending(), base);
      if (relay.lagMs !== undefined) result.observe(lag, (await relay.lagMs()) / 1000, base);
    } catch {
      // store down: no reading this time (the relay reports the error itself)
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
