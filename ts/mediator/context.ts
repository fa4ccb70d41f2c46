import type {
  Accepted,
  AnyCommand,
  AnyContract,
  AnyEvent,
  AnyQuery,
  ContractKind,
  DurableCommand,
  InputOf,
  RequestCommand,
  ResultOf,
} from "./contracts.js";
import { idClock, uuidv7 } from "./ids.js";
import type { Logger } from "./logger.js";
import type { Result } from "./result.js";
import type { Scheduled, SchedulePublishOptions, ScheduleSendOptions } from "./schedule.js";

/** A message's headers: string pairs carried with it across processes (e.g. W3C `traceparent`). */
export type Headers = Readonly<Record<string, string>>;

/** Per-message options for `send`, `query` and `publish`. All optional. */
export interface SendOptions {
  /**
   * The message's id; supply your own (e.g. from an inbound request) to make retries idempotent.
   * @default a new UUIDv7
   */
  readonly messageId?: string;
  /**
   * Id shared by every message of one flow (for tracing and logs).
   * @default the causing message's correlation id, else this message's own `messageId`
   */
  readonly correlationId?: string;
  /**
   * Id of the message that caused this one.
   * @default the causing message's id when sent from a handler, else none
   */
  readonly causationId?: string;
  /**
   * Carried to handlers and transports (e.g. W3C `traceparent`); replaces, not merges with, the
   * cause's headers.
   * @default the causing message's headers, else none
   */
  readonly headers?: Headers;
  /**
   * Cancels the message; handlers see it as `ctx.signal` (combined with any timeout).
   * @default the causing message's signal, else never aborted
   */
  readonly signal?: AbortSignal;
}

/**
 * What a durable command's `send` waits for: `"accepted"` until JetStream stored it (resolves
 * with {@link Accepted}), `"result"` until its handler's Result came back (resolves with it).
 */
export type DurableAwait = "accepted" | "result";

/** `send` options of a durable command that waits until JetStream stored it (the default). */
export interface AcceptedSendOptions extends SendOptions {
  /**
   * Wait until JetStream stored the command; the handler runs later, on any instance.
   * @default "accepted"
   */
  readonly await?: "accepted";
}

/**
 * `send` options of a durable command that waits for its handler's Result. The wait is bounded
 * by {@link SendOptions.signal}, else by the transport's `requestTimeoutMs`; on expiry the
 * Result is CATGA_TIMEOUT, and the command is still handled (it is stored).
 */
export interface ResultSendOptions extends SendOptions {
  /** Wait for the handler's Result, delivered back to this process. */
  readonly await: "result";
}

/** The options of a durable command's `send`: what it waits for, plus the {@link SendOptions}. */
export type DurableSendOptions = AcceptedSendOptions | ResultSendOptions;

/** Options for `publish`: the same as `send`, plus how handlers run. */
export interface PublishOptions extends SendOptions {
  /**
   * How this event's local handlers run; overrides `CatgaOptions.publishMode` for this call.
   * In process only: with a transport the handlers run when the event comes back through it.
   * @default the mediator's `publishMode` ("concurrent" unless set)
   */
  readonly mode?: PublishMode;
}

/** How an event's local handlers run: all at once (`concurrent`) or one after another, in registration order. */
export type PublishMode = "concurrent" | "sequential";

/** Outcome of a successful publish. */
export interface PublishReport {
  /**
   * Number of local handlers that ran in process and succeeded; 0 with a transport, where
   * `publish` resolves once the transport took the event and handlers run on delivery.
   */
  readonly handled: number;
}

/**
 * The calls of everything that sends messages — the mediator and a handler's context (the test
 * harness repeats them, as a class must): one list of overloads, so they cannot drift apart.
 * `Handled` narrows `send`/`query` to contracts with a handler or `.remote()` declaration.
 */
export interface Messaging<Handled extends AnyContract = AnyContract> {
  /**
   * Sends a command to its handler (here or through the transport). A `.durable()` command
   * resolves with {@link Accepted} once JetStream stored it, with the handler's Result when
   * `options.await` is `"result"` (docs/architecture/durable-commands.md), or with its {@link Scheduled}
   * handle given `deliverAt`/`delayMs` (docs/architecture/scheduling.md).
   *
   * This overload: a durable command scheduled with `deliverAt`/`delayMs`, resolving with its
   * {@link Scheduled} handle once stored; the handler runs when it is due.
   */
  send<C extends DurableCommand & Handled>(
    contract: C,
    payload: InputOf<C>,
    options: ScheduleSendOptions,
  ): Promise<Result<Scheduled>>;
  /**
   * A durable command that waits for its handler's Result (`await: "result"`), bounded by
   * `options.signal`, else by the transport's `requestTimeoutMs` (docs/architecture/durable-commands.md).
   */
  send<C extends DurableCommand & Handled>(
    contract: C,
    payload: InputOf<C>,
    options: ResultSendOptions,
  ): Promise<Result<ResultOf<C>>>;
  /**
   * A durable command: resolves with {@link Accepted} once JetStream stored it; its handler runs
   * later, on any instance of the handling service (docs/architecture/durable-commands.md).
   */
  send<C extends DurableCommand & Handled>(
    contract: C,
    payload: InputOf<C>,
    options?: AcceptedSendOptions,
  ): Promise<Result<Accepted>>;
  /**
   * A request/reply command: runs its handler (here, or in another process through the
   * transport) and resolves with the handler's Result.
   */
  send<C extends RequestCommand & Handled>(
    contract: C,
    payload: InputOf<C>,
    options?: SendOptions,
  ): Promise<Result<ResultOf<C>>>;
  /** Asks a query's handler (here or through the transport) and resolves with its Result. */
  query<C extends AnyQuery & Handled>(
    contract: C,
    payload: InputOf<C>,
    options?: SendOptions,
  ): Promise<Result<ResultOf<C>>>;
  /** An event stored now and published when due (docs/architecture/scheduling.md); no handler runs now. */
  publish<C extends AnyEvent>(
    contract: C,
    payload: InputOf<C>,
    options: SchedulePublishOptions,
  ): Promise<Result<Scheduled>>;
  /**
   * Runs every handler of the event; one failing does not stop the others (CATGA_PUBLISH_FAILED
   * lists them). With a transport, resolves once it took the event: handlers here run when it
   * comes back, like those of every other service.
   */
  publish<C extends AnyEvent>(
    contract: C,
    payload: InputOf<C>,
    options?: PublishOptions,
  ): Promise<Result<PublishReport>>;
}

/**
 * What every handler receives next to the payload. Its `send`/`publish` are caused by this
 * message: correlation, headers and signal carry over.
 */
export interface HandlerContext extends MessageMeta, Messaging {
  /** Aborted on timeout or when the caller cancels; pass it to fetch, db drivers, etc. */
  readonly signal: AbortSignal;
  /** The mediator's logger (`CatgaOptions.logger`). */
  readonly logger: Logger;
}

/** The mediator side a context calls back into; keeps this module free of the mediator class. */
export interface Dispatcher {
  dispatch(
    kind: ContractKind,
    contract: { readonly type: string },
    payload: unknown,
    options: PublishOptions | undefined,
    parent: MessageContext | undefined,
    // biome-ignore lint/suspicious/noExplicitAny: typed by the public send/query/publish signatures
  ): Promise<Result<any>>;
}

/**
 * Makes a context copy's signal on demand (the timeout behavior); asked at most once per copy, on
 * the first read of its `signal`. What it makes for that copy it may keep in the copy's `slot`.
 */
export interface SignalSource {
  signalOf(context: MessageContext): AbortSignal;
}

const EMPTY_HEADERS: Headers = Object.freeze({});
/** Shared by every message without a caller signal: no AbortController per call on the fast path. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * The handler context. The id is made lazily and `createdAt` is the clock reading taken with it: a
 * message nobody asks about (the in-process case with no behaviors) pays for neither a UUID nor a
 * clock read. Behaviors that need them (logging, idempotency, transports) read them as the
 * message enters the pipeline, so the timestamp is the dispatch time.
 */
export class MessageContext implements HandlerContext {
  readonly kind: ContractKind;
  readonly type: string;
  readonly headers: Headers;
  readonly logger: Logger;
  readonly parent: MessageContext | undefined;
  private readonly dispatcher: Dispatcher;
  /** Ids given explicitly (caller options or an inbound envelope), else undefined until first read. */
  private id: string | undefined;
  private correlation: string | undefined;
  private causation: string | undefined;
  /** 0 until the id is made (or set from an explicit id / inbound envelope). */
  private created: number;
  /** The signal, or undefined until `signalSource` is asked for it (timeout behavior). */
  private abortSignal: AbortSignal | undefined;
  private signalSource: SignalSource | undefined;
  /** Set on copies made by `withSignal`: ids and time come from the original message. */
  private origin: MessageContext | undefined;
  /**
   * Kept here for this copy's {@link SignalSource} (the timeout behavior's call, made only when
   * the handler reads its signal or goes asynchronous); undefined otherwise.
   */
  slot: unknown;

  constructor(
    dispatcher: Dispatcher,
    logger: Logger,
    kind: ContractKind,
    type: string,
    options: SendOptions | undefined,
    parent: MessageContext | undefined,
  ) {
    this.dispatcher = dispatcher;
    this.logger = logger;
    this.kind = kind;
    this.type = type;
    this.parent = parent;
    if (options === undefined) {
      this.created = 0;
      this.id = undefined;
      this.correlation = undefined;
      this.causation = undefined;
      this.headers = parent === undefined ? EMPTY_HEADERS : parent.headers;
      this.abortSignal = parent === undefined ? NEVER_ABORTED : parent.signal;
    } else {
      this.created = options.messageId === undefined ? 0 : Date.now();
      this.id = options.messageId;
      this.correlation = options.correlationId;
      this.causation = options.causationId;
      this.headers = options.headers ?? (parent === undefined ? EMPTY_HEADERS : parent.headers);
      this.abortSignal = options.signal ?? (parent === undefined ? NEVER_ABORTED : parent.signal);
    }
    this.signalSource = undefined;
    this.origin = undefined;
    this.slot = undefined;
  }

  /**
   * The context of a message that came from another process: ids, headers and time as they
   * arrived. Arguments instead of an options object: this runs once per inbound message.
   */
  static received(
    dispatcher: Dispatcher,
    logger: Logger,
    kind: ContractKind,
    type: string,
    messageId: string,
    correlationId: string,
    causationId: string | undefined,
    headers: Headers,
    createdAt: number,
  ): MessageContext {
    const context = new MessageContext(dispatcher, logger, kind, type, undefined, undefined);
    context.id = messageId;
    context.correlation = correlationId;
    context.causation = causationId;
    (context as { headers: Headers }).headers = headers;
    context.created = createdAt;
    return context;
  }

  get signal(): AbortSignal {
    if (this.abortSignal === undefined) this.abortSignal = this.signalSource!.signalOf(this);
    return this.abortSignal;
  }

  /** False when the signal can never abort (no caller signal, no timeout), without making it. */
  get cancellable(): boolean {
    return this.abortSignal !== NEVER_ABORTED;
  }

  get messageId(): string {
    if (this.origin !== undefined) return this.origin.messageId;
    if (this.id === undefined) {
      // The cause gets its id first, so ids stay time-ordered along a causation chain even when
      // the child's id is read before the parent's.
      if (this.parent !== undefined) this.parent.messageId;
      this.id = uuidv7();
      this.created = idClock.ms;
    }
    return this.id;
  }

  get correlationId(): string {
    if (this.origin !== undefined) return this.origin.correlationId;
    if (this.correlation === undefined) {
      this.correlation = this.parent === undefined ? this.messageId : this.parent.correlationId;
    }
    return this.correlation;
  }

  get causationId(): string | undefined {
    if (this.origin !== undefined) return this.origin.causationId;
    if (this.causation === undefined && this.parent !== undefined) this.causation = this.parent.messageId;
    return this.causation;
  }

  get createdAt(): number {
    if (this.origin !== undefined) return this.origin.createdAt;
    if (this.created === 0) {
      if (this.id === undefined) this.messageId;
      else this.created = Date.now();
    }
    return this.created;
  }

  /** A copy of this message with another signal (custom behaviors); ids stay those of this message. */
  withSignal(signal: AbortSignal): MessageContext {
    const copy = this.copy();
    copy.abortSignal = signal;
    return copy;
  }

  /** Like `withSignal`, but the signal is made only if the handler reads it (timeout behavior). */
  withSignalSource(source: SignalSource): MessageContext {
    const copy = this.copy();
    copy.abortSignal = undefined;
    copy.signalSource = source;
    return copy;
  }

  private copy(): MessageContext {
    const copy = new MessageContext(
      this.dispatcher,
      this.logger,
      this.kind,
      this.type,
      undefined,
      this.parent,
    );
    (copy as { headers: Headers }).headers = this.headers;
    copy.origin = this.origin ?? this;
    return copy;
  }

  send(
    contract: AnyCommand,
    payload: unknown,
    options?: SendOptions | DurableSendOptions | ScheduleSendOptions,
    // biome-ignore lint/suspicious/noExplicitAny: the HandlerContext overloads type the result per contract
  ): Promise<Result<any>> {
    return this.dispatcher.dispatch("command", contract, payload, options, this);
  }

  query<C extends AnyQuery>(
    contract: C,
    payload: InputOf<C>,
    options?: SendOptions,
  ): Promise<Result<ResultOf<C>>> {
    return this.dispatcher.dispatch("query", contract, payload, options, this);
  }

  publish(
    contract: AnyEvent,
    payload: unknown,
    options?: PublishOptions | SchedulePublishOptions,
    // biome-ignore lint/suspicious/noExplicitAny: the HandlerContext overloads type the result per contract
  ): Promise<Result<any>> {
    return this.dispatcher.dispatch("event", contract, payload, options, this);
  }

  /** Plain snapshot for logs, tests and transports. */
  toJSON(): MessageMeta {
    return {
      kind: this.kind,
      type: this.type,
      messageId: this.messageId,
      correlationId: this.correlationId,
      causationId: this.causationId,
      createdAt: this.createdAt,
      headers: this.headers,
    };
  }
}

/** Message metadata without the payload. */
export interface MessageMeta {
  readonly kind: ContractKind;
  readonly type: string;
  /** Time-ordered UUIDv7 unless the sender supplied one. */
  readonly messageId: string;
  /** Shared by every message caused (directly or not) by the same root message. */
  readonly correlationId: string;
  /** Id of the message whose handler sent this one; undefined for a root message. */
  readonly causationId: string | undefined;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly headers: Headers;
}
