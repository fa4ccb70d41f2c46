import { type FieldCheck, func, IssueList, oneOf, withMethods } from "../checks.js";
import { CatgaConfigError, ErrorCodes } from "../errors.js";
import { type CircuitBreakerOptions, circuitBreakerBehavior } from "./behaviors/circuit-breaker.js";
import { type IdempotencyOptions, idempotencyBehavior } from "./behaviors/idempotency.js";
import { type LoggingOptions, loggingBehavior } from "./behaviors/logging.js";
import { type RateLimitOptions, rateLimitBehavior } from "./behaviors/rate-limit.js";
import { type RetryOptions, retryBehavior } from "./behaviors/retry.js";
import { type TimeoutOptions, timeoutBehavior } from "./behaviors/timeout.js";
import { type ValidationOptions, validationBehavior } from "./behaviors/validation.js";
import { type Clock, realClock } from "./clock.js";
import type { HandlerContext, PublishMode } from "./context.js";
import {
  type AnyContract,
  type AnyEvent,
  contractNameProblem,
  type PayloadOf,
  type ResultOf,
  type TypeOf,
} from "./contracts.js";
import { type EventRoute, eventRoute } from "./event-routes.js";
import type { ExtensionTarget, Installable, SagaTelemetry } from "./extension.js";
import { consoleLogger, type Logger } from "./logger.js";
import {
  type Catga,
  type CompiledMediator,
  type DispatchHook,
  type DispatchRecord,
  Mediator,
  type PipelineDescription,
} from "./mediator.js";
import {
  type Behavior,
  composePipeline,
  type Handler,
  handlerRun,
  handlerStep,
  type Next,
  orderBehaviors,
  type Step,
  typeCheckOf,
} from "./pipeline.js";
import { applyPreset, PRESET_NAMES, type PresetName } from "./presets.js";
import type { ErrResult } from "./result.js";
import { ROUTE_DEFAULTS, type RouteOptions, type RouteSpec, routeFields } from "./routing.js";
import { type ShardBy, shardedHandler } from "./sharding.js";
import { requestRemote, type Transport } from "./transport.js";

/**
 * The handler a contract needs: commands and queries return their declared result, or an
 * `err(code, message)` for a domain failure (the same as throwing it); an event handler's return
 * value is ignored.
 */
export type HandlerFor<C> = C extends AnyEvent
  ? (payload: PayloadOf<C>, ctx: HandlerContext) => unknown
  : (
      payload: PayloadOf<C>,
      ctx: HandlerContext,
    ) => ResultOf<C> | ErrResult | Promise<ResultOf<C> | ErrResult>;

/** Options of `.handle(contract, handler, options)`. */
export interface HandleOptions<C> {
  /**
   * Shards the contract (commands and queries; docs/architecture/cluster.md): each message's key is
   * `shardBy(payload)`, and with `cluster()` on a NATS transport exactly one live instance owns a
   * key at a time and handles its messages one after another. A key that is not a string fails
   * the send with CATGA_INVALID_ARGUMENT (`details.field` "shardBy").
   * @default none: any instance takes any message
   */
  readonly shardBy?: ShardBy<PayloadOf<C>>;
}

/** Options of `createCatga` / the builder; each also has a `with*` method. */
export interface CatgaOptions {
  /**
   * Starts from a documented set of behaviors, logger and publish mode (docs/architecture/mediator.md); the
   * other options here and later `with*` calls replace the preset's choices.
   * @default none: no behaviors
   */
  readonly preset?: PresetName;
  /**
   * Where the mediator and its behaviors log.
   * @default the console logger at level "info" ("debug" with the development preset)
   */
  readonly logger?: Logger;
  /**
   * How `publish` runs an event's local handlers: all at once, or one after another; a call
   * can override it with `PublishOptions.mode`. In process only: with a {@link transport} an
   * event's handlers (the publishing service's too) run concurrently when it is delivered.
   * @default "concurrent" ("sequential" with the development preset)
   */
  readonly publishMode?: PublishMode;
  /**
   * Omit for in-process only; pass a NATS transport to go distributed (needed by `remote`).
   * @default none: in process
   */
  readonly transport?: Transport;
}

const optionFields: Record<string, FieldCheck> = {
  preset: oneOf(PRESET_NAMES),
  logger: withMethods("debug", "info", "warn", "error"),
  publishMode: oneOf(["concurrent", "sequential"]),
  transport: withMethods("attach", "request", "publish", "close"),
};

const handleFields: Record<string, FieldCheck> = {
  shardBy: func,
};

/** Build arguments: none when every required contract has a handler, else a readable type error. */
type BuildArgs<Required, Handled> = [Exclude<Required, Handled>] extends [never]
  ? []
  : [missingHandlersFor: TypeOf<Exclude<Required, Handled>>];

/**
 * What `.saga()` accepts: the saga itself when every contract it sends is handled here or declared
 * `.remote()` (register those first), else a readable type error naming the missing contracts.
 */
type SagaArg<Sends extends AnyContract, Handled, Saga> = [Exclude<Sends, Handled>] extends [never]
  ? Saga
  : Saga & { readonly "register a handler or .remote() first for": TypeOf<Exclude<Sends, Handled>> };

interface Registration {
  readonly contract: AnyContract;
  readonly handler: Handler;
  /** Runs without the behaviors (an extension's internal driver, e.g. a saga's advance). */
  readonly plain?: boolean;
  /** Its key function, when sharded. */
  readonly shardBy?: (payload: unknown) => unknown;
}

/** Internal state, exposed to the test harness so it can rebuild with stubs. */
export interface BuilderState {
  readonly issues: IssueList;
  readonly registrations: readonly Registration[];
  readonly behaviors: readonly Behavior[];
  readonly required: readonly AnyContract[];
  readonly remotes: readonly AnyContract[];
  /** How remote sends pick an instance, per type (`.route()`). */
  readonly routes?: ReadonlyMap<string, RouteSpec>;
  logger: Logger;
  publishMode: PublishMode;
  transport: Transport | undefined;
  /** Instrumentation around every dispatch (observability); undefined keeps the fast paths. */
  hook?: DispatchHook | undefined;
  /** Given each mediator built from this state (a hosted saga sends through it), with its clock. */
  readonly built?: readonly ((catga: Catga<AnyContract>, clock: Clock) => void)[];
  /** The clock hosted sagas read and wait on; the test harness's virtual one. @default the real clock */
  readonly clock?: Clock;
  /** Spans and metrics of hosted sagas (observability). */
  readonly sagaTelemetry?: SagaTelemetry | undefined;
}

/**
 * Accumulates contracts (`Handled`: handled here or remote; `Required`: must be handled here;
 * `HandledHere`) and behaviors, then `build()` composes one pipeline per
 * contract. Problems are collected, not thrown one by one: `build()` throws a single
 * `CatgaConfigError` listing every bad option and every missing or duplicate handler.
 */
export class CatgaBuilder<
  Handled extends AnyContract = never,
  Required extends AnyContract = never,
  // Handled here (not remote): what `requires` is checked against, since a remote contract is
  // sendable but not handled by this process.
  HandledHere extends AnyContract = never,
> {
  private readonly issues = new IssueList();
  private readonly registrations: Registration[] = [];
  private readonly behaviors: Behavior[] = [];
  private readonly required: AnyContract[] = [];
  private readonly remotes: AnyContract[] = [];
  private readonly routes = new Map<string, RouteSpec>();
  private logger: Logger;
  private publishMode: PublishMode;
  private transport: Transport | undefined;
  private hook: DispatchHook | undefined;
  private sagaTelemetry: SagaTelemetry | undefined;
  private readonly built: ((catga: Catga<AnyContract>, clock: Clock) => void)[] = [];
  /** What each hosted saga sends, checked at build (for callers the types do not reach). */
  private readonly sagaSends: { readonly path: string; readonly contracts: readonly AnyContract[] }[] = [];

  /** The same as {@link createCatga}: a builder starting from `options` (a preset, logger, transport). */
  constructor(options?: CatgaOptions) {
    this.issues.checkObject("options", options, optionFields);
    this.logger = consoleLogger({ level: "info" });
    this.publishMode = "concurrent";
    this.transport = undefined;
    // Preset first, so explicit options win over what the preset chose.
    if (options?.preset !== undefined && PRESET_NAMES.includes(options.preset))
      applyPreset(this, options.preset);
    if (options?.logger !== undefined) this.logger = options.logger;
    if (options?.publishMode !== undefined) this.publishMode = options.publishMode;
    this.transport = options?.transport;
  }

  /**
   * Registers a handler. Commands and queries take exactly one; events any number. With
   * `{ shardBy }` one instance owns each key (see {@link HandleOptions.shardBy}).
   */
  handle<C extends AnyContract>(
    contract: C,
    handler: HandlerFor<C>,
    options?: C extends AnyEvent ? never : HandleOptions<C>,
  ): CatgaBuilder<Handled | C, Required, HandledHere | C> {
    if (typeof contract?.type !== "string") {
      this.issues.add("handlers", `handle() needs a contract from defineCommand/defineQuery/defineEvent`);
    } else if (typeof handler !== "function") {
      this.issues.add(`handlers.${contract.type}`, "handler must be a function");
    } else if (options !== undefined && !this.shardingOk(contract, options)) {
      // reported by shardingOk
    } else {
      const shardBy = (options as HandleOptions<C> | undefined)?.shardBy;
      this.registrations.push({
        contract,
        handler: handler as Handler,
        ...(shardBy === undefined ? {} : { shardBy: shardBy as (payload: unknown) => unknown }),
      });
    }
    return this as unknown as CatgaBuilder<Handled | C, Required, HandledHere | C>;
  }

  private shardingOk(contract: AnyContract, options: unknown): boolean {
    const path = `handlers.${contract.type}`;
    const before = this.issues.issues.length;
    this.issues.checkObject(path, options, handleFields);
    const shardBy = (options as { shardBy?: unknown } | null)?.shardBy;
    if (shardBy !== undefined && contract.kind === "event")
      this.issues.add(`${path}.shardBy`, "events cannot be sharded: every handler of an event gets it");
    if (shardBy !== undefined && (contract as { delivery?: unknown }).delivery === "durable")
      this.issues.add(
        `${path}.shardBy`,
        ".durable() commands cannot be sharded yet (docs/architecture/cluster.md)",
      );
    return this.issues.issues.length === before;
  }

  /**
   * Declares contracts served by other processes through the transport: they become sendable in
   * the types without a local handler. `build()` fails if there is no transport.
   */
  remote<C extends AnyContract[]>(...contracts: C): CatgaBuilder<Handled | C[number], Required, HandledHere> {
    this.remotes.push(...contracts);
    return this as unknown as CatgaBuilder<Handled | C[number], Required, HandledHere>;
  }

  /**
   * Chooses how sends of a contract declared `.remote()` pick the instance that handles them
   * (docs/architecture/cluster.md, "Load balancing"): a strategy, and failover for idempotent sends. Needs
   * `cluster()` on the NATS transport; without it, sends use the queue group.
   */
  route<C extends Handled>(contract: C, options: RouteOptions<C>): this {
    const type = (contract as { type?: unknown } | null | undefined)?.type;
    if (typeof type !== "string") {
      this.issues.add("routes", "route() needs a contract from defineCommand/defineQuery");
      return this;
    }
    const path = `routes.${type}`;
    const before = this.issues.issues.length;
    this.issues.checkObject(path, options, routeFields);
    if (options === undefined || options === null) this.issues.add(path, "route() needs options");
    if (this.issues.issues.length !== before) return this;
    const balance = options.balance ?? ROUTE_DEFAULTS.balance;
    if (balance === "consistent-hash" && options.hashBy === undefined)
      this.issues.add(`${path}.hashBy`, `is required with balance "consistent-hash"`);
    if (this.routes.has(type)) this.issues.add(path, "route() is declared twice for this contract");
    if (contract.kind === "event")
      this.issues.add(path, "events are not routed: every handling service gets them");
    this.routes.set(type, {
      balance,
      hashBy: options.hashBy as ((payload: unknown) => unknown) | undefined,
      idempotent: options.idempotent ?? contract.kind === "query",
      attemptTimeoutMs: options.attemptTimeoutMs ?? ROUTE_DEFAULTS.attemptTimeoutMs,
    });
    return this;
  }

  /**
   * Hosts a saga (docs/architecture/sagas.md): handles its start message, the events it waits for and its
   * internal advance command. Every command its steps send must already be handled here or
   * declared `.remote()`, or this call does not compile.
   */
  saga<Sends extends AnyContract, Adds extends AnyContract, Options>(
    saga: SagaArg<Sends, Handled, Installable<Sends, Adds, Options>>,
    options: Options,
  ): CatgaBuilder<Handled | Adds, Required, HandledHere | Adds> {
    const target: ExtensionTarget = {
      handle: (contract, handler) => this.handle(contract, handler as HandlerFor<AnyContract>),
      handlePlain: (contract, handler) => {
        this.registrations.push({ contract, handler, plain: true });
      },
      issue: (path, message) => this.issues.add(path, message),
      onBuilt: (callback) => this.built.push(callback),
      logger: () => this.logger,
      telemetry: () => this.sagaTelemetry,
    };
    if (typeof (saga as Partial<Installable<Sends, Adds, Options>>)?.install !== "function")
      this.issues.add("sagas", "saga() needs a saga from defineSaga");
    else {
      saga.install(target, options);
      const name = (saga as { name?: unknown }).name;
      this.sagaSends.push({ path: `sagas.${String(name)}`, contracts: [...saga.sends] });
    }
    return this as unknown as CatgaBuilder<Handled | Adds, Required, HandledHere | Adds>;
  }

  /** Declares contracts this process must handle: `build()` fails (in types and at start-up) without them. */
  requires<C extends AnyContract[]>(
    ...contracts: C
  ): CatgaBuilder<Handled, Required | C[number], HandledHere> {
    this.required.push(...contracts);
    return this as unknown as CatgaBuilder<Handled, Required | C[number], HandledHere>;
  }

  /** Adds the logging behavior: each message logged once with ids, outcome and duration. */
  withLogging(options?: LoggingOptions): this {
    return this.use(loggingBehavior(options, this.issues));
  }

  /** Adds the validation behavior: payloads checked against the contract's schema, handlers get its output. */
  withValidation(options?: ValidationOptions): this {
    return this.use(validationBehavior(options, this.issues));
  }

  /** Adds the idempotency behavior: a message id already handled gets its stored result replayed. */
  withIdempotency(options?: IdempotencyOptions): this {
    return this.use(idempotencyBehavior(options, this.issues));
  }

  /** Adds the retry behavior: retryable failures run again with exponential backoff and jitter. */
  withRetry(options?: RetryOptions): this {
    return this.use(retryBehavior(options, this.issues));
  }

  /** Adds the circuit breaker: one per pipeline, open (handler not called) after repeated failures. */
  withCircuitBreaker(options?: CircuitBreakerOptions): this {
    return this.use(circuitBreakerBehavior(options, this.issues));
  }

  /** Adds the rate limiter: a token bucket; past it a message fails with CATGA_RATE_LIMITED. */
  withRateLimiting(options?: RateLimitOptions): this {
    return this.use(rateLimitBehavior(options, this.issues));
  }

  /** Adds the timeout behavior: CATGA_TIMEOUT when the budget runs out, and `ctx.signal` aborted. */
  withTimeout(options?: TimeoutOptions): this {
    return this.use(timeoutBehavior(options, this.issues));
  }

  /** Sets where the mediator and its behaviors log, as {@link CatgaOptions.logger}. */
  withLogger(logger: Logger): this {
    this.issues.checkValue("options.logger", logger, optionFields.logger!);
    this.logger = logger;
    return this;
  }

  /** Sets the transport that carries messages to other processes, as {@link CatgaOptions.transport}. */
  withTransport(transport: Transport): this {
    this.issues.checkValue("options.transport", transport, optionFields.transport!);
    this.transport = transport;
    return this;
  }

  /** Sets how `publish` runs an event's local handlers, as {@link CatgaOptions.publishMode}. */
  withPublishMode(mode: PublishMode): this {
    this.issues.checkValue("options.publishMode", mode, optionFields.publishMode!);
    this.publishMode = mode;
    return this;
  }

  /**
   * Installs instrumentation around every dispatch (used by `withObservability`); replaces a previous one.
   * @internal plumbing of `@catga/native/observability`
   */
  withDispatchHook(hook: DispatchHook | undefined): this {
    this.hook = hook;
    return this;
  }

  /** Installs spans and metrics for hosted sagas (used by `withObservability`); replaces a previous one. */
  withSagaTelemetry(telemetry: SagaTelemetry | undefined): this {
    this.sagaTelemetry = telemetry;
    return this;
  }

  /** Adds a behavior; one with the same name (e.g. from a preset) is replaced in place. */
  use(behavior: Behavior): this {
    const name = (behavior as Partial<Behavior> | undefined)?.name;
    if (typeof name !== "string" || name.length === 0) {
      this.issues.add("behaviors", "a behavior needs a non-empty string name");
      return this;
    }
    if (typeof behavior.priority !== "number" || Number.isNaN(behavior.priority)) {
      this.issues.add(`behaviors.${name}.priority`, `must be a number, got ${String(behavior.priority)}`);
    }
    if (typeof behavior.create !== "function")
      this.issues.add(`behaviors.${name}.create`, "must be a function");
    const existing = this.behaviors.findIndex((b) => b.name === name);
    if (existing >= 0) this.behaviors[existing] = behavior;
    else this.behaviors.push(behavior);
    return this;
  }

  /**
   * Snapshot for the test harness and `withObservability`.
   * @internal plumbing: its shape may change in any release
   */
  state(): BuilderState {
    return {
      issues: this.issues,
      registrations: [...this.registrations],
      behaviors: [...this.behaviors],
      required: [...this.required],
      remotes: [...this.remotes],
      routes: new Map(this.routes),
      logger: this.logger,
      publishMode: this.publishMode,
      transport: this.transport,
      hook: this.hook,
      built: [...this.built],
      sagaTelemetry: this.sagaTelemetry,
    };
  }

  /** Composes every pipeline once and returns the mediator; throws CatgaConfigError on any problem. */
  build(..._missing: BuildArgs<Required, HandledHere>): Catga<Handled> {
    if (this.sagaSends.length > 0) {
      // Remotes may hold anything from JS (buildMediator reports those): never read .type off null.
      const typeOf = (c: unknown) => (c as { type?: unknown } | null | undefined)?.type;
      const known = new Set([...this.registrations.map((r) => r.contract.type), ...this.remotes.map(typeOf)]);
      for (const { path, contracts } of this.sagaSends)
        for (const type of new Set(contracts.map(typeOf)))
          if (typeof type === "string" && !known.has(type))
            this.issues.add(path, `sends ${type}, which is neither handled here nor declared .remote()`);
    }
    return buildMediator(this.state(), undefined) as unknown as Catga<Handled>;
  }
}

/** Starts a builder, optionally from a preset: `createCatga({ preset: "production" })`. */
export function createCatga(options?: CatgaOptions): CatgaBuilder {
  return new CatgaBuilder(options);
}

export function buildMediator(
  state: BuilderState,
  observer: ((record: DispatchRecord) => void) | undefined,
): Mediator {
  const issues = new IssueList();
  issues.issues.push(...state.issues.issues);
  const ordered = orderBehaviors(state.behaviors);
  const byType = new Map<string, Registration[]>();
  const contractOf = new Map<string, AnyContract>();

  // Contracts may come from elsewhere than define* (hand-made objects, another copy of the package):
  // their names are checked here against the same grammar.
  const named = new Set<string>();
  let unusable = false;
  for (const contract of [
    ...state.registrations.map((r) => r.contract),
    ...state.remotes,
    ...state.required,
  ]) {
    const type = (contract as { type?: unknown } | undefined)?.type;
    const problem = contractNameProblem(type);
    if (problem === undefined) continue;
    unusable = true;
    // Never String() an unknown value: an object without a prototype would throw.
    const shown = typeof type === "string" ? type.slice(0, 100) : `<${typeof type}>`;
    if (named.has(shown)) continue;
    named.add(shown);
    issues.add(`contracts.${shown}`, `contract name ${problem}`);
  }
  // What follows reads contract.type and .kind: with an unusable contract, report what was found.
  if (unusable) throw new CatgaConfigError(issues.issues);

  for (const registration of state.registrations) {
    const { contract } = registration;
    const known = contractOf.get(contract.type);
    if (known !== undefined && known !== contract && known.kind !== contract.kind) {
      issues.add(
        `handlers.${contract.type}`,
        `type is used by both a ${known.kind} and a ${contract.kind} contract`,
      );
      continue;
    }
    contractOf.set(contract.type, contract);
    const list = byType.get(contract.type) ?? [];
    list.push(registration);
    byType.set(contract.type, list);
  }
  // Callers and the handler must agree on how a command travels (docs/architecture/durable-commands.md): two
  // contracts of one type, one durable and one not, are refused here rather than lose commands.
  const deliveryOf = new Map<string, string>();
  const durableTypes = new Set<string>();
  for (const contract of [...state.registrations.map((r) => r.contract), ...state.remotes]) {
    if (contract.kind !== "command") continue;
    const delivery = (contract as { delivery?: unknown }).delivery === "durable" ? "durable" : "request";
    const known = deliveryOf.get(contract.type);
    if (known !== undefined && known !== delivery)
      issues.add(
        `handlers.${contract.type}`,
        "command is declared .durable() by one contract and not by another; use one contract for both",
      );
    deliveryOf.set(contract.type, delivery);
    if (delivery === "durable" && state.registrations.some((r) => r.contract === contract))
      durableTypes.add(contract.type);
  }
  for (const contract of state.required) {
    if (!byType.has(contract.type)) {
      issues.add(
        `handlers.${contract.type}`,
        `no handler registered for required ${contract.kind} (${ErrorCodes.NO_HANDLER})`,
      );
    }
  }

  if (state.remotes.length > 0 && state.transport === undefined) {
    issues.add(
      "remote",
      `${state.remotes.map((c) => c.type).join(", ")} declared remote, but no transport is configured`,
    );
  }

  const commands = new Map<string, Next>();
  const queries = new Map<string, Next>();
  const events = new Map<string, EventRoute>();
  const requestSteps = new Map<string, Step>();
  const descriptions: PipelineDescription[] = [];
  const shardKeys = new Map<string, (payload: unknown) => unknown>();

  for (const [type, list] of byType) {
    const contract = list[0]!.contract;
    if (contract.kind !== "event" && list.length > 1) {
      issues.add(
        `handlers.${type}`,
        `${list.length} handlers registered for ${contract.kind}; it must have exactly one (${ErrorCodes.DUPLICATE_HANDLER})`,
      );
      continue;
    }
    const runs: Next[] = [];
    const names: string[] = [];
    let bare = true;
    list.forEach(({ handler: given, plain, shardBy }, index) => {
      const handlerName = given.name || `handler#${index}`;
      const key = contract.kind === "event" ? `${type}#${index}` : type;
      // A sharded handler runs behind its key's owner check (docs/architecture/cluster.md).
      const handler = shardBy === undefined ? given : shardedHandler(type, shardBy, given, state.transport);
      if (shardBy !== undefined) shardKeys.set(type, shardBy);
      const { run, step, steps } = composePipeline(
        plain === true ? [] : ordered,
        { contract, kind: contract.kind, key, handlerName, remote: false },
        handlerStep(handler),
        handlerRun(handler),
      );
      if (contract.kind !== "event") requestSteps.set(type, step);
      runs.push(run);
      names.push(handlerName);
      if (steps.length > 0) bare = false;
      descriptions.push({ kind: contract.kind, type, handler: handlerName, steps: [...steps, "handler"] });
    });
    if (contract.kind === "command") commands.set(type, runs[0]!);
    else if (contract.kind === "query") queries.set(type, runs[0]!);
    else events.set(type, eventRoute(type, runs, names, bare ? list.map((r) => r.handler) : undefined));
  }

  // Remote commands and queries get the same behaviors (logging, retry, breaker, timeout, ...)
  // around a terminal step that asks the transport; validation runs where the handler lives.
  const transport = state.transport;
  const remoteTypes = new Set<string>();
  for (const contract of state.remotes) {
    if (byType.has(contract.type)) {
      issues.add(`remote.${contract.type}`, "declared remote but also handled in this process");
      continue;
    }
    if (
      transport === undefined ||
      contract.kind === "event" ||
      commands.has(contract.type) ||
      queries.has(contract.type)
    ) {
      continue; // events need no route: publish already hands them to the transport
    }
    const handlerName = `remote:${transport.name}`;
    const { run, steps } = composePipeline(
      ordered,
      { contract, kind: contract.kind, key: contract.type, handlerName, remote: true },
      (payload, ctx) => requestRemote(transport, ctx, payload),
    );
    (contract.kind === "command" ? commands : queries).set(contract.type, run);
    remoteTypes.add(contract.type);
    descriptions.push({
      kind: contract.kind,
      type: contract.type,
      handler: handlerName,
      steps: [...steps, handlerName],
    });
  }

  for (const type of state.routes?.keys() ?? [])
    if (!state.remotes.some((c) => c.type === type))
      issues.add(`routes.${type}`, "route() applies to contracts declared .remote(); declare it first");

  const pipelineTypes = new Set([...byType.keys(), ...remoteTypes]);
  for (const behavior of ordered) typeCheckOf(behavior)?.(pipelineTypes, issues);

  if (issues.issues.length > 0) throw new CatgaConfigError(issues.issues);
  const compiled: CompiledMediator = {
    commands,
    queries,
    events,
    descriptions,
    logger: state.logger,
    publishMode: state.publishMode,
    transport: state.transport,
    observer,
    hook: state.hook,
    remoteTypes,
    requestSteps,
    durableTypes,
    shardKeys,
    routes: state.routes ?? new Map(),
  };
  const mediator = new Mediator(compiled);
  for (const callback of state.built ?? []) callback(mediator, state.clock ?? realClock);
  return mediator;
}
