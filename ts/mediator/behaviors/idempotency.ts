import { type FieldCheck, type IssueList, integer, number, withMethods } from "../../checks.js";
import { ErrorCodes } from "../../errors.js";
import { observerFailureReporter } from "../logger.js";
import { type Behavior, type BehaviorContext, type Middleware, markBuiltIn, type Next } from "../pipeline.js";
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

/** Options of `withIdempotency`: replays the stored result of a message id already handled. */
export interface IdempotencyOptions {
  /**
   * Where results are kept; a shared store (Redis, PostgreSQL, NATS KV) deduplicates across
   * processes.
   * @default an in-memory store for this process, sized by {@link IdempotencyOptions.maxEntries}
   */
  readonly store?: IdempotencyStore;
  /**
   * How long a successful result is replayed, in ms (> 0, finite); passed to the store's `set`.
   * @default 3600000 (1 hour)
   */
  readonly ttlMs?: number;
  /**
   * Size cap of the default in-memory store; the oldest entries go first. Not allowed together
   * with {@link IdempotencyOptions.store}.
   * @default 10000
   */
  readonly maxEntries?: number;
  /**
   * Place in the pipeline: higher runs first (outermost). Above retry (800), so a replay never
   * re-runs the retry loop.
   * @default 850 (`IDEMPOTENCY_PRIORITY`)
   */
  readonly priority?: number;
}

export const IDEMPOTENCY_PRIORITY = 850;

const fields: Record<string, FieldCheck> = {
  store: withMethods("get", "set"),
  ttlMs: number(0, Number.POSITIVE_INFINITY, true),
  maxEntries: integer(1),
  priority: number(Number.NEGATIVE_INFINITY),
};

interface Entry {
  readonly key: string;
  readonly outcome: StoredOutcome;
  readonly expiresAt: number;
}

/**
 * Map-backed store with TTL and a size cap. Eviction order lives in a separate array queue
 * (oldest first) so expiring and evicting are O(1) amortized; iterating a Map from the front after
 * many deletions is not (it walks the deleted slots).
 */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private order: (Entry | undefined)[] = [];
  private head = 0;

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
    const entry: Entry = { key, outcome, expiresAt: now + ttlMs };
    this.entries.set(key, entry);
    this.order.push(entry);
    // Drop from the old end: anything expired, then whatever exceeds the cap. Queue slots whose
    // entry was replaced or already deleted are skipped.
    while (this.head < this.order.length) {
      const oldest = this.order[this.head]!;
      const current = this.entries.get(oldest.key) === oldest;
      if (current && this.entries.size <= this.maxEntries && oldest.expiresAt > now) break;
      this.order[this.head++] = undefined;
      if (current) this.entries.delete(oldest.key);
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
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
  /** Runs in progress, with the context of the caller that started each. */
  const inFlight = new Map<
    string,
    { readonly result: Promise<Result<unknown>>; readonly ctx: BehaviorContext }
  >();
  const loggerFailed = observerFailureReporter("logger (idempotency behavior)");

  return markBuiltIn({
    name: "idempotency",
    priority: options?.priority ?? IDEMPOTENCY_PRIORITY,
    create(target) {
      const prefix = `${target.key}:`;
      const execute = async (key: string, payload: unknown, ctx: BehaviorContext, next: Next) => {
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
            try {
              ctx.logger.warn("idempotency store write failed", { key, error: String(cause) });
            } catch (thrown) {
              loggerFailed(thrown); // the handler succeeded: a broken log sink must not change that
            }
          }
        }
        return result;
      };
      const handle: Middleware = (payload, ctx, next) => {
        const key = prefix + ctx.messageId;
        const running = inFlight.get(key);
        if (running !== undefined) {
          // A duplicate shares the first caller's run, not its cancellation: when that caller
          // aborted, the run is tried again for this one (nothing was stored for it). Any other
          // outcome, ABORTED from the handler itself included, is shared as it is.
          return running.result.then((result) =>
            !result.ok &&
            result.error.code === ErrorCodes.ABORTED &&
            running.ctx.signal.aborted &&
            !ctx.signal.aborted
              ? handle(payload, ctx, next)
              : result,
          );
        }
        const result = execute(key, payload, ctx, next).then((outcome) => {
          inFlight.delete(key);
          return outcome;
        });
        inFlight.set(key, { result, ctx });
        return result;
      };
      return handle;
    },
  });
}
