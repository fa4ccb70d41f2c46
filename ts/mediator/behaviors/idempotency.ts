import { createHash, randomUUID } from "node:crypto";
import { type FieldCheck, type IssueList, integer, MAX_DELAY_MS, number, withMethods } from "../../checks.js";
import { CatgaError, describeThrown, ErrorCodes } from "../../errors.js";
import { observerFailureReporter } from "../logger.js";
import { type Behavior, type BehaviorContext, type Middleware, markBuiltIn, type Next } from "../pipeline.js";
import { err, errFromThrownIn, isAnsweredFailure, type Result, returned } from "../result.js";
import {
  type ClaimResult,
  type IdempotencyClaims,
  type IdempotencyStore,
  InMemoryIdempotencyStore,
} from "./idempotency-store.js";
import { sleep } from "./sleep.js";

/** Options of `withIdempotency`: replays the stored result of a message id already handled. */
export interface IdempotencyOptions {
  /**
   * Where results are kept; a shared store (Redis, PostgreSQL, NATS KV) deduplicates across
   * processes. A store that also has `claim`, `extend` and `release`
   * ({@link ClaimingIdempotencyStore}, every shipped store) also makes concurrent duplicates in
   * other processes wait for one run; a store with only `get`/`set` is not a lock (see
   * docs/architecture/persistence.md, "Claims").
   * @default an in-memory store for this process, sized by {@link IdempotencyOptions.maxEntries}
   */
  readonly store?: IdempotencyStore;
  /**
   * How long a successful result is replayed, in ms (> 0, finite); passed to the store's `set`.
   * @default 3600000 (1 hour)
   */
  readonly ttlMs?: number;
  /**
   * How long a claim holds without being extended, in ms (an integer from 300 to 2^31 - 1).
   * The running handler extends it every third of this, so it only bounds how long waiters wait
   * after the claimant's process died (a waiter then takes over). Only used with a claiming store
   * ({@link IdempotencyOptions.store}).
   * @default 30000
   */
  readonly leaseMs?: number;
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

/** The idempotency behavior's default priority: inside validation, outside retry (higher runs first). */
export const IDEMPOTENCY_PRIORITY = 850;

/** Claims are extended every `leaseMs / 3`; below this the timer would run hot. */
const MIN_LEASE_MS = 300;
export const DEFAULT_LEASE_MS = 30_000;
/** A waiter asks again after 10 ms, doubling up to this. */
const MAX_POLL_MS = 250;

const fields: Record<string, FieldCheck> = {
  store: withMethods("get", "set"),
  ttlMs: number(0, Number.MAX_SAFE_INTEGER, true),
  leaseMs: integer(MIN_LEASE_MS, MAX_DELAY_MS),
  maxEntries: integer(1),
  priority: number(Number.NEGATIVE_INFINITY),
};

/** The claim methods of `store`, when it has them all. */
function claimsOf(store: IdempotencyStore | undefined): IdempotencyClaims | undefined {
  const candidate = store as Partial<IdempotencyClaims> | undefined;
  return typeof candidate?.claim === "function" &&
    typeof candidate.extend === "function" &&
    typeof candidate.release === "function"
    ? (candidate as IdempotencyClaims)
    : undefined;
}

/**
 * Replays the stored result when a message id was already answered: a success, or a failure the
 * handler returned (`return err(...)`, its final answer). Thrown failures are not stored, so a
 * retried one runs again. Concurrent duplicates share one execution: in
 * this process always; across processes when the store has claims (the first claims the key and
 * runs, the others wait for its outcome). Sits outside retry so a replay never re-runs the retry loop.
 */
export function idempotencyBehavior(options: IdempotencyOptions | undefined, issues: IssueList): Behavior {
  issues.checkObject("idempotency", options, fields);
  const ttlMs = options?.ttlMs ?? 3_600_000;
  const leaseMs = options?.leaseMs ?? DEFAULT_LEASE_MS;
  const store = options?.store ?? new InMemoryIdempotencyStore(options?.maxEntries ?? 10_000);
  if (options?.store !== undefined && options.maxEntries !== undefined) {
    issues.add("idempotency.maxEntries", "only applies to the default in-memory store; size your own store");
  }
  const claims = claimsOf(options?.store === undefined ? undefined : store);
  const partial = options?.store as Partial<IdempotencyClaims> | undefined;
  if (claims === undefined && typeof partial?.claim === "function") {
    issues.add("idempotency.store", "has claim but not extend and release: give it all three, or none");
  }
  /** Runs in progress, with the context of the caller that started each. */
  const inFlight = new Map<
    string,
    { readonly result: Promise<Result<unknown>>; readonly ctx: BehaviorContext }
  >();
  const loggerFailed = observerFailureReporter("logger (idempotency behavior)");
  const warn = (ctx: BehaviorContext, message: string, fields: Record<string, unknown>): void => {
    try {
      ctx.logger.warn(message, fields);
    } catch (thrown) {
      loggerFailed(thrown); // a broken log sink must not change the message's outcome
    }
  };
  /**
   * Stores an answer (a success, or a returned failure: stores encode it so a replay is the same
   * failure); false when there is nothing to store or the store failed (logged).
   */
  const remember = async (key: string, result: Result<unknown>, ctx: BehaviorContext): Promise<boolean> => {
    if (!result.ok && !isAnsweredFailure(result)) return false;
    try {
      await store.set(key, { value: result.ok ? result.value : result }, ttlMs);
      return true;
    } catch (cause) {
      warn(ctx, "idempotency store write failed", { key, error: describeThrown(cause) });
      return false;
    }
  };

  /**
   * A store call that failed, as the documented CATGA_STORE_FAILED: `details` names the store and
   * the operation (they were missing), the store's own error is the cause.
   */
  const storeFailure = (operation: string, cause?: unknown): Result<never> => {
    const known =
      cause instanceof CatgaError
        ? (cause.details as { store?: unknown; transportCode?: unknown })
        : undefined;
    return err(
      ErrorCodes.STORE_FAILED,
      `Idempotency store ${operation} failed${cause === undefined ? "" : `: ${describeThrown(cause)}`}`,
      {
        store: typeof known?.store === "string" ? known.store : "idempotency",
        operation,
        ...(typeof known?.transportCode === "string" ? { transportCode: known.transportCode } : {}),
      },
      cause,
    );
  };

  /** Without claims: read, run, store. Two processes can run the same key at once. */
  const executeUnclaimed = async (key: string, payload: unknown, ctx: BehaviorContext, next: Next) => {
    try {
      const stored = await store.get(key);
      if (stored !== undefined) return returned(stored.value);
    } catch (cause) {
      return storeFailure("read", cause);
    }
    const result = await next(payload, ctx);
    await remember(key, result, ctx);
    return result;
  };

  // Each run claims under its own owner id, unique across processes.
  const ownerPrefix = `${randomUUID()}:`;
  let runs = 0;

  /**
   * Extends `owner`'s claim every third of the lease until the returned stop is called. A failed
   * extension is tried again at the next tick; a lost claim (expired and taken) is logged.
   */
  const keepClaim = (lock: IdempotencyClaims, key: string, owner: string, ctx: BehaviorContext) => {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const tick = async (): Promise<void> => {
      let kept = true;
      try {
        kept = await lock.extend(key, owner, leaseMs);
      } catch (cause) {
        if (!stopped) warn(ctx, "idempotency claim extension failed", { key, error: describeThrown(cause) });
      }
      // Stopped meanwhile: the outcome may have completed the claim, so "not kept" means nothing.
      if (stopped) return;
      if (!kept) warn(ctx, "idempotency claim lost: another process may run this message too", { key });
      else schedule();
    };
    const schedule = (): void => {
      timer = setTimeout(tick, leaseMs / 3);
      timer.unref();
    };
    schedule();
    return (): void => {
      stopped = true;
      clearTimeout(timer);
    };
  };

  /**
   * With claims: replay a stored outcome, or claim and run (extending the lease meanwhile; `set`
   * completes the claim, a failure releases it), or wait for the holder and ask again. Only the
   * caller's signal ends a wait early.
   */
  const executeClaimed = async (
    lock: IdempotencyClaims,
    key: string,
    payload: unknown,
    ctx: BehaviorContext,
    next: Next,
  ): Promise<Result<unknown>> => {
    const owner = ownerPrefix + (++runs).toString(36);
    let pollMs = 10;
    for (;;) {
      let answer: ClaimResult;
      try {
        answer = await lock.claim(key, owner, leaseMs);
      } catch (cause) {
        return storeFailure("claim", cause);
      }
      if (answer?.status === "done") return returned(answer.outcome.value);
      if (answer?.status === "claimed") break;
      if (answer?.status !== "held") {
        return storeFailure("claim", new Error("the store answered neither claimed, done nor held"));
      }
      // Jittered so waiters of one key do not ask in step.
      await sleep(pollMs * (0.5 + Math.random() / 2), ctx.signal);
      if (ctx.signal.aborted) return errFromThrownIn(ctx.signal.reason, ctx.signal);
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
    }
    const stop = keepClaim(lock, key, owner, ctx);
    let result: Result<unknown>;
    try {
      result = await next(payload, ctx);
    } finally {
      stop();
    }
    if (await remember(key, result, ctx)) return result;
    try {
      await lock.release(key, owner);
    } catch (cause) {
      warn(ctx, "idempotency claim release failed", { key, error: describeThrown(cause) });
    }
    return result;
  };

  const execute =
    claims === undefined
      ? executeUnclaimed
      : (key: string, payload: unknown, ctx: BehaviorContext, next: Next) =>
          executeClaimed(claims, key, payload, ctx, next);

  return markBuiltIn({
    name: "idempotency",
    priority: options?.priority ?? IDEMPOTENCY_PRIORITY,
    create(target) {
      const prefix = `${target.key}:`;
      const handle: Middleware = (payload, ctx, next) => {
        const key = storeKey(prefix, ctx.messageId);
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

/** Most UTF-8 bytes of a key kept as it is: every shipped store takes keys of up to 1024 bytes. */
const MAX_KEY_BYTES = 1000;

/**
 * `<type>:<messageId>`, or `<type>:sha256:<hex>` when that would pass {@link MAX_KEY_BYTES}: ids
 * may be 1024 characters (up to 3 UTF-8 bytes each), which no shipped store took as a key (every
 * such message failed as CATGA_STORE_FAILED and its handler never ran). Keys that fit are unchanged.
 */
export function storeKey(prefix: string, messageId: string): string {
  const key = prefix + messageId;
  // A UTF-16 unit is at most 3 UTF-8 bytes: short keys need no count.
  if (key.length * 3 <= MAX_KEY_BYTES || Buffer.byteLength(key) <= MAX_KEY_BYTES) return key;
  return `${prefix}sha256:${createHash("sha256").update(messageId).digest("hex")}`;
}
