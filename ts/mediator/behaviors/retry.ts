import {
  type FieldCheck,
  func,
  type IssueList,
  integer,
  MAX_DELAY_MS,
  number,
  oneOf,
  stringList,
} from "../../checks.js";
import { ErrorCodes } from "../../errors.js";
import { after } from "../later.js";
import { observerFailureReporter } from "../logger.js";
import {
  type Behavior,
  type BehaviorContext,
  builtInStep,
  isPending,
  type Step,
  type StepMiddleware,
} from "../pipeline.js";
import type { Result } from "../result.js";
import { type RetrySignal, retrySignals } from "../signals.js";
import { sleep } from "./sleep.js";

/** Options of `withRetry`: retries retryable failures with exponential backoff and jitter. */
export interface RetryOptions {
  /**
   * Total attempts including the first (1–100); 1 never retries. Retrying stops early once the
   * message's signal aborts.
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Delay before the first retry in ms, multiplied by {@link RetryOptions.factor} for each later
   * one; at most {@link RetryOptions.maxDelayMs}. Jitter applies on top.
   * @default 50
   */
  readonly baseDelayMs?: number;
  /**
   * Cap on a single delay in ms, before jitter; must be at least `baseDelayMs`.
   * @default 2000
   */
  readonly maxDelayMs?: number;
  /**
   * Growth of the delay per retry (at least 1; 1 keeps it constant).
   * @default 2
   */
  readonly factor?: number;
  /**
   * How a delay is randomized: "full" random in [0, delay] (spreads herds); "equal" delay/2 +
   * random half; "none" the exact delay. Draws come from {@link RetryOptions.random}.
   * @default "full"
   */
  readonly jitter?: "full" | "equal" | "none";
  /**
   * Error codes worth another attempt; any other failure returns at once.
   * @default CATGA_TIMEOUT and CATGA_HANDLER_FAILED (`DEFAULT_RETRYABLE`)
   */
  readonly retryOn?: readonly string[];
  /**
   * Random source in [0, 1) for the jitter, e.g. for deterministic tests; a value outside that
   * range (or a throw) takes the full delay.
   * @default Math.random
   */
  readonly random?: () => number;
  /**
   * Place in the pipeline: higher runs first (outermost). Above timeout (500), so each attempt
   * gets a fresh budget; below idempotency (850), so a replay never retries.
   * @default 800 (`RETRY_PRIORITY`)
   */
  readonly priority?: number;
}

/** The retry behavior's default priority: inside idempotency, outside the circuit breaker (higher runs first). */
export const RETRY_PRIORITY = 800;

/** Codes that describe a transient failure; validation, no-handler or open-circuit never are. */
export const DEFAULT_RETRYABLE: readonly string[] = [ErrorCodes.TIMEOUT, ErrorCodes.HANDLER_FAILED];

const CATGA_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

const fields: Record<string, FieldCheck> = {
  maxAttempts: integer(1, 100),
  baseDelayMs: number(0, MAX_DELAY_MS),
  maxDelayMs: number(0, MAX_DELAY_MS),
  factor: number(1),
  jitter: oneOf(["full", "equal", "none"]),
  retryOn: (value) =>
    stringList(value) ??
    // A misspelt Catga code (CATGA_TIMEOT) would never match: retries silently off. Domain codes are yours.
    (value as string[])
      .filter((code) => code.startsWith("CATGA_") && !CATGA_CODES.has(code))
      .map((code) => `names ${JSON.stringify(code)}, which is no Catga code (see ErrorCodes)`)[0],
  random: func,
  priority: number(Number.NEGATIVE_INFINITY),
};

/** Retries retryable failures with exponential backoff and jitter; stops early when the signal aborts. */
export function retryBehavior(options: RetryOptions | undefined, issues: IssueList): Behavior {
  issues.checkObject("retry", options, fields);
  const maxAttempts = options?.maxAttempts ?? 3;
  const baseDelayMs = options?.baseDelayMs ?? 50;
  const maxDelayMs = options?.maxDelayMs ?? 2000;
  // Compared with the cap in effect: a base above the default cap would silently shrink to it.
  if (options?.baseDelayMs !== undefined && maxDelayMs < baseDelayMs) {
    if (options.maxDelayMs !== undefined) {
      issues.add("retry.maxDelayMs", `must be >= retry.baseDelayMs (${baseDelayMs}), got ${maxDelayMs}`);
    } else {
      issues.add(
        "retry.baseDelayMs",
        `must be <= retry.maxDelayMs (default ${maxDelayMs}; raise it too), got ${baseDelayMs}`,
      );
    }
  }
  const factor = options?.factor ?? 2;
  const jitter = options?.jitter ?? "full";
  const retryOn = new Set(options?.retryOn ?? DEFAULT_RETRYABLE);
  const userRandom = options?.random ?? Math.random;
  const randomFailed = observerFailureReporter("retry random()");
  // A random source that throws or returns something outside [0, 1) must not reject the send or
  // make a delay NaN: the draw falls back to the full delay.
  const random = (): number => {
    try {
      const value = userRandom();
      return typeof value === "number" && value >= 0 && value < 1 ? value : 1;
    } catch (thrown) {
      randomFailed(thrown);
      return 1;
    }
  };

  const delayBefore = (retry: number): number => {
    const delay = Math.min(maxDelayMs, baseDelayMs * factor ** (retry - 1));
    if (jitter === "none") return delay;
    if (jitter === "equal") return delay / 2 + random() * (delay / 2);
    return random() * delay;
  };

  return builtInStep("retry", options?.priority ?? RETRY_PRIORITY, (target) => {
    const type = target.contract.type;
    const retryable = (result: Result<unknown>, ctx: BehaviorContext): boolean =>
      !result.ok && retryOn.has(result.error.code) && !ctx.signal.aborted;
    // Only a failed first attempt enters the async retry loop; success costs nothing more (at
    // once) or one `.then` (a handler that answered later).
    const retryAfter = async (
      first: Result<unknown>,
      payload: unknown,
      ctx: BehaviorContext,
      next: Step,
    ): Promise<Result<unknown>> => {
      let result = first;
      for (let attempt = 2; attempt <= maxAttempts && retryable(result, ctx); attempt++) {
        await sleep(delayBefore(attempt - 1), ctx.signal);
        if (ctx.signal.aborted) break;
        if (retrySignals.hasSubscribers && !result.ok)
          retrySignals.publish({ type, attempt, code: result.error.code } satisfies RetrySignal);
        result = await next(payload, ctx);
      }
      return result;
    };
    const step: StepMiddleware = (payload, ctx, next) => {
      const first = next(payload, ctx);
      if (isPending(first))
        return after(first, (settled) =>
          maxAttempts > 1 && retryable(settled, ctx) ? retryAfter(settled, payload, ctx, next) : settled,
        );
      return maxAttempts > 1 && retryable(first, ctx) ? retryAfter(first, payload, ctx, next) : first;
    };
    return step;
  });
}
