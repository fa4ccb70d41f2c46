import { boolean, type FieldCheck, type IssueList, number, oneOf } from "../../checks.js";
import { ErrorCodes } from "../../errors.js";
import { after } from "../later.js";
import { observerFailureReporter } from "../logger.js";
import {
  type Behavior,
  type BehaviorContext,
  builtInStep,
  isPending,
  type StepMiddleware,
} from "../pipeline.js";
import type { Result } from "../result.js";

/** Options of `withLogging`: one log entry per message with ids, outcome and duration. */
export interface LoggingOptions {
  /**
   * Level for successful messages; "off" logs failures only (cheapest: a success reads no
   * clock, and a failure's `durationMs` counts from the moment the handler returned its promise,
   * 0 for one that failed synchronously).
   * @default "debug"
   */
  readonly successLevel?: "debug" | "info" | "off";
  /**
   * Level for failed messages; CATGA_HANDLER_FAILED is always logged at "error".
   * @default "warn"
   */
  readonly failureLevel?: "warn" | "error";
  /**
   * Include the payload in log fields (payloads may hold personal data).
   * @default false
   */
  readonly logPayload?: boolean;
  /**
   * Place in the pipeline: higher runs first (outermost). Outermost of the built-ins, so each
   * message is logged once, with its final outcome after any retries.
   * @default 1000 (`LOGGING_PRIORITY`)
   */
  readonly priority?: number;
}

/** The logging behavior's default priority: outermost of the built-in behaviors (higher runs first). */
export const LOGGING_PRIORITY = 1000;

const fields: Record<string, FieldCheck> = {
  successLevel: oneOf(["debug", "info", "off"]),
  failureLevel: oneOf(["warn", "error"]),
  logPayload: boolean,
  priority: number(Number.NEGATIVE_INFINITY),
};

/** Outermost by default: logs every message once with ids, outcome and duration. */
export function loggingBehavior(options: LoggingOptions | undefined, issues: IssueList): Behavior {
  issues.checkObject("logging", options, fields);
  const successLevel = options?.successLevel ?? "debug";
  const failureLevel = options?.failureLevel ?? "warn";
  const logPayload = options?.logPayload ?? false;
  const loggerFailed = observerFailureReporter("logger (logging behavior)");
  return builtInStep("logging", options?.priority ?? LOGGING_PRIORITY, (target) => {
    const label = `${target.kind} ${target.contract.type}`;
    const handler = target.kind === "event" ? target.handlerName : undefined;
    const write = (
      payload: unknown,
      ctx: BehaviorContext,
      result: Result<unknown>,
      started: number | undefined,
    ): void => {
      const entry: Record<string, unknown> = {
        type: target.contract.type,
        kind: target.kind,
        messageId: ctx.messageId,
        correlationId: ctx.correlationId,
        causationId: ctx.causationId,
        handler,
        durationMs: started === undefined ? 0 : Math.round((performance.now() - started) * 1000) / 1000,
      };
      if (logPayload) entry.payload = payload;
      if (result.ok) {
        ctx.logger[successLevel as "debug" | "info"](`${label} ok`, entry);
      } else {
        entry.code = result.error.code;
        entry.error = result.error.message;
        const level = result.error.code === ErrorCodes.HANDLER_FAILED ? "error" : failureLevel;
        ctx.logger[level](`${label} failed`, entry);
      }
    };
    const finish = (
      payload: unknown,
      ctx: BehaviorContext,
      result: Result<unknown>,
      started: number | undefined,
    ): Result<unknown> => {
      if (!result.ok || successLevel !== "off") {
        // A failing log sink must not turn the message's outcome into a rejection.
        try {
          write(payload, ctx, result, started);
        } catch (thrown) {
          loggerFailed(thrown);
        }
      }
      return result;
    };
    const step: StepMiddleware = (payload, ctx, next) => {
      const started = performance.now();
      const outcome = next(payload, ctx);
      if (isPending(outcome)) return after(outcome, (result) => finish(payload, ctx, result, started));
      return finish(payload, ctx, outcome, started);
    };
    if (successLevel !== "off") return step;
    // Failures only (the production preset): a success must not pay for a clock read (~25 ns of
    // a ~125 ns send here, the largest single cost of the preset). The duration of a failure
    // then counts from the moment the handler returned its promise; one that fails
    // synchronously logs 0 (its synchronous stretch is not timed, as with the timeout behavior).
    const failuresOnly: StepMiddleware = (payload, ctx, next) => {
      const outcome = next(payload, ctx);
      if (isPending(outcome)) {
        const started = performance.now();
        return after(outcome, (result) => (result.ok ? result : finish(payload, ctx, result, started)));
      }
      return outcome.ok ? outcome : finish(payload, ctx, outcome, undefined);
    };
    return failuresOnly;
  });
}
