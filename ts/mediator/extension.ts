/**
 * What the builder offers a workflow registered with `.saga()` (ts/saga/): it adds handlers, reports
 * configuration issues into the builder's one `CatgaConfigError`, and receives the built mediator.
 * Kept structural so the mediator layer never imports the saga layer above it.
 */
import type { Clock } from "./clock.js";
import type { AnyContract } from "./contracts.js";
import type { Logger } from "./logger.js";
import type { Catga } from "./mediator.js";
import type { Handler } from "./pipeline.js";
import type { Result } from "./result.js";

/** The builder as seen by an extension while it installs. */
export interface ExtensionTarget {
  /** Registers a handler, as `.handle()` does. */
  handle(contract: AnyContract, handler: Handler): void;
  /**
   * Registers a handler that runs without the builder's behaviors: for an internal driver whose
   * work is the sends it makes (each of those runs through the behaviors), and which a timeout or
   * a retry around it would cut or repeat.
   */
  handlePlain(contract: AnyContract, handler: Handler): void;
  /** Adds a configuration issue, reported by `build()`. */
  issue(path: string, message: string): void;
  /** Called with the mediator once `build()` succeeded, and the clock it runs on (real, or a test's). */
  onBuilt(callback: (catga: Catga<AnyContract>, clock: Clock) => void): void;
  /** The builder's logger as set when `build()` runs. */
  logger(): Logger;
  /** The saga telemetry installed on the builder (`withObservability`), read when `build()` runs. */
  telemetry(): SagaTelemetry | undefined;
}

/** The trace of a new saga instance, opened by {@link SagaTelemetry.start}. */
export interface SagaStartSpan {
  /** The W3C `traceparent` to keep with the instance, so every later span joins its trace. */
  readonly trace: string | undefined;
  /** Ends the start: `created` false when the instance existed already (a repeated start). */
  end(created: boolean): void;
}

/** One step's or compensation's send, as {@link SagaTelemetry.step} sees it. */
export interface SagaStepInfo {
  readonly saga: string;
  readonly id: string;
  readonly step: string;
  readonly kind: "step" | "compensation";
  /** The instance's `traceparent` (from its start). */
  readonly trace: string | undefined;
  /** Compensations: the attempt (1, 2…). */
  readonly attempt?: number;
}

/** An instance written in a status that ends it (`completed`, `compensated`) or stops it (`failed`). */
export interface SagaEndInfo {
  readonly saga: string;
  readonly id: string;
  readonly status: "completed" | "compensated" | "failed";
  /** Epoch ms of the instance's start. */
  readonly startedAt: number;
  /** True when an operator resumed it from `failed` (it stopped being active then). */
  readonly resumed: boolean;
}

/** A saga state past a size limit, as {@link SagaTelemetry.largeState} sees it. */
export interface SagaStateSizeInfo {
  readonly saga: string;
  readonly id: string;
  /** The step whose result made it (absent: the start's `init`). */
  readonly step: string | undefined;
  /** Its size as JSON, in bytes. */
  readonly bytes: number;
  /** `warning`: past `stateWarningBytes`, stored anyway; `max`: past `maxStateBytes`, refused. */
  readonly limit: "warning" | "max";
}

/**
 * What a hosted saga reports, implemented by the observability layer (spans and `catga.saga.*`
 * metrics). Each transition is reported once: after the store write that made it.
 */
export interface SagaTelemetry {
  /** Opens the trace of an instance about to be created. */
  start(saga: string, id: string): SagaStartSpan;
  /** Runs one step's or compensation's send inside a span of the instance's trace. */
  step(info: SagaStepInfo, run: () => Promise<Result<unknown>>): Promise<Result<unknown>>;
  /** The instance was written as completed, compensated or failed. */
  ended(info: SagaEndInfo): void;
  /** A state past `stateWarningBytes` (stored) or `maxStateBytes` (refused: the step fails). */
  largeState?(info: SagaStateSizeInfo): void;
}

/**
 * Something `.saga()` installs: `sends` are the contracts it sends (checked against what the builder
 * handles or declares remote), `adds` the contracts it handles itself.
 */
export interface Installable<Sends extends AnyContract, Adds extends AnyContract, Options> {
  /** Contracts it sends: each must be handled by the builder or declared `.remote()`. */
  readonly sends: readonly Sends[];
  /** Contracts it handles once installed. */
  readonly adds: readonly Adds[];
  /** Registers its handlers on the builder and checks `options`. */
  install(target: ExtensionTarget, options: Options): void;
}
