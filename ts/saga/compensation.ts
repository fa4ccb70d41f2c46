/**
 * The backward path of a saga instance: leaving the forward path, undoing the done steps in
 * reverse (each compensation claimed, then sent, retried with a backoff), and `failed` for an
 * operator when one keeps failing.
 */
import { errorInfoFrom, type Result } from "../mediator/result.js";
import type { SagaError, SagaInstance } from "./instance.js";
import { type Move, SAGA_HOST_DEFAULTS, type SagaRuntime } from "./runtime.js";
import { untilServed } from "./unserved.js";

/** Leaves the forward path: the done steps (and the in-flight one, when it may have happened) are undone in reverse. */
export async function compensate(
  rt: SagaRuntime,
  instance: SagaInstance,
  error: SagaError,
  inFlightToo: boolean,
): Promise<Move> {
  await rt.write(instance, compensation(rt, instance, error, inFlightToo));
  return "again";
}

/** The change that starts compensating: what to undo, in reverse order of the done steps. */
export function compensation(
  rt: SagaRuntime,
  instance: SagaInstance,
  error: SagaError,
  inFlightToo: boolean,
) {
  const { progress } = instance;
  const names = [...progress.done];
  if (inFlightToo && progress.inFlight !== undefined) {
    // A parallel step in flight: any of its branches may have happened.
    const group = rt.saga.steps.find((step) => step.name === progress.inFlight);
    const inFlight = group?.kind === "parallel" ? group.branches.map((b) => b.name) : [progress.inFlight];
    for (const name of inFlight) if (!names.includes(name)) names.push(name);
  }
  const undo = names.filter((name) => rt.saga.compensations.has(name));
  return {
    status: "compensating" as const,
    progress: { ...progress, undo, undoAttempts: 0, inFlight: undefined, waitUntil: undefined, error },
  };
}

/** One move while compensating: undoes the last step of `undo`, or ends `compensated`. */
export async function back(rt: SagaRuntime, instance: SagaInstance): Promise<Move> {
  const { progress } = instance;
  const undo = progress.undo ?? [];
  const name = undo[undo.length - 1];
  if (name === undefined) {
    const done = await rt.write(instance, { status: "compensated" });
    if (done === undefined) return "again";
    rt.ended(done, "compensated");
    return "stop";
  }
  const compensation = rt.saga.compensations.get(name);
  if (compensation === undefined) {
    // Nothing to undo for this step (an operator's resume lists every done step, waits included).
    await rt.write(instance, { progress: { ...progress, undo: undo.slice(0, -1), undoAttempts: 0 } });
    return "again";
  }
  const attempt = (progress.undoAttempts ?? 0) + 1;
  // Claimed first: a crash mid-send makes the next delivery count (and id) a new attempt.
  const claimed = await rt.write(instance, { progress: { ...progress, undoAttempts: attempt } });
  if (claimed === undefined) return "again";
  let result: Result<unknown>;
  try {
    const payload = compensation.payload(claimed.state);
    const info = {
      saga: rt.name,
      id: claimed.id,
      step: name,
      kind: "compensation",
      trace: claimed.progress.trace,
      attempt,
    } as const;
    // A send refused before it left, or that nobody served, is not an attempt: it is sent again
    // (same id) within `unservedStepMs`, so an outage shorter than that burns none of them.
    result = await rt.traced(info, () =>
      untilServed(rt, claimed.id, name, "compensation", undefined, () =>
        rt.sendCommand(
          compensation.send,
          payload,
          compensationMessageId(rt.name, claimed.id, name, claimed.progress.resumes ?? 0, attempt),
          claimed.id,
          undefined,
        ),
      ),
    );
  } catch (thrown) {
    result = { ok: false, error: errorInfoFrom(thrown) } as Result<unknown>;
  }
  if (result.ok) {
    // As for steps: a write that lost to another activation is redone on the fresh copy while
    // that copy still shows this attempt, so a done compensation is not sent again.
    for (let current: SagaInstance | undefined = claimed; ; ) {
      const still = current?.progress.undo;
      if (
        current?.status !== "compensating" ||
        still?.[still.length - 1] !== name ||
        current.progress.undoAttempts !== attempt
      )
        return "again";
      const written = await rt.write(current, {
        progress: { ...current.progress, undo: still.slice(0, -1), undoAttempts: 0 },
      });
      if (written !== undefined) return "again";
      current = await rt.read(claimed.id);
    }
  }
  rt.logger().warn("saga compensation failed", {
    saga: rt.name,
    id: claimed.id,
    step: name,
    attempt,
    code: result.error.code,
  });
  if (attempt >= rt.attempts)
    return fail(rt, claimed, {
      code: result.error.code,
      message: `compensation of ${name} failed ${attempt} times, last: ${result.error.message}`,
      step: name,
    });
  await rt.clock.sleep(Math.min(rt.backoffMs * 2 ** (attempt - 1), SAGA_HOST_DEFAULTS.maxBackoffMs));
  return "again";
}

/**
 * A compensation attempt's message id: the same on a redelivery of one attempt, new for each
 * attempt and, after an operator's resume (attempts start over), for each resume too.
 */
export function compensationMessageId(
  saga: string,
  id: string,
  step: string,
  resumes: number,
  attempt: number,
): string {
  return resumes === 0
    ? `${saga}:${id}:${step}:undo:${attempt}`
    : `${saga}:${id}:${step}:undo:${resumes}.${attempt}`;
}

/** Stops the instance as `failed`: logged at error level, left to an operator. */
export async function fail(rt: SagaRuntime, instance: SagaInstance, error: SagaError): Promise<Move> {
  rt.logger().error("saga failed: an operator must resume or abort it", {
    saga: rt.name,
    id: instance.id,
    ...error,
  });
  const failed = await rt.write(instance, {
    status: "failed",
    progress: { ...instance.progress, inFlight: undefined, error },
  });
  if (failed !== undefined) rt.ended(failed, "failed");
  return "again";
}
