// Dead letters per kind and type as an observable gauge (`catga.deadletters`).
import { Attr, MetricNames } from "./names.js";
import type { OtelAttributes, OtelMeter } from "./otel.js";

/** What `observeDeadLetters` reads: `deadLetters(...)` from `@catga/native/operations`, or anything with `counts()`. */
export interface DeadLetterSource {
  /** How many dead letters there are now, per message kind and type. */
  counts(): Promise<{
    readonly byType: readonly { readonly kind: string; readonly type: string; readonly count: number }[];
  }>;
}

/**
 * Registers `catga.deadletters` on `meter`, read with `counts()` at each collection (one JetStream
 * request per dead-letter stream). A type whose dead letters were all replayed or purged reports 0
 * rather than vanishing, so an alert on it clears. Returns a function that removes the callback.
 */
export function observeDeadLetters(meter: OtelMeter, source: DeadLetterSource): () => void {
  const gauge = meter.createObservableGauge(MetricNames.deadLetters, {
    description: "Dead letters waiting, per message kind and type",
  });
  const seen = new Map<string, OtelAttributes>();
  const callback = async (result: {
    // biome-ignore lint/suspicious/noExplicitAny: BatchObservableResult over observables of any attributes
    observe(observable: any, value: number, attributes?: OtelAttributes): void;
  }) => {
    let counts: Awaited<ReturnType<DeadLetterSource["counts"]>>;
    try {
      counts = await source.counts();
    } catch {
      return; // NATS unreachable: no reading this time
    }
    const now = new Map<string, number>();
    for (const { kind, type, count } of counts.byType) {
      const key = `${kind}\u0000${type}`;
      if (!seen.has(key)) seen.set(key, { [Attr.kind]: kind, [Attr.type]: type });
      now.set(key, count);
    }
    for (const [key, attributes] of seen) result.observe(gauge, now.get(key) ?? 0, attributes);
  };
  meter.addBatchObservableCallback(callback, [gauge]);
  return () => meter.removeBatchObservableCallback(callback, [gauge]);
}
