import { ErrorCodes } from "../errors.js";
import {
  type Dispatcher,
  type DurableAwait,
  type DurableSendOptions,
  MessageContext,
  type Messaging,
  NEVER_ABORTED,
  type PublishMode,
  type PublishOptions,
  type PublishReport,
  type SendOptions,
} from "./context.js";
import type { Accepted, AnyCommand, AnyContract, AnyEvent, AnyQuery, ContractKind } from "./contracts.js";
import { type EventRoute, runDirect } from "./event-routes.js";
import type { Logger } from "./logger.js";
import { checkMessageOptions } from "./message-options.js";
import type { Next, Step } from "./pipeline.js";
import { EventPublisher } from "./publish.js";
import { type ErrResult, err, errFromThrownIn, ok, type Result } from "./result.js";
import type { RouteSpec } from "./routing.js";
import { isScheduled, type SchedulePublishOptions, scheduleMessage } from "./schedule.js";
import {
  type Envelope,
  envelopeOf,
  type InboundDispatcher,
  type ReceivedMeta,
  requestRemote,
  type Transport,
} from "./transport.js";

/**
 * A built mediator. `Handled` is the union of contracts with a registered handler: `send`/`query` of any
 * other contract does not compile. Every call resolves to a Result and never rejects.
 */
export interface Catga<Handled extends AnyContract = AnyContract> extends Messaging<Handled> {
  /** Each pipeline with its steps, outermost first: the order behaviors really run in. */
  describe(): PipelineDescription[];
  /** The transport this mediator was built with; undefined for in-process only. */
  readonly transport: Transport | undefined;
  /** Detaches the transport. */
  close(): Promise<void>;
}

/** One pipeline as `describe()` reports it. */
export interface PipelineDescription {
  /** The kind of the contract it serves. */
  readonly kind: ContractKind;
  /** The contract's type name. */
  readonly type: string;
  /** The handler's function name (or `handler#n`, or `remote:<transport>` for a `.remote()` contract). */
  readonly handler: string;
  /** The steps' names in the order they run, outermost first (the last is the handler or the transport). */
  readonly steps: readonly string[];
}

/** Seen by an observer before the pipeline runs (used by the test harness to record traffic). */
export interface DispatchRecord {
  readonly kind: ContractKind;
  readonly type: string;
  readonly payload: unknown;
  readonly context: MessageContext;
}

/**
 * Wraps every dispatch (calls made through the mediator or a handler context, and envelopes coming
 * in from a transport): the seam observability plugs into. `wire` is true when the message goes
 * through the transport (a remote command/query, or an event with a transport), `inbound` when it
 * came from one. Before calling `run` the hook may replace `context.headers` (trace context).
 * `batchSize` is the inbound envelope's {@link Envelope.batchSize} (set only when the message came
 * in a transport batch of several). Without a hook the mediator keeps its fast paths.
 * @internal plumbing of `@catga/native/observability`: `context` is the mediator's own message class
 */
export interface DispatchHook {
  /** Runs `run` (the dispatch) inside the hook's work; resolves with its Result. */
  around(
    context: MessageContext,
    wire: boolean,
    inbound: boolean,
    run: () => Promise<Result<unknown>>,
    batchSize?: number,
  ): Promise<Result<unknown>>;
}

/** Everything `build()` hands the runtime: composed pipelines and settings. */
export interface CompiledMediator {
  readonly commands: Map<string, Next>;
  readonly queries: Map<string, Next>;
  readonly events: Map<string, EventRoute>;
  readonly descriptions: PipelineDescription[];
  readonly logger: Logger;
  readonly publishMode: PublishMode;
  readonly transport: Transport | undefined;
  readonly observer: ((record: DispatchRecord) => void) | undefined;
  readonly hook?: DispatchHook | undefined;
  /** Command/query types declared `.remote()`: their pipelines end in `transport.request`. */
  readonly remoteTypes?: ReadonlySet<string>;
  /** The pipelines of local commands/queries as steps that may answer at once (see `Step`). */
  readonly requestSteps?: ReadonlyMap<string, Step>;
  /** How remote sends of each routed type pick an instance (`.route()`). */
  readonly routes?: ReadonlyMap<string, RouteSpec>;
  /** Key functions of sharded contracts handled here (docs/architecture/cluster.md). */
  readonly shardKeys?: ReadonlyMap<string, (payload: unknown) => unknown>;
  /** Command types handled here whose contracts are `.durable()`. */
  readonly durableTypes?: ReadonlySet<string>;
}

function aborted(): Promise<ErrResult> {
  return Promise.resolve(err(ErrorCodes.ABORTED, "The operation was aborted"));
}

/** A JS caller passed something other than a contract from defineCommand/defineQuery/defineEvent. */
function notAContract(kind: ContractKind, contract: unknown): Promise<ErrResult> {
  const other = (contract as { kind?: unknown } | null | undefined)?.kind;
  const got =
    typeof other === "string" && other !== kind
      ? `${other === "event" ? "an" : "a"} ${other} contract (${(contract as { type?: unknown }).type})`
      : contract === null
        ? "null"
        : typeof contract;
  return Promise.resolve(
    err(
      ErrorCodes.INVALID_ARGUMENT,
      `contract must be ${kind === "event" ? "an" : "a"} ${kind} contract from define${kind[0]?.toUpperCase()}${kind.slice(1)}(), got ${got}`,
      { field: "contract" },
    ),
  );
}

export class Mediator implements Catga<AnyContract>, Dispatcher {
  private readonly commands: Map<string, Next>;
  private readonly queries: Map<string, Next>;
  private readonly events: EventPublisher;
  private readonly logger: Logger;
  private readonly observer: ((record: DispatchRecord) => void) | undefined;
  /** The transport given at build time, if any (e.g. to await its readiness). */
  readonly transport: Transport | undefined;
  private readonly publishMode: PublishMode;
  private readonly descriptions: PipelineDescription[];
  /** True when nothing but the local pipeline can run: lets `send` skip every optional check. */
  private readonly plain: boolean;
  private readonly hook: DispatchHook | undefined;
  private readonly remoteTypes: ReadonlySet<string>;
  private readonly requestSteps: ReadonlyMap<string, Step>;
  private readonly shardKeys: ReadonlyMap<string, (payload: unknown) => unknown>;
  private readonly routes: ReadonlyMap<string, RouteSpec>;
  private readonly durableTypes: ReadonlySet<string>;

  constructor(compiled: CompiledMediator) {
    this.commands = compiled.commands;
    this.queries = compiled.queries;
    this.events = new EventPublisher(
      compiled.events,
      compiled.transport,
      compiled.publishMode,
      this,
      compiled.logger,
    );
    this.logger = compiled.logger;
    this.observer = compiled.observer;
    this.transport = compiled.transport;
    this.publishMode = compiled.publishMode;
    this.descriptions = compiled.descriptions;
    this.hook = compiled.hook;
    this.remoteTypes = compiled.remoteTypes ?? new Set();
    this.requestSteps = compiled.requestSteps ?? new Map();
    this.shardKeys = compiled.shardKeys ?? new Map();
    this.routes = compiled.routes ?? new Map();
    this.durableTypes = compiled.durableTypes ?? new Set();
    this.plain = compiled.observer === undefined && compiled.hook === undefined;
    this.transport?.attach(this.inbound());
  }

  // Fast path: one Map lookup, one context object, the composed pipeline. Everything optional
  // (caller options, observers, transport fallback) goes through `dispatch`.
  send(
    contract: AnyCommand,
    payload: unknown,
    options?: SendOptions | DurableSendOptions,
    // biome-ignore lint/suspicious/noExplicitAny: the Catga<Handled> interface types the result per contract
  ): Promise<Result<any>> {
    // `?.`: a JS caller's missing contract reaches dispatchRequest, which reports it as a Result.
    const run = this.commands.get(contract?.type);
    if (run !== undefined && options === undefined && this.plain && contract.delivery !== "durable") {
      return run(
        payload,
        new MessageContext(this, this.logger, "command", contract.type, undefined, undefined),
      );
    }
    return this.dispatchRequest("command", contract, payload, options, undefined);
  }

  // biome-ignore lint/suspicious/noExplicitAny: the Catga<Handled> interface types the result per contract
  query(contract: AnyQuery, payload: unknown, options?: SendOptions): Promise<Result<any>> {
    const run = this.queries.get(contract?.type);
    if (run !== undefined && options === undefined && this.plain) {
      return run(
        payload,
        new MessageContext(this, this.logger, "query", contract.type, undefined, undefined),
      );
    }
    return this.dispatchRequest("query", contract, payload, options, undefined);
  }

  publish(
    contract: AnyEvent,
    payload: unknown,
    options?: PublishOptions | SchedulePublishOptions,
    // biome-ignore lint/suspicious/noExplicitAny: the Catga interface types the result per options
  ): Promise<Result<any>> {
    const type = contract?.type;
    if (typeof type !== "string" || contract.kind !== "event") return notAContract("event", contract);
    return this.dispatchEvent(type, payload, options, undefined);
  }

  dispatch(
    kind: ContractKind,
    contract: { readonly type: string },
    payload: unknown,
    options: PublishOptions | undefined,
    parent: MessageContext | undefined,
    // biome-ignore lint/suspicious/noExplicitAny: typed by the public send/query/publish signatures
  ): Promise<Result<any>> {
    return kind === "event"
      ? this.dispatchEvent(contract.type, payload, options, parent)
      : this.dispatchRequest(kind, contract, payload, options, parent);
  }

  /**
   * A command or query with caller options, an observer or a hook, or a `.durable()` command:
   * the full path.
   */
  private dispatchRequest(
    kind: "command" | "query",
    contract: { readonly type: string; readonly delivery?: string },
    payload: unknown,
    options: SendOptions | DurableSendOptions | undefined,
    parent: MessageContext | undefined,
    // biome-ignore lint/suspicious/noExplicitAny: typed by the public send/query signatures
  ): Promise<Result<any>> {
    const type = contract?.type;
    // A JS caller's event contract given to send (or a command to query): refused by name, not
    // looked up as a type nobody handles.
    if (typeof type !== "string" || (contract as { kind?: unknown }).kind !== kind)
      return notAContract(kind, contract);
    const context = this.begin(kind, type, payload, options, parent);
    if (!(context instanceof MessageContext)) return context;
    const durable = kind === "command" && contract.delivery === "durable";
    if (isScheduled(options)) return scheduleMessage(this.transport, context, payload, options, durable);
    // Not `options?.await`: tsup's CJS build (sucrase) turns `?.await` into an await expression,
    // a SyntaxError in the published require() entry (found by the pack smoke test).
    const awaits = options === undefined ? undefined : (options as DurableSendOptions).await;
    if (awaits !== undefined && (!durable || (awaits !== "accepted" && awaits !== "result")))
      return Promise.resolve(
        err(
          ErrorCodes.INVALID_ARGUMENT,
          durable
            ? `options.await must be "accepted" or "result", got ${JSON.stringify(awaits)}`
            : `options.await applies to .durable() commands only; ${kind} "${type}" is not one`,
          { field: "await" },
        ),
      );
    const run = (kind === "command" ? this.commands : this.queries).get(type);
    if (durable) {
      const go = () => this.sendDurable(kind, type, run, payload, context, awaits ?? "accepted");
      if (this.hook === undefined) return go();
      const wire =
        this.transport !== undefined &&
        (this.transport.sendDurable !== undefined || run === undefined || this.remoteTypes.has(type));
      return this.hook.around(context, wire, false, go);
    }
    if (this.hook !== undefined) {
      const wire = this.transport !== undefined && (run === undefined || this.remoteTypes.has(type));
      return this.hook.around(context, wire, false, () => this.request(kind, type, run, payload, context));
    }
    return this.request(kind, type, run, payload, context);
  }

  /** Its pipeline (local, or ending in the transport when declared remote), else the transport. */
  private request(
    kind: "command" | "query",
    type: string,
    run: Next | undefined,
    payload: unknown,
    context: MessageContext,
  ): Promise<Result<unknown>> {
    if (run !== undefined) return run(payload, context);
    if (this.transport !== undefined) return requestRemote(this.transport, context, payload);
    return Promise.resolve(err(ErrorCodes.NO_HANDLER, `No handler registered for ${kind} "${type}"`));
  }

  /**
   * A `.durable()` command: stored by a transport that can (NATS with JetStream), even when its
   * handler is in this process, so that it survives this process. Elsewhere (in process, the
   * in-memory bus) it runs like any command, and "accepted" means its handler succeeded.
   */
  private sendDurable(
    kind: "command" | "query",
    type: string,
    run: Next | undefined,
    payload: unknown,
    context: MessageContext,
    awaits: DurableAwait,
  ): Promise<Result<unknown>> {
    const transport = this.transport;
    if (transport?.sendDurable !== undefined) {
      const failed = (thrown: unknown) => errFromThrownIn(thrown, context.signal);
      const envelope = envelopeOf(context, payload);
      try {
        return Promise.resolve(transport.sendDurable(envelope, awaits, context.signal)).then(
          undefined,
          failed,
        );
      } catch (thrown) {
        return Promise.resolve(failed(thrown));
      }
    }
    const handled = this.request(kind, type, run, payload, context);
    if (awaits === "result") return handled;
    return handled.then((result) =>
      result.ok ? ok<Accepted>({ messageId: context.messageId, duplicate: false }) : result,
    );
  }

  /** An event: straight to the publisher when nothing optional is in play, else the full path. */
  private dispatchEvent(
    type: string,
    payload: unknown,
    options: PublishOptions | undefined,
    parent: MessageContext | undefined,
  ): Promise<Result<PublishReport>> {
    if (options === undefined && parent === undefined && this.plain)
      return this.events.publishPlain(type, payload);
    const context = this.begin("event", type, payload, options, parent);
    if (!(context instanceof MessageContext)) return context;
    if (isScheduled(options))
      // biome-ignore lint/suspicious/noExplicitAny: the Catga interface types a scheduled publish's Result
      return scheduleMessage(this.transport, context, payload, options, false) as Promise<Result<any>>;
    const mode = options?.mode ?? this.publishMode;
    // A misspelt mode would silently run concurrently: a call-time mistake, reported as one.
    if (mode !== "concurrent" && mode !== "sequential")
      return Promise.resolve(
        err(
          ErrorCodes.INVALID_ARGUMENT,
          `options.mode must be "concurrent" or "sequential", got ${JSON.stringify(mode)}`,
          { field: "mode" },
        ),
      );
    if (this.hook !== undefined) {
      const wire = this.transport !== undefined;
      return this.hook.around(context, wire, false, () =>
        this.events.publishEvent(type, payload, context, mode),
      ) as Promise<Result<PublishReport>>;
    }
    return this.events.publishEvent(type, payload, context, mode);
  }

  /**
   * The context of a message about to run, shown to the observer; or, when the caller's signal
   * (or the cause's) already aborted, the Result that ends it here.
   */
  private begin(
    kind: ContractKind,
    type: string,
    payload: unknown,
    options: SendOptions | undefined,
    parent: MessageContext | undefined,
  ): MessageContext | Promise<ErrResult> {
    if (options !== undefined) {
      const invalid = checkMessageOptions(kind, options);
      if (invalid !== undefined) return invalid;
    }
    if (options?.signal?.aborted) return aborted();
    const context = new MessageContext(this, this.logger, kind, type, options, parent);
    // Also catches a cause that was cancelled or timed out before its handler sent this message.
    // (NEVER_ABORTED first: reading `aborted` off a real AbortSignal is a checked native getter.)
    const signal = context.signal;
    if (signal !== NEVER_ABORTED && signal.aborted) return aborted();
    this.observer?.({ kind, type, payload, context });
    return context;
  }

  describe(): PipelineDescription[] {
    return this.descriptions.map((d) => ({ ...d, steps: [...d.steps] }));
  }

  async close(): Promise<void> {
    await this.transport?.close();
  }

  /** The side of this mediator a transport sees: local types and a dispatcher for inbound envelopes. */
  private inbound(): InboundDispatcher {
    const dispatch = (envelope: Envelope) => this.dispatchInbound(envelope);
    return {
      // Types declared `.remote()` are served elsewhere: subscribing to them would bounce requests
      // between instances of this service forever.
      commands: [...this.commands.keys()].filter((type) => !this.remoteTypes.has(type)),
      durableCommands: [...this.durableTypes],
      shardKeys: this.shardKeys,
      routes: this.routes,
      queries: [...this.queries.keys()].filter((type) => !this.remoteTypes.has(type)),
      events: this.events.types(),
      deliverEvent: (type, payload, meta, batchSize) => {
        const route = this.events.route(type);
        if (route === undefined) return undefined;
        // Observers, hooks and behaviors see the message as `dispatch` hands it to them.
        if (!this.plain || route.direct === undefined)
          return dispatch(receivedEnvelope("event", type, payload, meta, batchSize));
        return runDirect(route.direct, payload, this.receivedContext("event", type, meta));
      },
      deliverRequest: (kind, type, payload, meta, batchSize) => {
        const step = this.plain ? this.requestSteps.get(type) : undefined;
        const served = (kind === "command" ? this.commands : this.queries).has(type);
        if (step === undefined || !served)
          return dispatch(receivedEnvelope(kind, type, payload, meta, batchSize));
        return step(payload, this.receivedContext(kind, type, meta));
      },
      dispatch,
    };
  }

  /** The context of a message a transport read without an envelope object. */
  private receivedContext(kind: ContractKind, type: string, meta: ReceivedMeta): MessageContext {
    return MessageContext.received(
      this,
      this.logger,
      kind,
      type,
      meta.messageId,
      meta.correlationId ?? meta.messageId,
      meta.causationId ?? undefined,
      meta.headers,
      meta.createdAt,
    );
  }

  /** Runs an envelope from another process through this mediator's pipelines. */
  private dispatchInbound(envelope: Envelope): Promise<Result<unknown>> {
    const context = MessageContext.received(
      this,
      this.logger,
      envelope.kind,
      envelope.type,
      envelope.messageId,
      envelope.correlationId,
      envelope.causationId,
      envelope.headers,
      envelope.createdAt,
    );
    this.observer?.({ kind: envelope.kind, type: envelope.type, payload: envelope.payload, context });
    if (this.hook !== undefined)
      return this.hook.around(
        context,
        true,
        true,
        () => this.runInbound(envelope, context),
        envelope.batchSize,
      );
    return this.runInbound(envelope, context);
  }

  private runInbound(envelope: Envelope, context: MessageContext): Promise<Result<unknown>> {
    if (envelope.kind === "event") return this.events.receive(envelope.type, envelope.payload, context);
    const run = (envelope.kind === "command" ? this.commands : this.queries).get(envelope.type);
    if (run === undefined) {
      return Promise.resolve(
        err(ErrorCodes.NO_HANDLER, `No handler for ${envelope.kind} "${envelope.type}"`),
      );
    }
    return run(envelope.payload, context);
  }
}

/** The envelope of a message a transport read without one (for observers, hooks and behaviors). */
function receivedEnvelope(
  kind: ContractKind,
  type: string,
  payload: unknown,
  meta: ReceivedMeta,
  batchSize: number,
): Envelope {
  return {
    kind,
    type,
    messageId: meta.messageId,
    correlationId: meta.correlationId ?? meta.messageId,
    causationId: meta.causationId ?? undefined,
    createdAt: meta.createdAt,
    headers: meta.headers,
    payload,
    ...(batchSize > 1 ? { batchSize } : {}),
  };
}
