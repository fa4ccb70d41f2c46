/**
 * Hosting a saga on a builder: the host options, checked with the definition, and the handlers
 * `.saga()` registers (start, events waited for, the advance command).
 */
import { IssueList, integer, number, withMethods } from "../checks.js";
import type { HandlerContext } from "../mediator/context.js";
import type { ExtensionTarget } from "../mediator/extension.js";
import type { SagaAdvance, SagaBlueprint } from "./define.js";
import { SagaEngine } from "./engine.js";
import type { SagaStore } from "./instance.js";
import { SAGA_HOST_DEFAULTS } from "./runtime.js";

/** Options of the builder's `.saga(definition, options)`. */
export interface SagaHostOptions {
  /** Where instances are kept: `InMemorySagaStore` (one process), `PostgresSagaStore` or `NatsKvSagaStore`. */
  readonly store: SagaStore;
  /**
   * Attempts at one compensation before the instance is `failed` (left to an operator). A send that
   * was never delivered (CATGA_NO_HANDLER, CATGA_NOT_CONNECTED, CATGA_BACKPRESSURE) is sent again
   * within one attempt for up to 30 s before it counts as failed.
   * @default 5
   */
  readonly compensationAttempts?: number;
  /**
   * Wait before the second attempt at a compensation; doubles on each further one (at most 30 s).
   * @default 100
   */
  readonly compensationBackoffMs?: number;
  /**
   * How long a durable step sent again after a crash may stay a JetStream duplicate (its first
   * Result lost with the process that sent it) before the instance is `failed`: keep it above the
   * command stream's `duplicateWindowMs` (2 minutes by default), after which the send goes through.
   * @default 180000
   */
  readonly stepRecoveryMs?: number;
  /**
   * A state larger than this as JSON (bytes) is logged as a warning and counted in
   * `catga.saga.state.large` (`limit: warning`): it is written at every step. Must be below
   * {@link SagaHostOptions.maxStateBytes}.
   * @default 1024
   */
  readonly stateWarningBytes?: number;
  /**
   * A state larger than this as JSON (bytes) is refused with CATGA_LIMIT: the start fails (nothing
   * stored), or the step whose result made it fails with that code and is compensated (its effect
   * happened); the state stored before it stays. Counted in `catga.saga.state.large` (`limit: max`).
   * @default 262144 (256 KiB)
   */
  readonly maxStateBytes?: number;
}

const optionFields = {
  store: withMethods("insert", "get", "update", "list"),
  compensationAttempts: integer(1, 1000),
  compensationBackoffMs: number(0, 60_000),
  stepRecoveryMs: number(0, 24 * 3600_000),
  stateWarningBytes: integer(0),
  maxStateBytes: integer(1),
};

/** Validates the host options and the definition, then registers the saga's handlers. */
export function installSaga(
  blueprint: SagaBlueprint,
  target: ExtensionTarget,
  options: SagaHostOptions,
): void {
  const issues = new IssueList();
  issues.checkObject(`sagas.${blueprint.name}.options`, options, optionFields);
  if (options?.store === undefined)
    issues.add(`sagas.${blueprint.name}.options.store`, "is required (a SagaStore)");
  const warningBytes = options?.stateWarningBytes ?? SAGA_HOST_DEFAULTS.stateWarningBytes;
  const maxBytes = options?.maxStateBytes ?? SAGA_HOST_DEFAULTS.maxStateBytes;
  if (Number.isInteger(warningBytes) && Number.isInteger(maxBytes) && warningBytes >= maxBytes)
    issues.add(
      `sagas.${blueprint.name}.options.stateWarningBytes`,
      `must be below maxStateBytes (${maxBytes}), got ${warningBytes}: a warning past the hard limit never fires`,
    );
  for (const problem of [...blueprint.problems, ...issues.issues])
    target.issue(problem.path, problem.message);
  if (blueprint.problems.length > 0 || issues.issues.length > 0) return;
  const engine = new SagaEngine(blueprint, options, target);
  // Plain: a timeout behavior would cut a saga mid-step, a retry repeat it; each step's send gets them.
  target.handlePlain(blueprint.advance, (payload: SagaAdvance, ctx: HandlerContext) =>
    engine.handleAdvance(payload, ctx),
  );
  target.handle(blueprint.start!.contract, (payload: unknown, ctx: HandlerContext) =>
    engine.start(payload, ctx),
  );
  const eventTypes = new Set<string>();
  for (const step of blueprint.steps) {
    if (step.kind !== "wait" || eventTypes.has(step.event.type)) continue;
    eventTypes.add(step.event.type);
    target.handle(step.event, (payload: unknown, ctx: HandlerContext) =>
      engine.event(step.event.type, payload, ctx),
    );
  }
  target.onBuilt((catga, clock) => engine.attach(catga, clock));
}
