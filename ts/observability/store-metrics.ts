// Inbox store measurement: `catga.persistence.latency` and `catga.inbox.processed` around a store.
import { CatgaError, ErrorCodes } from "../errors.js";
import type {
  ClaimResult,
  IdempotencyStore,
  StoredOutcome,
} from "../mediator/behaviors/idempotency-store.js";
import { DURATION_BUCKETS, type Instrument, seconds } from "./metrics.js";
import { Attr, MetricNames } from "./names.js";
import type { OtelMeter } from "./otel.js";

/** The store instruments of one `CatgaObservability`, shared by every store it wraps. */
export class StoreMetrics {
  private readonly persistenceLatency: Instrument;
  private readonly inboxProcessed: Instrument;

  constructor(meter: OtelMeter) {
    this.persistenceLatency = meter.createHistogram(MetricNames.persistenceLatency, {
      unit: "s",
      description: "Latency of store operations",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.inboxProcessed = meter.createCounter(MetricNames.inboxProcessed, {
      description: "Inbox entries: processed (stored) or duplicate (replayed from the store)",
    });
  }

  /** Wraps a store: see `CatgaObservability.instrumentStore`. */
  wrap<S extends IdempotencyStore>(store: S, name: string): S {
    const latency = this.persistenceLatency;
    const processed = this.inboxProcessed;
    const attrs = (operation: string, outcome: string) => ({
      "catga.store": name,
      "catga.store.operation": operation,
      [Attr.outcome]: outcome,
    });
    const measure = <T>(operation: string, call: () => T, count?: (value: Awaited<T>) => void): T => {
      const started = performance.now();
      const done = (outcome: string) => latency.record(seconds(started), attrs(operation, outcome));
      let out: T;
      try {
        out = call();
      } catch (thrown) {
        done(codeOf(thrown));
        throw thrown;
      }
      // Any thenable (a store may answer with another library's promise), not only `Promise`.
      if (out != null && typeof (out as { then?: unknown }).then === "function") {
        return Promise.resolve(out).then(
          (value) => {
            done("ok");
            count?.(value as Awaited<T>);
            return value;
          },
          (thrown: unknown) => {
            done(codeOf(thrown));
            throw thrown;
          },
        ) as T;
      }
      done("ok");
      count?.(out as Awaited<T>);
      return out;
    };
    const hit = { "catga.store": name, [Attr.outcome]: "duplicate" };
    const stored = { "catga.store": name, [Attr.outcome]: "processed" };
    return new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        switch (property) {
          case "get":
            return (key: string) =>
              measure(
                "get",
                () => value.call(target, key),
                (found: StoredOutcome | undefined) => {
                  if (found !== undefined) processed.add(1, hit);
                },
              );
          case "set":
            return (key: string, outcome: StoredOutcome, ttlMs: number) =>
              measure(
                "set",
                () => value.call(target, key, outcome, ttlMs),
                () => processed.add(1, stored),
              );
          case "claim":
            // With a claiming store the behavior claims instead of reading: "done" is the duplicate.
            return (key: string, owner: string, leaseMs: number) =>
              measure(
                "claim",
                () => value.call(target, key, owner, leaseMs),
                (answer: ClaimResult) => {
                  if (answer?.status === "done") processed.add(1, hit);
                },
              );
          case "extend":
          case "release":
            return (...args: unknown[]) => measure(property, () => value.apply(target, args));
          case "getMany":
            return (keys: readonly string[]) =>
              measure(
                "getMany",
                () => value.call(target, keys),
                (found: readonly (StoredOutcome | undefined)[]) => {
                  const hits = found.filter((entry) => entry !== undefined).length;
                  if (hits > 0) processed.add(hits, hit);
                },
              );
          case "setMany":
            return (entries: readonly unknown[], ttlMs: number) =>
              measure(
                "setMany",
                () => value.call(target, entries, ttlMs),
                () => processed.add(entries.length, stored),
              );
          default:
            return value.bind(target);
        }
      },
    });
  }
}

function codeOf(thrown: unknown): string {
  return thrown instanceof CatgaError ? thrown.code : ErrorCodes.STORE_FAILED;
}
