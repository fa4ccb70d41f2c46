/**
 * Runs hosted sagas. Every activation of an instance (its start, an event, a timer, an operator's
 * resume) sends the saga's internal durable `advance` command; its handler moves the instance step by
 * step, writing the store after each, until it waits or ends. Each write names the revision it read,
 * so two activations never both move one instance; a step's command is claimed (`inFlight`) no later
 * than it is sent (the claim is written while it is sent), so a crash leaves a record of what may have
 * happened, and the redelivered `advance` (JetStream, on any instance) sends it again under the same
 * message id (docs/architecture/sagas.md).
 */

import { describe } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import type { Clock } from "../mediator/clock.js";
import type { HandlerContext } from "../mediator/context.js";
import type { AnyContract } from "../mediator/contracts.js";
import type { ExtensionTarget } from "../mediator/extension.js";
import type { Catga } from "../mediator/mediator.js";
import { type ErrResult, err, errFrom, errorInfoFrom } from "../mediator/result.js";
import { activate } from "./activation.js";
import { back } from "./compensation.js";
import type { SagaAdvance, SagaBlueprint, SagaStarted } from "./define.js";
import { SAGA_NAME } from "./define.js";
import { claimNext, forward, waiting } from "./forward.js";
import type { SagaHostOptions } from "./host.js";
import type { SagaInstance } from "./instance.js";
import { type Move, SagaRuntime } from "./runtime.js";
import { advanceId } from "./sends.js";

/** What `stored` refuses an initial state with: too large, or not JSON (a BigInt, a cycle). */
const STATE_REFUSED: ReadonlySet<string> = new Set([ErrorCodes.LIMIT, ErrorCodes.INVALID_ARGUMENT]);

/** The entry points of one hosted saga: its start, the events it waits for, the advance command. */
export class SagaEngine {
  private readonly rt: SagaRuntime;
  /** Activations of one instance in this process run one after another (fewer wasted writes). */
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly saga: SagaBlueprint,
    options: SagaHostOptions,
    target: ExtensionTarget,
  ) {
    this.rt = new SagaRuntime(saga, options, target);
    this.rt.advance = (id, fromStart) => this.advance(id, fromStart);
  }

  attach(catga: Catga<AnyContract>, clock: Clock): void {
    this.rt.attach(catga, clock);
  }

  /**
   * The start message: creates the instance (once per id) and activates it. A bad id or an initial
   * state that cannot be stored is *returned* as the start's failure (`err`), not thrown: the same
   * message would fail the same way again, so a durable start is not redelivered for it.
   */
  async start(payload: unknown, ctx: HandlerContext): Promise<SagaStarted | ErrResult> {
    const start = this.saga.start!;
    const id = start.options.id(payload);
    if (typeof id !== "string" || !SAGA_NAME.test(id))
      return err(
        ErrorCodes.INVALID_ARGUMENT,
        `saga ${this.saga.name}: the instance id from ${start.contract.type} must be 1-100 ASCII letters, digits, '_' or '-', got ${JSON.stringify(id)?.slice(0, 200)}`,
        { field: "id", saga: this.saga.name },
      );
    let state: unknown;
    try {
      const initial = start.options.init(payload);
      // The state is an object (State extends object); a JS caller's init may return anything.
      if (typeof initial !== "object" || initial === null)
        return err(
          ErrorCodes.INVALID_ARGUMENT,
          `saga ${this.saga.name}: init must return the state object, got ${describe(initial)}`,
          { field: "init", saga: this.saga.name },
        );
      state = this.rt.stored(initial, `saga ${this.saga.name}: init's state`, id);
    } catch (thrown) {
      if (thrown instanceof CatgaError && STATE_REFUSED.has(thrown.code))
        return errFrom(errorInfoFrom(thrown));
      throw thrown; // init's own error: thrown, as from any handler
    }
    const now = this.rt.clock.now();
    const deadlineMs = this.saga.deadlineMs;
    const span = this.rt.telemetry?.start(this.saga.name, id);
    const trace = span?.trace;
    let started = false;
    try {
      started = await this.insert(id, state, now, deadlineMs, trace);
    } finally {
      span?.end(started);
    }
    // Also when it existed: a start redelivered after a crash between insert and here must still
    // activate it; the advance's message id makes a repeated one a duplicate.
    await activate(this.rt, id, "start", ctx);
    return { sagaId: id, started };
  }

  private insert(
    id: string,
    state: unknown,
    now: number,
    deadlineMs: number | undefined,
    trace: string | undefined,
  ): Promise<boolean> {
    const instance: SagaInstance = {
      saga: this.saga.name,
      id,
      status: "running",
      step: 0,
      revision: 1,
      state,
      // The first step is claimed by the insert (claimNext), as each later one by the write before it.
      progress: claimNext(this.rt, state, 0, {
        startedAt: now,
        done: [],
        ...(deadlineMs === undefined ? {} : { deadlineAt: now + deadlineMs }),
        ...(trace === undefined ? {} : { trace }),
      }),
      updatedAt: now,
    };
    return this.rt.store.insert(instance).then((inserted) => {
      if (inserted) this.rt.insertedHere(instance);
      return inserted;
    });
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
        const instance = await this.rt.store.get(this.saga.name, id);
        if (instance === undefined) break;
        const open = instance.status === "running" || instance.status === "waiting";
        if (!open || index < instance.step || instance.progress.received?.[step.name] !== undefined) break;
        const next = await this.rt.write(instance, {
          progress: {
            ...instance.progress,
            received: { ...instance.progress.received, [step.name]: payload },
          },
        });
        if (next === undefined) continue; // moved meanwhile: look again
        if (instance.status === "waiting" && instance.step === index)
          await activate(this.rt, id, `event:${ctx.messageId}`, ctx);
        return;
      }
    }
  }

  /** The advance command's handler: the start's own advance may begin from the copy inserted here. */
  handleAdvance(payload: SagaAdvance | undefined, ctx: HandlerContext): Promise<void> {
    const id = payload?.id;
    const fromStart = typeof id === "string" && ctx.messageId === advanceId(this.saga.name, id, "start");
    return this.advance(id, fromStart);
  }

  /**
   * Moves the instance until it waits or ends. `fromStart`: the activation of its start, which may
   * begin from the copy inserted here (any other reads the store: the instance may have moved).
   */
  advance(id: unknown, fromStart = false): Promise<void> {
    if (typeof id !== "string")
      return Promise.reject(
        new CatgaError(ErrorCodes.INVALID_ARGUMENT, "saga advance: id must be a string", {
          details: { field: "id" },
        }),
      );
    const previous = this.running.get(id) ?? Promise.resolve();
    const run = previous.then(() => this.drive(id, fromStart));
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

  private async drive(id: string, fromStart: boolean): Promise<void> {
    this.rt.driving(id);
    try {
      let instance = await (fromStart ? this.rt.first(id) : this.rt.read(id));
      while (instance !== undefined && (await this.move(instance)) !== "stop")
        instance = await this.rt.current(id);
    } finally {
      this.rt.released(id);
    }
  }

  private move(instance: SagaInstance): Promise<Move> {
    switch (instance.status) {
      case "running":
        return forward(this.rt, instance);
      case "waiting":
        return waiting(this.rt, instance);
      case "compensating":
        return back(this.rt, instance);
      default:
        return Promise.resolve("stop"); // completed, compensated, aborted, or failed (an operator's turn)
    }
  }
}
