/**
 * Runs hosted sagas. Every activation of an instance (its start, an event, a timer, an operator's
 * resume) sends the saga's internal durable `advance` command; its handler moves the instance step by
 * step, writing the store after each, until it waits or ends. Each write names the revision it read,
 * so two activations never both move one instance; a step's command is claimed (`inFlight`) before
 * it is sent, so a crash leaves a record of what may have happened, and the redelivered `advance`
 * (JetStream, on any instance) sends it again under the same message id (docs/sagas.md).
 */
import { MAX_DELAY_MS } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import type { HandlerContext } from "../mediator/context.js";
import type { AnyCommand, AnyContract } from "../mediator/contracts.js";
import type { ExtensionTarget } from "../mediator/extension.js";
import type { Catga } from "../mediator/mediator.js";
import { errorInfoFrom, type Result, toCatgaError } from "../mediator/result.js";
import type { SagaBlueprint, SagaStarted, StepDefinition } from "./define.js";
import { SAGA_NAME } from "./define.js";
import type { SagaHostOptions } from "./host.js";
import type { SagaError, SagaInstance, SagaProgress, SagaStore } from "./instance.js";
import { advanceId, isDuplicate, jsonCopy, sendCommand, sleep } from "./sends.js";

/** Defaults of the {@link SagaHostOptions}. */
export const SAGA_HOST_DEFAULTS = {
  compensationAttempts: 5,
  compensationBackoffMs: 100,
  maxBackoffMs: 30_000,
  stepRecoveryMs: 180_000,
  stateWarningBytes: 1024,
  maxStateBytes: 262_144,
} as const;

type Move = "again" | "stop";

/** Moves the instances of one hosted saga. */
export class SagaEngine {
  private catga: Catga<AnyContract> | undefined;
  private readonly store: SagaStore;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly recoveryMs: number;
  private readonly stateWarningBytes: number;
  private readonly maxStateBytes: number;
  /** Activations of one instance in this process run one after another (fewer wasted writes). */
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly saga: SagaBlueprint,
    options: SagaHostOptions,
    private readonly target: ExtensionTarget,
  ) {
    this.store = options.store;
    this.attempts = options.compensationAttempts ?? SAGA_HOST_DEFAULTS.compensationAttempts;
    this.backoffMs = options.compensationBackoffMs ?? SAGA_HOST_DEFAULTS.compensationBackoffMs;
    this.recoveryMs = options.stepRecoveryMs ?? SAGA_HOST_DEFAULTS.stepRecoveryMs;
    this.stateWarningBytes = options.stateWarningBytes ?? SAGA_HOST_DEFAULTS.stateWarningBytes;
    this.maxStateBytes = options.maxStateBytes ?? SAGA_HOST_DEFAULTS.maxStateBytes;
  }

  attach(catga: Catga<AnyContract>): void {
    this.catga = catga;
  }

  /** The start message: creates the instance (once per id) and activates it. */
  async start(payload: unknown, ctx: HandlerContext): Promise<SagaStarted> {
    const start = this.saga.start!;
    const id = start.options.id(payload);
    if (typeof id !== "string" || !SAGA_NAME.test(id))
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `saga ${this.saga.name}: the instance id from ${start.contract.type} must be 1-100 ASCII letters, digits, '_' or '-', got ${JSON.stringify(id)}`,
        { details: { field: "id", saga: this.saga.name } },
      );
    const state = this.stored(start.options.init(payload), `saga ${this.saga.name}: init's state`, id);
    const now = Date.now();
    const deadlineMs = this.saga.deadlineMs;
    const started = await this.store.insert({
      saga: this.saga.name,
      id,
      status: "running",
      step: 0,
      revision: 1,
      state,
      progress: {
        startedAt: now,
        done: [],
        ...(deadlineMs === undefined ? {} : { deadlineAt: now + deadlineMs }),
      },
      updatedAt: now,
    });
    // Also when it existed: a start redelivered after a crash between insert and here must still
    // activate it; the advance's message id makes a repeated one a duplicate.
    await this.activate(id, "start", ctx);
    return { sagaId: id, started };
  }

  /** An event some wait step of this saga is for: recorded on its instance, which moves on if waiting. */
  async event(type: string, payload: unknown, ctx: HandlerContext): Promise<void> {
    for (let index = 0; index < this.saga.steps.length; index++) {
      const step = this.saga.steps[index]!;
      if (step.kind !== "wait" || step.event.type !== type) continue;
      let id: unknown;
      try {
        id = step.key(payload);
      } catch (thrown) {
        ctx.logger.warn("saga event key failed", {
          saga: this.saga.name,
          step: step.name,
          error: errorInfoFrom(thrown).message,
        });
        continue;
      }
      if (typeof id !== "string") continue;
      for (;;) {
        const instance = await this.store.get(this.saga.name, id);
        if (instance === undefined) break;
        const open = instance.status === "running" || instance.status === "waiting";
        if (!open || index < instance.step || instance.progress.received?.[step.name] !== undefined) break;
        const next = await this.write(instance, {
          progress: {
            ...instance.progress,
            received: { ...instance.progress.received, [step.name]: payload },
          },
        });
        if (next === undefined) continue; // moved meanwhile: look again
        if (instance.status === "waiting" && instance.step === index)
          await this.activate(id, `event:${ctx.messageId}`, ctx);
        return;
      }
    }
  }

  /** The advance command's handler: moves the instance until it waits or ends. */
  advance(id: unknown): Promise<void> {
    if (typeof id !== "string")
      return Promise.reject(
        new CatgaError(ErrorCodes.INVALID_ARGUMENT, "saga advance: id must be a string", {
          details: { field: "id" },
        }),
      );
    const previous = this.running.get(id) ?? Promise.resolve();
    const run = previous.then(() => this.drive(id));
    const tail = run.then(
      () => {},
      () => {},
    );
    this.running.set(id, tail);
    tail.then(() => {
      if (this.running.get(id) === tail) this.running.delete(id);
    });
    return run;
  }

  private async drive(id: string): Promise<void> {
    for (;;) {
      const instance = await this.store.get(this.saga.name, id);
      if (instance === undefined || (await this.move(instance)) === "stop") return;
    }
  }

  private move(instance: SagaInstance): Promise<Move> {
    switch (instance.status) {
      case "running":
        return this.forward(instance);
      case "waiting":
        return this.waiting(instance);
      case "compensating":
        return this.back(instance);
      default:
        return Promise.resolve("stop"); // completed, compensated, aborted, or failed (an operator's turn)
    }
  }

  private async forward(instance: SagaInstance): Promise<Move> {
    const { progress } = instance;
    if (progress.deadlineAt !== undefined && Date.now() >= progress.deadlineAt)
      return this.compensate(instance, this.deadlineError(), true);
    const step = this.saga.steps[instance.step];
    if (step === undefined)
      return (await this.write(instance, {
        status: "completed",
        progress: { ...progress, inFlight: undefined },
      }))
        ? "stop"
        : "again";
    if (progress.inFlight !== step.name) {
      let skip: boolean;
      try {
        skip = step.when !== undefined && !step.when(instance.state);
      } catch (thrown) {
        return this.compensate(instance, this.userError(thrown, step.name), false);
      }
      if (skip) {
        await this.write(instance, { step: instance.step + 1 });
        return "again";
      }
    }
    if (step.kind === "wait") return this.reachWait(instance, step);
    return this.send(instance, step);
  }

  /** Claims the step, sends its command under the step's message id, and records the Result. */
  private async send(instance: SagaInstance, step: StepDefinition & { kind: "send" }): Promise<Move> {
    const recovered = instance.progress.inFlight === step.name;
    const claimed = recovered
      ? instance
      : await this.write(instance, { progress: { ...instance.progress, inFlight: step.name } });
    if (claimed === undefined) return "again";
    let payload: unknown;
    try {
      payload = step.payload(claimed.state);
    } catch (thrown) {
      return this.compensate(claimed, this.userError(thrown, step.name), false);
    }
    const send = () => {
      const deadlineAt = claimed.progress.deadlineAt;
      const bounds = [
        ...(step.timeoutMs === undefined ? [] : [step.timeoutMs]),
        ...(deadlineAt === undefined ? [] : [Math.max(1, deadlineAt - Date.now())]),
      ];
      return this.sendCommand(
        step.contract,
        payload,
        `${this.saga.name}:${claimed.id}:${step.name}`,
        claimed.id,
        bounds.length === 0 ? undefined : Math.min(...bounds),
      );
    };
    let result = await send();
    if (recovered && isDuplicate(result)) {
      this.target.logger().info("saga step sent again is a duplicate; waiting it out", {
        saga: this.saga.name,
        id: claimed.id,
        step: step.name,
      });
      // A durable step sent again inside JetStream's duplicate window: the first send's Result went
      // to whoever sent it — another activation still at work, or a process that died. Wait: either
      // that activation records the step (the instance moves on), or the window passes and the
      // step is sent again for real (its handler, idempotent by message id, answers again).
      const outcome = await this.outwait(claimed, step, send);
      if (outcome === "moved") return "again";
      result = outcome;
    }
    return this.record(claimed, step, result);
  }

  /**
   * Records a step's Result. Another activation may have written meanwhile (an event recorded by a
   * step's own handler, a concurrent advance): while the instance still has this step in flight, the
   * Result is applied to the fresh copy, never sent again.
   */
  private async record(
    claimed: SagaInstance,
    step: StepDefinition & { kind: "send" },
    result: Result<unknown>,
  ): Promise<Move> {
    for (let current: SagaInstance | undefined = claimed; ; ) {
      if (current?.status !== "running" || current.progress.inFlight !== step.name) return "again";
      let written: SagaInstance | undefined;
      if (result.ok) {
        let state: unknown;
        try {
          state = this.stored(
            step.result === undefined ? current.state : step.result(current.state, result.value),
            `saga ${this.saga.name}: step ${step.name}'s result`,
            current.id,
          );
        } catch (thrown) {
          return this.compensate(current, this.userError(thrown, step.name), true); // the effect happened
        }
        written = await this.write(current, {
          state,
          step: current.step + 1,
          progress: { ...current.progress, done: [...current.progress.done, step.name], inFlight: undefined },
        });
      } else {
        const error: SagaError = { code: result.error.code, message: result.error.message, step: step.name };
        if (isDuplicate(result))
          // Still a duplicate after `stepRecoveryMs`: whether the step took effect is unknown here.
          return this.fail(current, {
            ...error,
            message: `durable step ${step.name} stayed a duplicate for ${this.recoveryMs} ms (its Result was lost with the process that sent it); check its effect, then resume (compensate) or abort`,
          });
        written = await this.write(
          current,
          this.compensation(current, error, result.error.code === ErrorCodes.TIMEOUT),
        );
      }
      if (written !== undefined) return "again";
      current = await this.store.get(this.saga.name, claimed.id);
    }
  }

  /**
   * Waits while a resent durable step is a duplicate: "moved" once another activation recorded it,
   * else the first Result that is not a duplicate (or the last duplicate after `stepRecoveryMs`).
   */
  private async outwait(
    claimed: SagaInstance,
    step: StepDefinition & { kind: "send" },
    send: () => Promise<Result<unknown>>,
  ): Promise<"moved" | Result<unknown>> {
    const until = Date.now() + this.recoveryMs;
    let pause = 250;
    for (;;) {
      await sleep(Math.min(pause, Math.max(0, until - Date.now())));
      pause = Math.min(pause * 2, 5_000);
      const current = await this.store.get(this.saga.name, claimed.id);
      if (current?.status !== "running" || current.progress.inFlight !== step.name) return "moved";
      const result = await send();
      if (!isDuplicate(result) || Date.now() >= until) return result;
    }
  }

  private async reachWait(instance: SagaInstance, step: StepDefinition & { kind: "wait" }): Promise<Move> {
    if (instance.progress.received?.[step.name] !== undefined) return this.receive(instance, step);
    const deadlineAt = instance.progress.deadlineAt ?? Number.POSITIVE_INFINITY;
    const waitUntil = Math.min(Date.now() + step.timeoutMs, deadlineAt);
    const next = await this.write(instance, {
      status: "waiting",
      progress: { ...instance.progress, waitUntil },
    });
    if (next === undefined) return "again";
    await this.timer(instance.id, waitUntil, next.revision);
    return "stop";
  }

  private async waiting(instance: SagaInstance): Promise<Move> {
    const step = this.saga.steps[instance.step];
    if (step?.kind !== "wait")
      return this.fail(instance, {
        code: ErrorCodes.CONFIG,
        message: `step ${instance.step} is not a wait step (was the saga redefined?)`,
      });
    if (instance.progress.received?.[step.name] !== undefined) return this.receive(instance, step);
    if (Date.now() < (instance.progress.waitUntil ?? 0)) return "stop"; // an event for a later step, or an early timer
    const deadline = instance.progress.deadlineAt !== undefined && Date.now() >= instance.progress.deadlineAt;
    return this.compensate(
      instance,
      deadline
        ? this.deadlineError()
        : {
            code: ErrorCodes.TIMEOUT,
            message: `no ${step.event.type} within ${step.timeoutMs} ms`,
            step: step.name,
          },
      false,
    );
  }

  private async receive(instance: SagaInstance, step: StepDefinition & { kind: "wait" }): Promise<Move> {
    let state: unknown;
    try {
      const payload = instance.progress.received![step.name];
      state = this.stored(
        step.result === undefined ? instance.state : step.result(instance.state, payload),
        `saga ${this.saga.name}: step ${step.name}'s result`,
        instance.id,
      );
    } catch (thrown) {
      return this.compensate(instance, this.userError(thrown, step.name), false);
    }
    await this.write(instance, {
      status: "running",
      state,
      step: instance.step + 1,
      progress: { ...instance.progress, done: [...instance.progress.done, step.name], waitUntil: undefined },
    });
    return "again";
  }

  /** Leaves the forward path: the done steps (and the in-flight one, when it may have happened) are undone in reverse. */
  private async compensate(instance: SagaInstance, error: SagaError, inFlightToo: boolean): Promise<Move> {
    await this.write(instance, this.compensation(instance, error, inFlightToo));
    return "again";
  }

  private compensation(instance: SagaInstance, error: SagaError, inFlightToo: boolean) {
    const { progress } = instance;
    const names = [...progress.done];
    if (inFlightToo && progress.inFlight !== undefined && !names.includes(progress.inFlight))
      names.push(progress.inFlight);
    const undo = names.filter((name) => this.saga.compensations.has(name));
    return {
      status: "compensating" as const,
      progress: { ...progress, undo, undoAttempts: 0, inFlight: undefined, waitUntil: undefined, error },
    };
  }

  private async back(instance: SagaInstance): Promise<Move> {
    const { progress } = instance;
    const undo = progress.undo ?? [];
    const name = undo[undo.length - 1];
    if (name === undefined) return (await this.write(instance, { status: "compensated" })) ? "stop" : "again";
    const compensation = this.saga.compensations.get(name);
    if (compensation === undefined) {
      // Nothing to undo for this step (an operator's resume lists every done step, waits included).
      await this.write(instance, { progress: { ...progress, undo: undo.slice(0, -1), undoAttempts: 0 } });
      return "again";
    }
    const attempt = (progress.undoAttempts ?? 0) + 1;
    // Claimed first: a crash mid-send makes the next delivery count (and id) a new attempt.
    const claimed = await this.write(instance, { progress: { ...progress, undoAttempts: attempt } });
    if (claimed === undefined) return "again";
    let result: Result<unknown>;
    try {
      const payload = compensation.payload(claimed.state);
      result = await this.sendCommand(
        compensation.send,
        payload,
        `${this.saga.name}:${claimed.id}:${name}:undo:${attempt}`,
        claimed.id,
        undefined,
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
        const written = await this.write(current, {
          progress: { ...current.progress, undo: still.slice(0, -1), undoAttempts: 0 },
        });
        if (written !== undefined) return "again";
        current = await this.store.get(this.saga.name, claimed.id);
      }
    }
    this.target.logger().warn("saga compensation failed", {
      saga: this.saga.name,
      id: claimed.id,
      step: name,
      attempt,
      code: result.error.code,
    });
    if (attempt >= this.attempts)
      return this.fail(claimed, {
        code: result.error.code,
        message: `compensation of ${name} failed ${attempt} times, last: ${result.error.message}`,
        step: name,
      });
    await sleep(Math.min(this.backoffMs * 2 ** (attempt - 1), SAGA_HOST_DEFAULTS.maxBackoffMs));
    return "again";
  }

  private async fail(instance: SagaInstance, error: SagaError): Promise<Move> {
    this.target.logger().error("saga failed: an operator must resume or abort it", {
      saga: this.saga.name,
      id: instance.id,
      ...error,
    });
    await this.write(instance, {
      status: "failed",
      progress: { ...instance.progress, inFlight: undefined, error },
    });
    return "again";
  }

  /** Sends a step's or compensation's command; a durable one waits for its handler's Result. */
  private sendCommand(
    contract: AnyCommand,
    payload: unknown,
    messageId: string,
    id: string,
    timeoutMs: number | undefined,
  ): Promise<Result<unknown>> {
    return sendCommand(this.mediator(), contract, payload, messageId, `${this.saga.name}:${id}`, timeoutMs);
  }

  /** Sends the advance command: stored on JetStream with a durable transport, run in place otherwise. */
  private async activate(id: string, cause: string, ctx: HandlerContext | undefined): Promise<void> {
    if (this.mediator().transport?.sendDurable === undefined) {
      // In process there is nothing to store the advance in: it runs now, apart from the start or
      // event that caused it, as it would on another instance with JetStream (so a start resolves
      // once the instance exists, and a timeout behavior on the start never cuts the saga).
      this.advance(id).catch((error: unknown) =>
        this.target.logger().error("saga advance failed; wake() the instance", {
          saga: this.saga.name,
          id,
          error: errorInfoFrom(error).message,
        }),
      );
      return;
    }
    const result = await this.mediator().send(
      this.saga.advance,
      { id },
      {
        messageId: advanceId(this.saga.name, id, cause),
        correlationId: ctx?.correlationId ?? `${this.saga.name}:${id}`,
      },
    );
    // The advance could not be stored: the start or event fails with its code and is retried
    // where it came from (a durable start or event is redelivered).
    if (!result.ok)
      throw toCatgaError({
        ...result.error,
        message: `saga ${this.saga.name}: could not activate ${id}: ${result.error.message}`,
      });
  }

  /**
   * Wakes the instance at `at`: a scheduled advance when the transport schedules (it survives this
   * process), else an in-process timer (lost with the process; docs/sagas.md).
   */
  private async timer(id: string, at: number, revision: number): Promise<void> {
    const messageId = advanceId(this.saga.name, id, `timer:${revision}`);
    const scheduled = await this.mediator().send(this.saga.advance, { id }, { messageId, deliverAt: at });
    const via = scheduled.ok ? "schedule" : "process";
    this.target.logger().debug("saga timer set", { saga: this.saga.name, id, at, via });
    if (scheduled.ok) return;
    if (scheduled.error.code !== ErrorCodes.CONFIG)
      this.target.logger().warn("saga timer not scheduled; using an in-process timer", {
        saga: this.saga.name,
        id,
        code: scheduled.error.code,
      });
    const wake = () => {
      const left = at - Date.now();
      if (left > 0) {
        setTimeout(wake, Math.min(left + 1, MAX_DELAY_MS)).unref(); // longer delays fire at once
        return;
      }
      this.advance(id).catch((error: unknown) =>
        this.target
          .logger()
          .error("saga timer failed", { saga: this.saga.name, id, error: errorInfoFrom(error).message }),
      );
    };
    setTimeout(wake, Math.min(Math.max(0, at - Date.now()) + 1, MAX_DELAY_MS)).unref();
  }

  /** Writes the next revision; undefined when another activation wrote first. */
  private async write(
    instance: SagaInstance,
    change: Partial<Pick<SagaInstance, "status" | "step" | "state">> & { progress?: SagaProgress },
  ): Promise<SagaInstance | undefined> {
    const next: SagaInstance = {
      ...instance,
      ...change,
      revision: instance.revision + 1,
      updatedAt: Date.now(),
    };
    return (await this.store.update(next)) ? next : undefined;
  }

  /**
   * The state as it will be stored: JSON, at most `maxStateBytes` (else CATGA_LIMIT: the start
   * fails, or the step is compensated), with a warning past `stateWarningBytes`.
   */
  private stored(value: unknown, what: string, id: string): unknown {
    const { value: copy, bytes } = jsonCopy(value, what);
    if (bytes > this.maxStateBytes)
      throw new CatgaError(
        ErrorCodes.LIMIT,
        `${what} is ${bytes} bytes as JSON, more than maxStateBytes (${this.maxStateBytes}): keep ids in the state, not documents`,
        { details: { field: "state", bytes, limit: this.maxStateBytes } },
      );
    if (bytes > this.stateWarningBytes)
      this.target.logger().warn("saga state is large", {
        saga: this.saga.name,
        id,
        bytes,
        warningBytes: this.stateWarningBytes,
      });
    return copy;
  }

  private deadlineError(): SagaError {
    return { code: ErrorCodes.TIMEOUT, message: `saga deadline of ${this.saga.deadlineMs} ms passed` };
  }

  private userError(thrown: unknown, step: string): SagaError {
    const info = errorInfoFrom(thrown);
    return { code: info.code, message: info.message, step };
  }

  private mediator(): Catga<AnyContract> {
    if (this.catga === undefined)
      throw new CatgaError(ErrorCodes.CONFIG, `saga ${this.saga.name}: the mediator is not built yet`);
    return this.catga;
  }
}
