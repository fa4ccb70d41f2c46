/**
 * What every part of a hosted saga's engine shares: its definition, store and resolved options, the
 * mediator it sends through, and the two ways it touches the store — a revision-checked write and
 * the state as it will be stored.
 */
import { CatgaError, ErrorCodes } from "../errors.js";
import { type Clock, realClock } from "../mediator/clock.js";
import type { AnyCommand, AnyContract } from "../mediator/contracts.js";
import type { ExtensionTarget, SagaStepInfo, SagaTelemetry } from "../mediator/extension.js";
import type { Logger } from "../mediator/logger.js";
import type { Catga } from "../mediator/mediator.js";
import { errorInfoFrom, type Result } from "../mediator/result.js";
import type { SagaBlueprint } from "./define.js";
import type { SagaHostOptions } from "./host.js";
import type { SagaError, SagaInstance, SagaProgress, SagaStore } from "./instance.js";
import { jsonCopy, sendCommand } from "./sends.js";

/** Defaults of the {@link SagaHostOptions}. */
export const SAGA_HOST_DEFAULTS = {
  compensationAttempts: 5,
  compensationBackoffMs: 100,
  maxBackoffMs: 30_000,
  stepRecoveryMs: 180_000,
  stateWarningBytes: 1024,
  maxStateBytes: 262_144,
  /** How long a step without `timeoutMs` (or deadline) is sent again while nobody serves it (CATGA_NO_HANDLER). */
  unservedStepMs: 30_000,
} as const;

/** Inserted copies kept for their first activation (`SagaRuntime.insertedHere`); the oldest go first. */
const INSERTED_KEPT = 10_000;

/** After one move: read the instance again and move on, or stop (it waits, ended, or needs an operator). */
export type Move = "again" | "stop";

/** A change to an instance; the revision and `updatedAt` are set by the write. */
export type InstanceChange = Partial<Pick<SagaInstance, "status" | "step" | "state">> & {
  progress?: SagaProgress;
};

/** One hosted saga's shared parts. */
export class SagaRuntime {
  readonly store: SagaStore;
  readonly attempts: number;
  readonly backoffMs: number;
  readonly recoveryMs: number;
  private readonly stateWarningBytes: number;
  private readonly maxStateBytes: number;
  private catga: Catga<AnyContract> | undefined;
  /** What the engine reads and waits on: the real clock, or a test's virtual one (set at build). */
  clock: Clock = realClock;
  /** Spans and metrics (observability), read at build; undefined costs nothing. */
  telemetry: SagaTelemetry | undefined;
  /**
   * Moves the instance in this process (the advance command's handler); set by the engine.
   * `fromStart`: the start's own activation (it may begin from the copy inserted here).
   */
  advance: (id: string, fromStart?: boolean) => Promise<void> = () => Promise.resolve();

  constructor(
    readonly saga: SagaBlueprint,
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

  attach(catga: Catga<AnyContract>, clock: Clock): void {
    this.catga = catga;
    this.clock = clock;
    this.telemetry = this.target.telemetry();
  }

  get name(): string {
    return this.saga.name;
  }

  logger(): Logger {
    return this.target.logger();
  }

  mediator(): Catga<AnyContract> {
    if (this.catga === undefined)
      throw new CatgaError(ErrorCodes.CONFIG, `saga ${this.saga.name}: the mediator is not built yet`);
    return this.catga;
  }

  /** Cancels a scheduled timer, best effort (not awaited; no scheduling transport: nothing to do). */
  cancelTimer(id: string): void {
    const schedules = (
      this.catga?.transport as { schedules?: { cancel(id: string): Promise<unknown> } } | undefined
    )?.schedules;
    schedules?.cancel(id).catch(() => undefined);
  }

  /**
   * While an instance is driven here: the copy of it as of this runtime's last read or successful
   * write, so the next move starts from it instead of reading it back (one store round trip less
   * per move). A stale copy is harmless: its first write fails on the revision and it is read again.
   */
  private readonly latest = new Map<string, SagaInstance | undefined>();

  /**
   * Instances inserted here whose start's activation has not run here yet: that advance starts from
   * the inserted copy instead of reading it back (a store round trip less per saga, on its critical
   * path). Only the start's own advance uses it (any other activation reads: when the start's went
   * to another process, the instance has moved); stale only if another process moved it in between,
   * harmless as above (the step claimed by the insert is sent again under its id).
   */
  private readonly inserted = new Map<string, SagaInstance>();

  /** Keeps the copy just inserted for the instance's first activation in this process. */
  insertedHere(instance: SagaInstance): void {
    this.inserted.set(instance.id, instance);
    if (this.inserted.size > INSERTED_KEPT) this.inserted.delete(this.inserted.keys().next().value!); // the oldest
  }

  /** Starts keeping the latest copy of `id` (the engine drives it). */
  driving(id: string): void {
    this.latest.set(id, undefined);
  }

  /** Stops keeping it. */
  released(id: string): void {
    this.latest.delete(id);
  }

  /** The copy the next move starts from: the last one read or written, else read now. */
  async current(id: string): Promise<SagaInstance | undefined> {
    return this.latest.get(id) ?? this.read(id);
  }

  /** The copy a drive starts from: the one inserted here (once), else read now. */
  first(id: string): Promise<SagaInstance | undefined> {
    const inserted = this.inserted.get(id);
    if (inserted === undefined) return this.read(id);
    this.inserted.delete(id);
    if (this.latest.has(id)) this.latest.set(id, inserted);
    return Promise.resolve(inserted);
  }

  /** Reads the instance (and keeps the copy while it is driven here). */
  async read(id: string): Promise<SagaInstance | undefined> {
    this.inserted.delete(id);
    this.forget(id);
    const instance = await this.store.get(this.saga.name, id);
    if (this.latest.has(id)) this.latest.set(id, instance);
    return instance;
  }

  /** Writes the next revision; undefined when another activation wrote first. */
  async write(instance: SagaInstance, change: InstanceChange): Promise<SagaInstance | undefined> {
    const next: SagaInstance = {
      ...instance,
      ...change,
      revision: instance.revision + 1,
      updatedAt: this.clock.now(),
    };
    this.forget(instance.id); // until the write is known to have landed
    if (!(await this.store.update(next))) return undefined;
    if (this.latest.has(next.id)) this.latest.set(next.id, next);
    return next;
  }

  private forget(id: string): void {
    if (this.latest.has(id)) this.latest.set(id, undefined);
  }

  /**
   * The state as it will be stored: JSON, at most `maxStateBytes` (else CATGA_LIMIT: the start
   * fails, or the step that made it fails and is compensated; the state stored before stays), with
   * a warning past `stateWarningBytes`. Both are reported to the logger and the telemetry
   * (`catga.saga.state.large`). `step`: the step whose result it is (none for the start's `init`).
   */
  stored(value: unknown, what: string, id: string, step?: string): unknown {
    const { value: copy, bytes } = jsonCopy(value, what);
    if (bytes > this.maxStateBytes) {
      this.telemetry?.largeState?.({ saga: this.saga.name, id, step, bytes, limit: "max" });
      throw new CatgaError(
        ErrorCodes.LIMIT,
        `${what} is ${bytes} bytes as JSON, more than maxStateBytes (${this.maxStateBytes}): keep ids in the state, not documents`,
        {
          details: {
            field: "state",
            bytes,
            limit: this.maxStateBytes,
            ...(step === undefined ? {} : { step }),
          },
        },
      );
    }
    if (bytes > this.stateWarningBytes) {
      this.logger().warn("saga state is large", {
        saga: this.saga.name,
        id,
        ...(step === undefined ? {} : { step }),
        bytes,
        warningBytes: this.stateWarningBytes,
      });
      this.telemetry?.largeState?.({ saga: this.saga.name, id, step, bytes, limit: "warning" });
    }
    return copy;
  }

  /** Sends a step's or compensation's command; a durable one waits for its handler's Result. */
  sendCommand(
    contract: AnyCommand,
    payload: unknown,
    messageId: string,
    id: string,
    timeoutMs: number | undefined,
  ): Promise<Result<unknown>> {
    return sendCommand(
      this.mediator(),
      contract,
      payload,
      messageId,
      `${this.saga.name}:${id}`,
      timeoutMs,
      this.clock,
    );
  }

  /** Runs a step's or compensation's send, in a span of the instance's trace when traced. */
  traced(info: SagaStepInfo, run: () => Promise<Result<unknown>>): Promise<Result<unknown>> {
    return this.telemetry === undefined ? run() : this.telemetry.step(info, run);
  }

  /** Reports a write that ended (or stopped) the instance; once per transition, after its write. */
  ended(instance: SagaInstance, status: "completed" | "compensated" | "failed"): void {
    this.telemetry?.ended({
      saga: this.saga.name,
      id: instance.id,
      status,
      startedAt: instance.progress.startedAt,
      resumed: instance.progress.operator?.action === "resume",
    });
  }

  deadlineError(): SagaError {
    return { code: ErrorCodes.TIMEOUT, message: `saga deadline of ${this.saga.deadlineMs} ms passed` };
  }

  userError(thrown: unknown, step: string): SagaError {
    const info = errorInfoFrom(thrown);
    return { code: info.code, message: info.message, step };
  }
}
