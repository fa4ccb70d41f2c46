import { ErrorCodes } from "../errors.js";
import type { HandlerContext, SendOptions } from "./context.js";
import { err, errFromThrownIn, type Result } from "./result.js";
import { type Envelope, envelopeOf, type Transport } from "./transport.js";

/**
 * When a scheduled message is delivered: at a moment (`deliverAt`) or after a delay (`delayMs`),
 * one of the two. Both, or neither, does not compile.
 */
export type ScheduleAt =
  | {
      /** When to deliver: a `Date` or epoch milliseconds. Up to {@link SCHEDULE_LIMITS}.pastMs ago fires at once. */
      readonly deliverAt: Date | number;
      readonly delayMs?: never;
    }
  | {
      /** Deliver this many milliseconds from now (0 or more). */
      readonly delayMs: number;
      readonly deliverAt?: never;
    };

/** `publish` options of an event delivered later (docs/architecture/scheduling.md). Local handlers run at delivery. */
export type SchedulePublishOptions = SendOptions & ScheduleAt;

/**
 * `send` options of a `.durable()` command stored now and sent to its stream later. A scheduled
 * send resolves with its {@link Scheduled} handle, so `await: "result"` does not apply.
 */
export type ScheduleSendOptions = SendOptions & ScheduleAt & { readonly await?: never };

/** The handle of a scheduled message: cancel it with its `id`. */
export interface Scheduled {
  /** The schedule id: the message's `messageId`, also its dedupe key when delivered. */
  readonly id: string;
  /** When it is due, epoch milliseconds. */
  readonly deliverAt: number;
  /**
   * True when a message was already scheduled under this id (the transport's duplicate window):
   * that timer stands and this one was dropped; `deliverAt` is the standing timer's (NaN once it fired).
   */
  readonly duplicate?: true;
}

/** What a transport that schedules offers the mediator (NATS with `scheduling`). */
export interface ScheduleTarget {
  /** Stores the message until `deliverAt` (epoch ms); never rejects. */
  schedule(envelope: Envelope, deliverAt: number): Promise<Result<Scheduled>>;
}

/** Bounds of a due time, checked when a message is scheduled. */
export const SCHEDULE_LIMITS = {
  /**
   * How far in the past `deliverAt` may be: such a message is delivered at once (a clock a little
   * behind, a computed deadline just passed); further back is a mistake, refused.
   */
  pastMs: 60_000,
  /** How far ahead a message may be scheduled: ten years. */
  aheadMs: 10 * 365 * 24 * 3600_000,
} as const;

/** Whether `send`/`publish` options ask for later delivery. */
export function isScheduled(options: object | undefined): options is ScheduleAt {
  return (
    options !== undefined &&
    ((options as { deliverAt?: unknown }).deliverAt !== undefined ||
      (options as { delayMs?: unknown }).delayMs !== undefined)
  );
}

/** The due time (epoch ms) of `options`, or the coded error naming the field at fault. */
export function dueTime(options: ScheduleAt, now: number): number | Result<never> {
  const { deliverAt, delayMs } = options as { deliverAt?: unknown; delayMs?: unknown };
  const invalid = (field: string, why: string) =>
    err(ErrorCodes.INVALID_ARGUMENT, `options.${field} ${why}`, { field });
  if (deliverAt !== undefined && delayMs !== undefined)
    return invalid("deliverAt", "and options.delayMs exclude each other: give one");
  if (delayMs !== undefined) {
    if (typeof delayMs !== "number" || !Number.isFinite(delayMs) || delayMs < 0)
      return invalid("delayMs", `must be a finite number of milliseconds, 0 or more, got ${show(delayMs)}`);
    if (delayMs > SCHEDULE_LIMITS.aheadMs)
      return invalid("delayMs", `must be at most ${SCHEDULE_LIMITS.aheadMs} ms (ten years), got ${delayMs}`);
    return now + Math.ceil(delayMs);
  }
  const at = deliverAt instanceof Date ? deliverAt.getTime() : deliverAt;
  if (typeof at !== "number" || !Number.isFinite(at))
    return invalid("deliverAt", `must be a valid Date or epoch milliseconds, got ${show(deliverAt)}`);
  if (at < now - SCHEDULE_LIMITS.pastMs)
    return invalid(
      "deliverAt",
      `is ${now - at} ms in the past; at most ${SCHEDULE_LIMITS.pastMs} ms back is delivered at once`,
    );
  if (at > now + SCHEDULE_LIMITS.aheadMs)
    return invalid("deliverAt", `is more than ${SCHEDULE_LIMITS.aheadMs} ms (ten years) ahead`);
  return Math.ceil(at);
}

/**
 * A `send`/`publish` with `deliverAt` or `delayMs`: the message is handed to the transport's
 * scheduler now, and nothing runs until it is due (no local handler, no pipeline behavior: the
 * receiving side runs those at delivery). Events and `.durable()` commands only: a request/reply
 * command or a query has a caller waiting for its answer, which a timer cannot give.
 */
export function scheduleMessage(
  transport: Transport | undefined,
  context: HandlerContext,
  payload: unknown,
  options: ScheduleAt,
  durable: boolean,
): Promise<Result<Scheduled>> {
  const field = (options as { deliverAt?: unknown }).deliverAt !== undefined ? "deliverAt" : "delayMs";
  if (context.kind !== "event" && !durable)
    return Promise.resolve(
      err(
        ErrorCodes.INVALID_ARGUMENT,
        `options.${field} applies to events and .durable() commands; ${context.kind} "${context.type}" is neither`,
        { field },
      ),
    );
  if ((options as { await?: unknown }).await !== undefined)
    return Promise.resolve(
      err(
        ErrorCodes.INVALID_ARGUMENT,
        `options.await does not apply to a scheduled send: it resolves with the schedule's handle`,
        { field: "await" },
      ),
    );
  const due = dueTime(options, Date.now());
  if (typeof due !== "number") return Promise.resolve(due);
  const target = transport as (Transport & Partial<ScheduleTarget>) | undefined;
  if (target?.schedule === undefined)
    return Promise.resolve(
      err(
        ErrorCodes.CONFIG,
        `options.${field} needs a transport with scheduling enabled (natsTransport({ scheduling: {} })); ` +
          `${transport === undefined ? "this mediator has no transport" : `transport "${transport.name}" has none`}`,
        [{ path: "scheduling", message: "is not enabled" }],
      ),
    );
  const failed = (thrown: unknown) => errFromThrownIn(thrown, context.signal) as Result<never>;
  try {
    return target.schedule(envelopeOf(context, payload), due).then(undefined, failed);
  } catch (thrown) {
    return Promise.resolve(failed(thrown));
  }
}

function show(value: unknown): string {
  return value instanceof Date ? "an invalid Date" : typeof value === "number" ? String(value) : typeof value;
}
