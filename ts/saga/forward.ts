/**
 * The forward path of a saga instance: each step claimed (`inFlight`), its command sent under the
 * step's message id (while the claim is written, after the first) and its Result recorded; wait steps parked until their event or timeout. A step
 * sent again after a crash that JetStream calls a duplicate is waited out (docs/architecture/sagas.md).
 */
import { ErrorCodes } from "../errors.js";
import { errorInfoFrom, type Result } from "../mediator/result.js";
import { timer, timerId } from "./activation.js";
import { compensate, compensation, fail } from "./compensation.js";
import type { SendStepDefinition, StepDefinition } from "./define.js";
import type { SagaError, SagaInstance, SagaProgress } from "./instance.js";
import type { Move, SagaRuntime } from "./runtime.js";
import { isDuplicate } from "./sends.js";
import { untilServed } from "./unserved.js";

type SendStep = SendStepDefinition;
type ParallelStep = StepDefinition & { kind: "parallel" };
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
  if (step.kind === "parallel") return sendParallel(rt, instance, step);
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
  if ((step?.kind !== "send" && step?.kind !== "parallel") || pastDeadline(rt, progress)) return progress;
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
  const sendOnce = () => sendStep(rt, claimed, step, payload);
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
    const outcome = await outwait(rt, claimed, step.name, sendOnce);
    if (outcome === "moved") return "again";
    result = outcome;
  }
  return record(rt, claimed, step, result);
}

/** Sends a claimed step's command under the step's message id, bounded by its timeout and the deadline. */
function sendStep(
  rt: SagaRuntime,
  claimed: SagaInstance,
  step: SendStep,
  payload: unknown,
): Promise<Result<unknown>> {
  const deadlineAt = claimed.progress.deadlineAt;
  let timeoutMs = step.timeoutMs;
  if (deadlineAt !== undefined) {
    const left = Math.max(1, deadlineAt - rt.clock.now());
    timeoutMs = timeoutMs === undefined ? left : Math.min(timeoutMs, left);
  }
  const run = () =>
    untilServed(rt, claimed.id, step.name, "step", timeoutMs, (boundMs) =>
      rt.sendCommand(step.contract, payload, `${rt.name}:${claimed.id}:${step.name}`, claimed.id, boundMs),
    );
  if (rt.telemetry === undefined) return run();
  const info = {
    saga: rt.name,
    id: claimed.id,
    step: step.name,
    kind: "step",
    trace: claimed.progress.trace,
  } as const;
  return rt.traced(info, run);
}

/** The next step, sent while the write that claims it lands (see `record`). */
interface Ahead {
  readonly step: SendStep;
  readonly sent: Promise<Result<unknown>>;
}

/**
 * Records a step's Result, and goes on with the steps after it in this one move while they succeed:
 * the write that records step n and claims step n+1 is *pipelined* with n+1's send (both started,
 * both awaited), so a saga step costs max(store write, send) instead of their sum
 * (benches/RESULTS.md, "Sagas"). A crash before the write lands leaves step n claimed: the next
 * activation sends n again and then n+1, both under their message ids (docs/architecture/sagas.md).
 *
 * Another activation may have written meanwhile (an event recorded by a step's own handler, a
 * concurrent advance): while the instance still has this step in flight, the Result is applied to
 * the fresh copy, never sent again.
 */
async function record(
  rt: SagaRuntime,
  claimed: SagaInstance,
  step: SendStep,
  result: Result<unknown>,
): Promise<Move> {
  let current: SagaInstance | undefined = claimed;
  let ahead: Ahead | undefined;
  for (;;) {
    if (current?.status !== "running" || current.progress.inFlight !== step.name)
      return ahead === undefined ? "again" : lostAhead(rt, claimed.id, ahead);
    let written: SagaInstance | undefined;
    if (result.ok) {
      let state: unknown;
      try {
        state = rt.stored(
          step.result === undefined ? current.state : step.result(current.state, result.value),
          `saga ${rt.name}: step ${step.name}'s result`,
          current.id,
          step.name,
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
      const nextProgress = finished ? progress : claimNext(rt, state, next, progress);
      const writing = rt.write(current, {
        state,
        step: next,
        progress: nextProgress,
        ...(finished ? { status: "completed" as const } : {}),
      });
      // A retried write (lost to an event's) keeps the send already made for the next step.
      ahead ??= startAhead(rt, current, state, next, nextProgress, writing);
      written = await writing;
      if (written !== undefined && finished) {
        rt.ended(written, "completed");
        return "stop";
      }
      if (written !== undefined && ahead !== undefined) {
        // The next step, claimed by this write and already sent: record its Result the same way.
        const sent = await ahead.sent;
        step = ahead.step;
        result = sent;
        claimed = current = written;
        ahead = undefined;
        if (isDuplicate(result)) return "again"; // sent by another activation: its Result is theirs
        continue;
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
 * Sends the step the write in progress claims (a send step whose payload builds), apart from the
 * write; undefined when there is none to send (a payload that throws is left to its own move).
 */
function startAhead(
  rt: SagaRuntime,
  current: SagaInstance,
  state: unknown,
  index: number,
  progress: SagaProgress,
  writing: Promise<SagaInstance | undefined>,
): Ahead | undefined {
  const step = rt.saga.steps[index];
  if (step?.kind !== "send" || progress.inFlight !== step.name) return undefined;
  let payload: unknown;
  try {
    payload = step.payload(state);
  } catch {
    return undefined; // its move builds it again and compensates with the error
  }
  const claim = { ...current, state, step: index, progress };
  const sent = sendStep(rt, claim, step, payload).catch((thrown: unknown) => ({
    ok: false as const,
    error: errorInfoFrom(thrown),
  })) as Promise<Result<unknown>>;
  // A failed write throws out of `record` (the advance is redelivered); the send's Result is dropped.
  writing.catch(() => undefined);
  return { step, sent };
}

/**
 * The write claiming a step already sent lost to another activation that moved the instance. Going
 * forward, that activation sends the step again under the same id (the handler is idempotent); if it
 * turned to compensating, the step is added to the steps to undo, first in line, since its effect
 * may have happened. Anything else (the instance ended meanwhile) is logged at error level: an
 * operator checks the step's effect.
 */
async function lostAhead(rt: SagaRuntime, id: string, ahead: Ahead): Promise<Move> {
  await ahead.sent;
  const name = ahead.step.name;
  for (;;) {
    const current = await rt.read(id);
    if (current === undefined) return "again";
    const { progress } = current;
    if (current.status === "running" || current.status === "waiting") return "again";
    if (progress.done.includes(name) || progress.undo?.includes(name) || !rt.saga.compensations.has(name))
      return "again";
    if (current.status !== "compensating") {
      rt.logger().error("saga step sent while another activation ended the instance: check its effect", {
        saga: rt.name,
        id,
        step: name,
        status: current.status,
      });
      return "again";
    }
    const undo = [...(progress.undo ?? []), name];
    if ((await rt.write(current, { progress: { ...progress, undo, undoAttempts: 0 } })) !== undefined)
      return "again";
  }
}

/**
 * Waits while a resent durable step is a duplicate: "moved" once another activation recorded it,
 * else the first Result that is not a duplicate (or the last duplicate after `stepRecoveryMs`).
 */
async function outwait(
  rt: SagaRuntime,
  claimed: SagaInstance,
  inFlight: string,
  sendOnce: () => Promise<Result<unknown>>,
): Promise<"moved" | Result<unknown>> {
  const until = rt.clock.now() + rt.recoveryMs;
  let pause = 250;
  for (;;) {
    await rt.clock.sleep(Math.min(pause, Math.max(0, until - rt.clock.now())));
    pause = Math.min(pause * 2, 5_000);
    const current = await rt.read(claimed.id);
    if (current?.status !== "running" || current.progress.inFlight !== inFlight) return "moved";
    const result = await sendOnce();
    if (!isDuplicate(result) || rt.clock.now() >= until) return result;
  }
}

/**
 * A parallel step: claimed as a whole (`inFlight` is its name), its branches sent together, each
 * under its own message id, and their Results recorded in one write once all are in (fan-in).
 */
async function sendParallel(rt: SagaRuntime, instance: SagaInstance, group: ParallelStep): Promise<Move> {
  const recovered = instance.progress.inFlight === group.name;
  const claimed = recovered
    ? instance
    : await rt.write(instance, { progress: { ...instance.progress, inFlight: group.name } });
  if (claimed === undefined) return "again";
  let payloads: unknown[];
  try {
    payloads = group.branches.map((branch) => branch.payload(claimed.state));
  } catch (thrown) {
    return compensate(rt, claimed, rt.userError(thrown, group.name), false); // nothing sent yet
  }
  const completed: string[] = []; // branches that succeeded, in the order their Results came
  const results = await Promise.all(
    group.branches.map(async (branch, i): Promise<"moved" | Result<unknown>> => {
      const sendOnce = () =>
        sendStep(rt, claimed, branch, payloads[i]).catch(
          (thrown: unknown) => ({ ok: false, error: errorInfoFrom(thrown) }) as Result<unknown>,
        );
      let result = await sendOnce();
      if (recovered && isDuplicate(result)) {
        const outcome = await outwait(rt, claimed, group.name, sendOnce); // as for one step (`send`)
        if (outcome === "moved") return outcome;
        result = outcome;
      }
      if (result.ok) completed.push(branch.name);
      return result;
    }),
  );
  if (results.some((result) => result === "moved")) return "again";
  return recordParallel(rt, claimed, group, results as Result<unknown>[], completed);
}

/**
 * Records a parallel step's Results: all succeeded, their `result`s applied in declaration order
 * and the next step claimed; else compensating, the succeeded branches (and the timed-out ones,
 * whose effect may have happened) undone first, in reverse order of completion.
 */
async function recordParallel(
  rt: SagaRuntime,
  claimed: SagaInstance,
  group: ParallelStep,
  results: readonly Result<unknown>[],
  completed: readonly string[],
): Promise<Move> {
  for (let current: SagaInstance | undefined = claimed; ; ) {
    if (current?.status !== "running" || current.progress.inFlight !== group.name) return "again";
    const failedAt = results.findIndex((result) => !result.ok);
    let written: SagaInstance | undefined;
    if (failedAt === -1) {
      let state: unknown;
      try {
        state = branchResults(rt, current, group, results);
      } catch (thrown) {
        return compensate(rt, current, rt.userError(thrown, group.name), true); // every branch happened
      }
      const next = current.step + 1;
      const progress = {
        ...current.progress,
        done: [...current.progress.done, ...completed],
        inFlight: undefined,
      };
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
      const failed = results[failedAt] as Result<unknown> & { ok: false };
      const branch = group.branches[failedAt]!;
      const error: SagaError = { code: failed.error.code, message: failed.error.message, step: branch.name };
      if (results.some(isDuplicate))
        return fail(rt, current, {
          ...error,
          message: `a durable branch of ${group.name} stayed a duplicate for ${rt.recoveryMs} ms (its Result was lost with the process that sent it); check the branches' effects, then resume (compensate) or abort`,
        });
      const timedOut = group.branches
        .filter(
          (_, i) =>
            !results[i]!.ok && (results[i] as { error: { code: string } }).error.code === ErrorCodes.TIMEOUT,
        )
        .map((b) => b.name);
      // The succeeded branches' results are recorded: their compensations build payloads from them.
      let state = current.state;
      try {
        state = branchResults(rt, current, group, results);
      } catch (thrown) {
        rt.logger().warn("saga parallel step: the succeeded branches' results could not be recorded", {
          saga: rt.name,
          id: current.id,
          step: group.name,
          error: errorInfoFrom(thrown).message,
        });
      }
      const done = [...current.progress.done, ...completed];
      const change = compensation(
        rt,
        { ...current, progress: { ...current.progress, done, inFlight: undefined } },
        error,
        false,
      );
      const undo = [...change.progress.undo, ...timedOut.filter((name) => rt.saga.compensations.has(name))];
      written = await rt.write(current, { ...change, state, progress: { ...change.progress, undo } });
    }
    if (written !== undefined) return "again";
    current = await rt.read(claimed.id);
  }
}

/** The state with the `result` of each succeeded branch applied, in declaration order, as stored. */
function branchResults(
  rt: SagaRuntime,
  current: SagaInstance,
  group: ParallelStep,
  results: readonly Result<unknown>[],
): unknown {
  let state = current.state;
  group.branches.forEach((branch, i) => {
    const result = results[i]!;
    if (result.ok && branch.result !== undefined) state = branch.result(state, result.value);
  });
  return rt.stored(state, `saga ${rt.name}: step ${group.name}'s results`, current.id, group.name);
}

/** Reaches a wait step: its event if it came already, else `waiting` with a timer at its timeout. */
async function reachWait(rt: SagaRuntime, instance: SagaInstance, step: WaitStep): Promise<Move> {
  if (instance.progress.received?.[step.name] !== undefined) return receive(rt, instance, step);
  const deadlineAt = instance.progress.deadlineAt ?? Number.POSITIVE_INFINITY;
  const waitUntil = Math.min(rt.clock.now() + step.timeoutMs, deadlineAt);
  const next = await rt.write(instance, {
    status: "waiting",
    // The write makes revision + 1: the timer's id, known before it is set, so the event can cancel it.
    progress: {
      ...instance.progress,
      waitUntil,
      timer: timerId(rt.name, instance.id, instance.revision + 1),
    },
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
      step.name,
    );
  } catch (thrown) {
    return compensate(rt, instance, rt.userError(thrown, step.name), false);
  }
  const written = await rt.write(instance, {
    status: "running",
    state,
    step: instance.step + 1,
    progress: {
      ...instance.progress,
      done: [...instance.progress.done, step.name],
      waitUntil: undefined,
      timer: undefined,
    },
  });
  // The event came first: its timeout timer would only wake a saga that moved on (a scheduled
  // one stays stored until then). Best effort: a timer that fires anyway changes nothing.
  if (written !== undefined && instance.progress.timer !== undefined) rt.cancelTimer(instance.progress.timer);
  return "again";
}
