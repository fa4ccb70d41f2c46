/**
 * The forward path of a saga instance: each step claimed (`inFlight`), its command sent under the
 * step's message id and its Result recorded; wait steps parked until their event or timeout. A step
 * sent again after a crash that JetStream calls a duplicate is waited out (docs/architecture/sagas.md).
 */
import { ErrorCodes } from "../errors.js";
import type { Result } from "../mediator/result.js";
import { timer } from "./activation.js";
import { compensate, compensation, fail } from "./compensation.js";
import type { StepDefinition } from "./define.js";
import type { SagaError, SagaInstance, SagaProgress } from "./instance.js";
import type { Move, SagaRuntime } from "./runtime.js";
import { isDuplicate } from "./sends.js";

type SendStep = StepDefinition & { kind: "send" };
type WaitStep = StepDefinition & { kind: "wait" };

/** One move while running: the deadline, the next step (skipped, sent or waited for), or `completed`. */
export async function forward(rt: SagaRuntime, instance: SagaInstance): Promise<Move> {
  const { progress } = instance;
  if (progress.deadlineAt !== undefined && rt.clock.now() >= progress.deadlineAt)
    return compensate(rt, instance, rt.deadlineError(), true);
  const step = rt.saga.steps[instance.step];
  if (step === undefined) {
    const done = await rt.write(instance, {
      status: "completed",
      progress: { ...progress, inFlight: undefined },
    });
    if (done === undefined) return "again";
    rt.ended(done, "completed");
    return "stop";
  }
  if (progress.inFlight !== step.name) {
    let skip: boolean;
    try {
      skip = step.when !== undefined && !step.when(instance.state);
    } catch (thrown) {
      return compensate(rt, instance, rt.userError(thrown, step.name), false);
    }
    if (skip) {
      await rt.write(instance, { step: instance.step + 1 });
      return "again";
    }
  }
  if (step.kind === "wait") return reachWait(rt, instance, step);
  return send(rt, instance, step);
}

/**
 * The progress with the step at `index` claimed (`inFlight`) when it is a send step that will run
 * (its `when` passes, the deadline has not passed): the write that reaches a step claims it too,
 * saving the claim its own write (benches/RESULTS.md, "Sagas"). Anything else is left for its move.
 */
export function claimNext(
  rt: SagaRuntime,
  state: unknown,
  index: number,
  progress: SagaProgress,
): SagaProgress {
  const step = rt.saga.steps[index];
  if (step?.kind !== "send" || pastDeadline(rt, progress)) return progress;
  try {
    if (step.when !== undefined && !step.when(state)) return progress;
  } catch {
    return progress; // its move calls `when` again and compensates with the error
  }
  return { ...progress, inFlight: step.name };
}

function pastDeadline(rt: SagaRuntime, progress: SagaProgress): boolean {
  return progress.deadlineAt !== undefined && rt.clock.now() >= progress.deadlineAt;
}

/** Claims the step (unless claimed already), sends its command under the step's message id, and records the Result. */
async function send(rt: SagaRuntime, instance: SagaInstance, step: SendStep): Promise<Move> {
  const recovered = instance.progress.inFlight === step.name;
  const claimed = recovered
    ? instance
    : await rt.write(instance, { progress: { ...instance.progress, inFlight: step.name } });
  if (claimed === undefined) return "again";
  let payload: unknown;
  try {
    payload = step.payload(claimed.state);
  } catch (thrown) {
    return compensate(rt, claimed, rt.userError(thrown, step.name), false);
  }
  const sendOnce = () => {
    const deadlineAt = claimed.progress.deadlineAt;
    const bounds = [
      ...(step.timeoutMs === undefined ? [] : [step.timeoutMs]),
      ...(deadlineAt === undefined ? [] : [Math.max(1, deadlineAt - rt.clock.now())]),
    ];
    const info = {
      saga: rt.name,
      id: claimed.id,
      step: step.name,
      kind: "step",
      trace: claimed.progress.trace,
    } as const;
    return rt.traced(info, () =>
      rt.sendCommand(
        step.contract,
        payload,
        `${rt.name}:${claimed.id}:${step.name}`,
        claimed.id,
        bounds.length === 0 ? undefined : Math.min(...bounds),
      ),
    );
  };
  let result = await sendOnce();
  if (recovered && isDuplicate(result)) {
    rt.logger().info("saga step sent again is a duplicate; waiting it out", {
      saga: rt.name,
      id: claimed.id,
      step: step.name,
    });
    // A durable step sent again inside JetStream's duplicate window: the first send's Result went
    // to whoever sent it — another activation still at work, or a process that died. Wait: either
    // that activation records the step (the instance moves on), or the window passes and the
    // step is sent again for real (its handler, idempotent by message id, answers again).
    const outcome = await outwait(rt, claimed, step, sendOnce);
    if (outcome === "moved") return "again";
    result = outcome;
  }
  return record(rt, claimed, step, result);
}

/**
 * Records a step's Result. Another activation may have written meanwhile (an event recorded by a
 * step's own handler, a concurrent advance): while the instance still has this step in flight, the
 * Result is applied to the fresh copy, never sent again.
 */
async function record(
  rt: SagaRuntime,
  claimed: SagaInstance,
  step: SendStep,
  result: Result<unknown>,
): Promise<Move> {
  for (let current: SagaInstance | undefined = claimed; ; ) {
    if (current?.status !== "running" || current.progress.inFlight !== step.name) return "again";
    let written: SagaInstance | undefined;
    if (result.ok) {
      let state: unknown;
      try {
        state = rt.stored(
          step.result === undefined ? current.state : step.result(current.state, result.value),
          `saga ${rt.name}: step ${step.name}'s result`,
          current.id,
        );
      } catch (thrown) {
        return compensate(rt, current, rt.userError(thrown, step.name), true); // the effect happened
      }
      const next = current.step + 1;
      const progress = {
        ...current.progress,
        done: [...current.progress.done, step.name],
        inFlight: undefined,
      };
      // The last step's record completes the instance in the same write (unless the deadline
      // passed: the next move compensates then, as before).
      const finished = next >= rt.saga.steps.length && !pastDeadline(rt, progress);
      written = await rt.write(current, {
        state,
        step: next,
        progress: finished ? progress : claimNext(rt, state, next, progress),
        ...(finished ? { status: "completed" as const } : {}),
      });
      if (written !== undefined && finished) {
        rt.ended(written, "completed");
        return "stop";
      }
    } else {
      const error: SagaError = { code: result.error.code, message: result.error.message, step: step.name };
      if (isDuplicate(result))
        // Still a duplicate after `stepRecoveryMs`: whether the step took effect is unknown here.
        return fail(rt, current, {
          ...error,
          message: `durable step ${step.name} stayed a duplicate for ${rt.recoveryMs} ms (its Result was lost with the process that sent it); check its effect, then resume (compensate) or abort`,
        });
      written = await rt.write(
        current,
        compensation(rt, current, error, result.error.code === ErrorCodes.TIMEOUT),
      );
    }
    if (written !== undefined) return "again";
    current = await rt.read(claimed.id);
  }
}

/**
 * Waits while a resent durable step is a duplicate: "moved" once another activation recorded it,
 * else the first Result that is not a duplicate (or the last duplicate after `stepRecoveryMs`).
 */
async function outwait(
  rt: SagaRuntime,
  claimed: SagaInstance,
  step: SendStep,
  sendOnce: () => Promise<Result<unknown>>,
): Promise<"moved" | Result<unknown>> {
  const until = rt.clock.now() + rt.recoveryMs;
  let pause = 250;
  for (;;) {
    await rt.clock.sleep(Math.min(pause, Math.max(0, until - rt.clock.now())));
    pause = Math.min(pause * 2, 5_000);
    const current = await rt.read(claimed.id);
    if (current?.status !== "running" || current.progress.inFlight !== step.name) return "moved";
    const result = await sendOnce();
    if (!isDuplicate(result) || rt.clock.now() >= until) return result;
  }
}

/** Reaches a wait step: its event if it came already, else `waiting` with a timer at its timeout. */
async function reachWait(rt: SagaRuntime, instance: SagaInstance, step: WaitStep): Promise<Move> {
  if (instance.progress.received?.[step.name] !== undefined) return receive(rt, instance, step);
  const deadlineAt = instance.progress.deadlineAt ?? Number.POSITIVE_INFINITY;
  const waitUntil = Math.min(rt.clock.now() + step.timeoutMs, deadlineAt);
  const next = await rt.write(instance, {
    status: "waiting",
    progress: { ...instance.progress, waitUntil },
  });
  if (next === undefined) return "again";
  await timer(rt, instance.id, waitUntil, next.revision);
  return "stop";
}

/** One move while waiting: the event arrived, the wait or the deadline passed, or nothing yet. */
export async function waiting(rt: SagaRuntime, instance: SagaInstance): Promise<Move> {
  const step = rt.saga.steps[instance.step];
  if (step?.kind !== "wait")
    return fail(rt, instance, {
      code: ErrorCodes.CONFIG,
      message: `step ${instance.step} is not a wait step (was the saga redefined?)`,
    });
  if (instance.progress.received?.[step.name] !== undefined) return receive(rt, instance, step);
  if (rt.clock.now() < (instance.progress.waitUntil ?? 0)) return "stop"; // an event for a later step, or an early timer
  const deadline =
    instance.progress.deadlineAt !== undefined && rt.clock.now() >= instance.progress.deadlineAt;
  return compensate(
    rt,
    instance,
    deadline
      ? rt.deadlineError()
      : {
          code: ErrorCodes.TIMEOUT,
          message: `no ${step.event.type} within ${step.timeoutMs} ms`,
          step: step.name,
        },
    false,
  );
}

async function receive(rt: SagaRuntime, instance: SagaInstance, step: WaitStep): Promise<Move> {
  let state: unknown;
  try {
    const payload = instance.progress.received![step.name]; // present: checked by the callers
    state = rt.stored(
      step.result === undefined ? instance.state : step.result(instance.state, payload),
      `saga ${rt.name}: step ${step.name}'s result`,
      instance.id,
    );
  } catch (thrown) {
    return compensate(rt, instance, rt.userError(thrown, step.name), false);
  }
  await rt.write(instance, {
    status: "running",
    state,
    step: instance.step + 1,
    progress: { ...instance.progress, done: [...instance.progress.done, step.name], waitUntil: undefined },
  });
  return "again";
}
