import { boolean, type FieldCheck, type IssueList, number, oneOf } from "../config.js";
import type { Behavior } from "../pipeline.js";

export interface LoggingOptions {
  /** Level for successful messages; "off" logs failures only (cheapest). Default "debug". */
  readonly successLevel?: "debug" | "info" | "off";
  /** Level for failed messages. Default "warn" ("error" for CATGA_HANDLER_FAILED regardless). */
  readonly failureLevel?: "warn" | "error";
  /** Include the payload in log fields. Default false: payloads may hold personal data. */
  readonly logPayload?: boolean;
  readonly priority?: number;
}

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
  return {
    name: "logging",
    priority: options?.priority ?? LOGGING_PRIORITY,
    create(target) {
      const label = `${target.kind} ${target.contract.type}`;
      const handler = target.kind === "event" ? target.handlerName : undefined;
      return async (payload, ctx, next) => {
        const started = performance.now();
        const result = await next(payload, ctx);
        const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
        if (result.ok && successLevel === "off") return result;
        const entry: Record<string, unknown> = {
          messageId: ctx.messageId,
          correlationId: ctx.correlationId,
          causationId: ctx.causationId,
          handler,
          durationMs,
        };
        if (logPayload) entry.payload = payload;
        if (result.ok) {
          ctx.logger[successLevel as "debug" | "info"](`${label} ok`, entry);
        } else {
          entry.code = result.error.code;
          entry.error = result.error.message;
          const level = result.error.code === "CATGA_HANDLER_FAILED" ? "error" : failureLevel;
          ctx.logger[level](`${label} failed`, entry);
        }
        return result;
      };
    },
  };
}
