import { type FieldCheck, func, type IssueList, integer, number, stringList } from "../../checks.js";
import { ErrorCodes } from "../../errors.js";
import { after } from "../later.js";
import { observerFailureReporter } from "../logger.js";
import { type Behavior, builtInStep, isPending, type StepMiddleware } from "../pipeline.js";
import { err, type Result } from "../result.js";
import { type BreakerSignal, breakerSignals } from "../signals.js";

/** A breaker's state: `closed` calls the handler, `open` refuses (CATGA_CIRCUIT_OPEN), `half-open` lets trial calls through. */
export type CircuitState = "closed" | "open" | "half-open";

/** What `CircuitBreakerOptions.onStateChange` receives when a breaker changes state. */
export interface CircuitStateChange {
  /** Pipeline key: the message type, or `type#n` for an event handler. */
  readonly key: string;
  /** The state before the change. */
  readonly from: CircuitState;
  /** The state after it. */
  readonly to: CircuitState;
}

/** Options of `withCircuitBreaker`: one breaker per pipeline (per command/query type, per event handler). */
export interface CircuitBreakerOptions {
  /**
   * Consecutive failures counted by {@link CircuitBreakerOptions.failureOn} that open the
   * circuit; a success resets the count.
   * @default 5
   */
  readonly failureThreshold?: number;
  /**
   * How long the circuit stays open before letting trial calls through, in ms (> 0). While open,
   * calls fail at once with CATGA_CIRCUIT_OPEN (`details.retryAfterMs`).
   * @default 30000
   */
  readonly resetTimeoutMs?: number;
  /**
   * Trial calls allowed at once while half-open; others fail with CATGA_CIRCUIT_OPEN. A successful
   * trial closes the circuit, a counted failure opens it again.
   * @default 1
   */
  readonly halfOpenMaxCalls?: number;
  /**
   * Error codes counted as failures; other failures neither count nor reset the count.
   * @default CATGA_HANDLER_FAILED and CATGA_TIMEOUT
   */
  readonly failureOn?: readonly string[];
  /**
   * Called on every state change with the pipeline key; a throw is reported, never propagated.
   * @default none
   */
  readonly onStateChange?: (change: CircuitStateChange) => void;
  /**
   * Place in the pipeline: higher runs first (outermost). Below retry (800), so every attempt
   * is counted; above timeout (500), so timeouts count as failures.
   * @default 700 (`CIRCUIT_BREAKER_PRIORITY`)
   */
  readonly priority?: number;
}

/** The circuit breaker's default priority: inside retry, outside rate limiting (higher runs first). */
export const CIRCUIT_BREAKER_PRIORITY = 700;

const fields: Record<string, FieldCheck> = {
  failureThreshold: integer(1),
  resetTimeoutMs: number(0, Number.POSITIVE_INFINITY, true),
  halfOpenMaxCalls: integer(1),
  failureOn: stringList,
  onStateChange: func,
  priority: number(Number.NEGATIVE_INFINITY),
};

/**
 * One breaker per pipeline (per command/query type, per event handler): closed → open after
 * `failureThreshold` consecutive failures → half-open after `resetTimeoutMs` → closed on a
 * successful trial, open again on a failed one. While open the handler is not called.
 */
export function circuitBreakerBehavior(
  options: CircuitBreakerOptions | undefined,
  issues: IssueList,
): Behavior {
  issues.checkObject("circuitBreaker", options, fields);
  const threshold = options?.failureThreshold ?? 5;
  const resetTimeoutMs = options?.resetTimeoutMs ?? 30_000;
  const halfOpenMaxCalls = options?.halfOpenMaxCalls ?? 1;
  const failureOn = new Set(options?.failureOn ?? [ErrorCodes.HANDLER_FAILED, ErrorCodes.TIMEOUT]);
  const onStateChange = options?.onStateChange;
  const onStateChangeFailed = observerFailureReporter("circuitBreaker.onStateChange");

  return builtInStep("circuitBreaker", options?.priority ?? CIRCUIT_BREAKER_PRIORITY, (target) => {
    let state: CircuitState = "closed";
    let failures = 0;
    let openedAt = 0;
    let trials = 0;
    // Bumped on every transition: a trial that outlives its half-open period must not decide
    // (or free a slot of) a later one.
    let period = 0;
    const moveTo = (to: CircuitState): void => {
      const from = state;
      state = to;
      if (to === "open") openedAt = Date.now();
      if (to !== "open") failures = 0;
      trials = 0;
      period++;
      if (breakerSignals.hasSubscribers)
        breakerSignals.publish({ key: target.key, from, to } satisfies BreakerSignal);
      if (onStateChange === undefined) return;
      // Runs inside send (even synchronously, open → half-open): a throw must not escape it.
      try {
        onStateChange({ key: target.key, from, to });
      } catch (thrown) {
        onStateChangeFailed(thrown);
      }
    };
    const rejected = (): Result<unknown> =>
      err(ErrorCodes.CIRCUIT_OPEN, `Circuit for ${target.key} is open`, {
        retryAfterMs: Math.max(0, openedAt + resetTimeoutMs - Date.now()),
      });
    const isFailure = (result: Result<unknown>): boolean => !result.ok && failureOn.has(result.error.code);

    // Made once per pipeline, so the closed-state path allocates no closure per call.
    const afterClosed = (result: Result<unknown>): Result<unknown> => {
      if (isFailure(result)) {
        failures++;
        if (failures >= threshold && state === "closed") moveTo("open");
      } else if (result.ok) {
        failures = 0;
      }
      return result;
    };
    // A closure per trial (half-open only, rare): it remembers the period the trial belongs to.
    const afterTrial =
      (trialPeriod: number) =>
      (result: Result<unknown>): Result<unknown> => {
        if (trialPeriod !== period) return result; // another trial already decided this period
        if (isFailure(result)) moveTo("open");
        else if (result.ok) moveTo("closed");
        else trials--; // neither success nor counted failure: free the trial slot
        return result;
      };

    const step: StepMiddleware = (payload, ctx, next) => {
      if (state === "closed") {
        const outcome = next(payload, ctx);
        return isPending(outcome) ? after(outcome, afterClosed) : afterClosed(outcome);
      }
      if (state === "open") {
        if (Date.now() - openedAt < resetTimeoutMs) return rejected();
        moveTo("half-open");
      }
      if (trials >= halfOpenMaxCalls) return rejected();
      trials++;
      const decide = afterTrial(period);
      const outcome = next(payload, ctx);
      return isPending(outcome) ? after(outcome, decide) : decide(outcome);
    };
    return step;
  });
}
