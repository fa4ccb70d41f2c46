import { ErrorCodes, type HandlerFailure } from "../errors.js";
import type { HandlerContext, MessageContext, PublishMode, PublishReport } from "./context.js";
import type { Handler, Next } from "./pipeline.js";
import { errFrom, ok, type Result } from "./result.js";

// An event's local handlers: running them (every one runs; failures are collected, never thrown)
// and folding their Results into one.

/** The handlers of one event type, with a summarizer made once so publish allocates no closure. */
export interface EventRoute {
  readonly runs: Next[];
  readonly names: string[];
  readonly summarize: (results: Result<unknown>[]) => Result<PublishReport>;
  /**
   * The handlers themselves when no behavior wraps any of them: an inbound event whose outcome
   * nobody reads calls them directly (see `runDirect`).
   */
  readonly direct: readonly Handler[] | undefined;
}

export function eventRoute(
  type: string,
  runs: Next[],
  names: string[],
  direct: readonly Handler[] | undefined,
): EventRoute {
  return { runs, names, summarize: (results) => summarize(type, results, names), direct };
}

/**
 * Calls handlers with no behavior around them for an event whose outcome nobody reads (an event
 * from another process on core NATS). A handler that returns a non-promise costs no promise at
 * all; returns undefined when every handler finished synchronously, else a promise that settles
 * (never rejects) when the rest have. Failures are dropped, as the pipeline's Results were.
 */
export function runDirect(
  handlers: readonly Handler[],
  payload: unknown,
  context: HandlerContext,
): Promise<unknown> | undefined {
  let pending: Promise<unknown> | undefined;
  for (let i = 0; i < handlers.length; i++) {
    let out: unknown;
    try {
      out = handlers[i]!(payload, context);
    } catch {
      continue;
    }
    if (out === null || (typeof out !== "object" && typeof out !== "function")) continue;
    if (typeof (out as { then?: unknown }).then !== "function") continue;
    const settled = Promise.resolve(out).then(undefined, ignore);
    pending = pending === undefined ? settled : Promise.all([pending, settled]);
  }
  return pending;
}

function ignore(): undefined {
  return undefined;
}

/** Runs an event's handlers in the given mode; every one runs, each gives its Result. */
export function runHandlers(
  local: { runs: Next[] },
  payload: unknown,
  context: MessageContext,
  mode: PublishMode,
): Promise<Result<unknown>[]> {
  return mode === "sequential"
    ? runSequentially(local, payload, context)
    : runConcurrently(local, payload, context);
}

export function runConcurrently(
  local: { runs: Next[] },
  payload: unknown,
  context: MessageContext,
): Promise<Result<unknown>[]> {
  const runs = local.runs;
  if (runs.length === 1) return runs[0]!(payload, context).then(single);
  const pending: Promise<Result<unknown>>[] = new Array(runs.length);
  for (let i = 0; i < runs.length; i++) pending[i] = runs[i]!(payload, context);
  return Promise.all(pending);
}

function single(result: Result<unknown>): Result<unknown>[] {
  return [result];
}

export async function runSequentially(
  local: { runs: Next[] },
  payload: unknown,
  context: MessageContext,
): Promise<Result<unknown>[]> {
  const results: Result<unknown>[] = [];
  for (const run of local.runs) results.push(await run(payload, context));
  return results;
}

export function countOk(results: readonly Result<unknown>[]): number {
  let handled = 0;
  for (const result of results) if (result.ok) handled++;
  return handled;
}

function summarize(
  type: string,
  results: readonly Result<unknown>[],
  names: readonly string[],
): Result<PublishReport> {
  let failures: HandlerFailure[] | undefined;
  for (let i = 0; i < results.length; i++) {
    const result = results[i]!;
    if (result.ok) continue;
    const { code, message, details } = result.error;
    if (failures === undefined) failures = [];
    failures.push({ handler: names[i] ?? `handler#${i}`, code, message, details });
  }
  if (failures === undefined) return ok({ handled: results.length });
  return aggregate(type, results.length - failures.length, failures);
}

export function aggregate(
  type: string,
  handled: number,
  failures: readonly HandlerFailure[],
): Result<PublishReport> {
  if (failures.length === 0) return ok({ handled });
  return errFrom({
    code: ErrorCodes.PUBLISH_FAILED,
    message: `${failures.length} of ${handled + failures.length} handlers for event "${type}" failed: ${failures
      .map((f) => `${f.handler} (${f.code}: ${f.message})`)
      .join("; ")}`,
    details: { handled, failures },
  });
}
