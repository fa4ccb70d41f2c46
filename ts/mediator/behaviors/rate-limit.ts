import { type FieldCheck, type IssueList, integer, number, oneOf } from "../../checks.js";
import { ErrorCodes } from "../../errors.js";
import { type Behavior, markBuiltIn } from "../pipeline.js";
import { err } from "../result.js";

/** Options of `withRateLimiting`: a token bucket; an empty bucket fails the call with CATGA_RATE_LIMITED. */
export interface RateLimitOptions {
  /**
   * Bucket size (a whole number ≥ 1): how many messages may pass in a burst; starts full.
   * @default 100
   */
  readonly capacity?: number;
  /**
   * Tokens added per second (> 0, fractions allowed): the sustained rate. A rejected call gets
   * `details.retryAfterMs` until the next token. Burst size: {@link RateLimitOptions.capacity}.
   * @default 100
   */
  readonly refillPerSecond?: number;
  /**
   * "contract": one bucket per pipeline (per command/query type, per event handler); "global":
   * one bucket shared by everything.
   * @default "contract"
   */
  readonly scope?: "contract" | "global";
  /**
   * Place in the pipeline: higher runs first (outermost). Below retry (800) and the circuit
   * breaker (700), so every attempt takes a token.
   * @default 600 (`RATE_LIMIT_PRIORITY`)
   */
  readonly priority?: number;
}

/** The rate limiter's default priority: inside the circuit breaker, outside timeout (higher runs first). */
export const RATE_LIMIT_PRIORITY = 600;

const fields: Record<string, FieldCheck> = {
  capacity: integer(1),
  refillPerSecond: number(0, Number.POSITIVE_INFINITY, true),
  scope: oneOf(["contract", "global"]),
  priority: number(Number.NEGATIVE_INFINITY),
};

/** Token bucket refilled lazily from the clock: no timers, O(1) per message. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly refillPerMs: number,
  ) {
    this.tokens = capacity;
    this.last = Date.now();
  }

  /** Takes a token; returns 0 on success or the ms until one is available. */
  take(): number {
    const now = Date.now();
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.refillPerMs);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / this.refillPerMs);
  }
}

/** Rejects with CATGA_RATE_LIMITED (and `details.retryAfterMs`) once the bucket is empty. */
export function rateLimitBehavior(options: RateLimitOptions | undefined, issues: IssueList): Behavior {
  issues.checkObject("rateLimit", options, fields);
  const capacity = options?.capacity ?? 100;
  const refillPerMs = (options?.refillPerSecond ?? 100) / 1000;
  const shared = options?.scope === "global" ? new TokenBucket(capacity, refillPerMs) : undefined;
  return markBuiltIn({
    name: "rateLimit",
    priority: options?.priority ?? RATE_LIMIT_PRIORITY,
    create(target) {
      const bucket = shared ?? new TokenBucket(capacity, refillPerMs);
      return (payload, ctx, next) => {
        const waitMs = bucket.take();
        if (waitMs === 0) return next(payload, ctx);
        return Promise.resolve(
          err(ErrorCodes.RATE_LIMITED, `Rate limit exceeded for ${target.key}`, { retryAfterMs: waitMs }),
        );
      };
    },
  });
}
