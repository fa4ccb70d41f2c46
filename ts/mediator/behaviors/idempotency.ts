import { ErrorCodes } from "../../errors.js";
import { type FieldCheck, type IssueList, integer, number, withMethods } from "../config.js";
import type { Behavior } from "../pipeline.js";
import { err, ok, type Result } from "../result.js";

/** A remembered successful outcome. Wrapped so an `undefined` result differs from "not stored". */
export interface StoredOutcome {
  readonly value: unknown;
}

/**
 * Where results of already-handled message ids are kept. Implement it over Redis, PostgreSQL or
 * NATS KV to deduplicate across processes; the in-memory default only covers this process.
 */
export interface IdempotencyStore {
  get(key: string): StoredOutcome | undefined | Promise<StoredOutcome | undefined>;
  set(key: string, outcome: StoredOutcome, ttlMs: number): void | Promise<void>;
}

export interface IdempotencyOptions {
  readonly store?: IdempotencyStore;
  /** How long a result is replayed. Default 1 hour. */
  readonly ttlMs?: number;
  /** Size cap of the default in-memory store; the oldest entries go first. Default 10000. */
  readonly maxEntries?: number;
  readonly priority?: number;
}

export const IDEMPOTENCY_PRIORITY = 850;

const fields: Record<string, FieldCheck> = {
  store: withMethods("get", "set"),
  ttlMs: number(0, Number.POSITIVE_INFINITY, true),
  maxEntries: integer(1),
  priority: number(Number.NEGATIVE_INFINITY),
};

/** Map-backed store with TTL and a size cap; Map keeps insertion order, so eviction is O(1). */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, { outcome: StoredOutcome; expiresAt: number }>();

  constructor(private readonly maxEntries = 10_000) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): StoredOutcome | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.outcome;
  }

  set(key: string, outcome: StoredOutcome, ttlMs: number): void {
    const now = Date.now();
    this.entries.delete(key);
    this.entries.set(key, { outcome, expiresAt: now + ttlMs });
    // Drop expired entries from the old end, then enforce the cap.
    for (const [oldestKey, oldest] of this.entries) {
      if (this.entries.size <= this.maxEntries && oldest.expiresAt > now) break;
      this.entries.delete(oldestKey);
    }
  }
}

/**
 * Replays the stored result when a message id was already handled successfully (failures are
 * not stored, so a retried failure runs again). Concurrent duplicates share one execution.
 * Sits outside retry so a replay never re-runs the retry loop.
 */
export function idempotencyBehavior(options: IdempotencyOptions | undefined, issues: IssueList): Behavior {
  issues.checkObject("idempotency", options, fields);
  const ttlMs = options?.ttlMs ?? 3_600_000;
  const store = options?.store ?? new InMemoryIdempotencyStore(options?.maxEntries ?? 10_000);
  if (options?.store !== undefined && options.maxEntries !== undefined) {
    issues.add("idempotency.maxEntries", "only applies to the default in-memory store; size your own store");
  }
  const inFlight = new Map<string, Promise<Result<unknown>>>();

  return {
    name: "idempotency",
    priority: options?.priority ?? IDEMPOTENCY_PRIORITY,
    create(target) {
      const prefix = `${target.key}:`;
      return (payload, ctx, next) => {
        const key = prefix + ctx.messageId;
        const running = inFlight.get(key);
        if (running !== undefined) return running;
        const execution = (async (): Promise<Result<unknown>> => {
          try {
            const stored = await store.get(key);
            if (stored !== undefined) return ok(stored.value);
          } catch (cause) {
            return err(ErrorCodes.STORE_FAILED, "Idempotency store read failed", undefined, cause);
          }
          const result = await next(payload, ctx);
          if (result.ok) {
            try {
              await store.set(key, { value: result.value }, ttlMs);
            } catch (cause) {
              ctx.logger.warn("idempotency store write failed", { key, error: String(cause) });
            }
          }
          return result;
        })().finally(() => inFlight.delete(key));
        inFlight.set(key, execution);
        return execution;
      };
    },
  };
}
