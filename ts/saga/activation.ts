/**
 * How an instance is activated: the saga's durable `advance` command, sent now (its start, an
 * event) or scheduled (a wait's timeout, the deadline), or run in this process when the transport
 * cannot store it.
 */
import { MAX_DELAY_MS } from "../checks.js";
import { ErrorCodes } from "../errors.js";
import type { HandlerContext } from "../mediator/context.js";
import { errorInfoFrom, toCatgaError } from "../mediator/result.js";
import type { SagaRuntime } from "./runtime.js";
import { advanceId } from "./sends.js";

/** Sends the advance command: stored on JetStream with a durable transport, run in place otherwise. */
export async function activate(
  rt: SagaRuntime,
  id: string,
  cause: string,
  ctx: HandlerContext | undefined,
): Promise<void> {
  if (rt.mediator().transport?.sendDurable === undefined) {
    // In process there is nothing to store the advance in: it runs now, apart from the start or
    // event that caused it, as it would on another instance with JetStream (so a start resolves
    // once the instance exists, and a timeout behavior on the start never cuts the saga).
    rt.advance(id, cause === "start").catch((error: unknown) =>
      rt.logger().error("saga advance failed; wake() the instance", {
        saga: rt.name,
        id,
        error: errorInfoFrom(error).message,
      }),
    );
    return;
  }
  const result = await rt.mediator().send(
    rt.saga.advance,
    { id },
    {
      messageId: advanceId(rt.name, id, cause),
      correlationId: ctx?.correlationId ?? `${rt.name}:${id}`,
    },
  );
  // The advance could not be stored: the start or event fails with its code and is retried
  // where it came from (a durable start or event is redelivered).
  if (!result.ok)
    throw toCatgaError({
      ...result.error,
      message: `saga ${rt.name}: could not activate ${id}: ${result.error.message}`,
    });
}

/** The schedule id of the timer set for instance `id` at `revision` (the wait's). */
export function timerId(saga: string, id: string, revision: number): string {
  return advanceId(saga, id, `timer:${revision}`);
}

/**
 * Wakes the instance at `at`: a scheduled advance when the transport schedules (it survives this
 * process), else an in-process timer (lost with the process; docs/architecture/sagas.md).
 */
export async function timer(rt: SagaRuntime, id: string, at: number, revision: number): Promise<void> {
  const messageId = timerId(rt.name, id, revision);
  const mediator = rt.mediator();
  // In process only (tests with a virtual clock, say): nothing to schedule on, nothing to warn about.
  const scheduled =
    mediator.transport === undefined
      ? undefined
      : await mediator.send(rt.saga.advance, { id }, { messageId, deliverAt: at });
  const via = scheduled?.ok ? "schedule" : "process";
  rt.logger().debug("saga timer set", { saga: rt.name, id, at, via });
  if (scheduled?.ok) return;
  if (scheduled !== undefined && scheduled.error.code !== ErrorCodes.CONFIG)
    rt.logger().warn("saga timer not scheduled; using an in-process timer", {
      saga: rt.name,
      id,
      code: scheduled.error.code,
    });
  const clock = rt.clock;
  const wake = () => {
    const left = at - clock.now();
    if (left > 0) {
      clock.setTimer(wake, Math.min(left + 1, MAX_DELAY_MS)); // longer delays fire at once
      return;
    }
    rt.advance(id).catch((error: unknown) =>
      rt.logger().error("saga timer failed", { saga: rt.name, id, error: errorInfoFrom(error).message }),
    );
  };
  // Armed for the due time itself (a virtual clock fires it there); a real timer that fires a
  // little early finds time left and re-arms above.
  clock.setTimer(wake, Math.min(Math.max(0, at - clock.now()), MAX_DELAY_MS));
}
