import { ErrorCodes } from "../errors.js";
import type { DurableAwait, HandlerContext, Headers, MessageMeta } from "./context.js";
import { type ErrorInfo, err, errFrom, errFromThrownIn, ok, type Result } from "./result.js";
import type { RouteSpec } from "./routing.js";
import type { Scheduled } from "./schedule.js";

/**
 * A message as it crosses a process boundary. A wire transport encodes `payload` with the codec
 * chosen for `type` (e.g. msgpack, JSON) and maps the rest to envelope fields and headers
 * (W3C `traceparent` travels in `headers`).
 */
export interface Envelope extends MessageMeta {
  readonly payload: unknown;
  /**
   * Inbound only, optional: how many messages the transport delivered together with this one
   * (set by a transport only when > 1). Observability reports it as `catga.batch.size`
   * on the handler spans; nothing else reads it.
   */
  readonly batchSize?: number;
}

/** The metadata of a received message as a transport read it (no envelope object). */
export interface ReceivedMeta {
  readonly messageId: string;
  /** Null: a root message, its own correlation. */
  readonly correlationId: string | null;
  readonly causationId: string | null;
  readonly createdAt: number;
  readonly headers: Headers;
}

/** A Result as it travels back over a wire: plain data, no prototype, no `cause`. */
export type WireResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: ErrorInfo };

/** What the mediator offers a transport: the types it handles here and a way to run them. */
export interface InboundDispatcher {
  /** Command types handled in this process (NATS: queue-group subscriptions, request/reply). */
  readonly commands: readonly string[];
  /**
   * The subset of `commands` declared `.durable()`: a transport that stores commands takes them
   * from its store (NATS: a JetStream work queue) instead of serving them by request/reply.
   * @default none
   */
  readonly durableCommands?: readonly string[];
  readonly queries: readonly string[];
  /** Event types with at least one local handler (NATS: plain subscriptions). */
  readonly events: readonly string[];
  /**
   * The key functions of contracts handled here with `shardBy` (docs/architecture/cluster.md): a transport
   * that routes by key sends each message of these types to the key's owner.
   * @default none
   */
  readonly shardKeys?: ReadonlyMap<string, (payload: unknown) => unknown>;
  /**
   * How remote sends of each routed type pick an instance (`.route()`, docs/architecture/cluster.md).
   * @default none: every remote send goes to the queue group
   */
  readonly routes?: ReadonlyMap<string, RouteSpec>;
  /** Runs the local pipeline(s) for an envelope received through the transport. */
  dispatch(envelope: Envelope): Promise<Result<unknown>>;
  /**
   * Runs the local handlers of an event received through the transport (this process's own
   * events included) when nobody reads the outcome (core NATS events): the same as `dispatch`,
   * minus the envelope object and the Result.
   * Returns undefined when everything finished synchronously, else a promise that settles (never
   * rejects) when the handlers are done. `batchSize` as in {@link Envelope.batchSize}.
   */
  deliverEvent?(
    type: string,
    payload: unknown,
    meta: ReceivedMeta,
    batchSize: number,
  ): Promise<unknown> | undefined;
  /**
   * Runs a command or query received from another process: the same as `dispatch` minus the
   * envelope object. A handler that answers synchronously, through built-in behaviors only,
   * gives its Result synchronously (no promise); otherwise a promise (any thenable) of it.
   */
  deliverRequest?(
    kind: "command" | "query",
    type: string,
    payload: unknown,
    meta: ReceivedMeta,
    batchSize: number,
  ): Result<unknown> | PromiseLike<Result<unknown>>;
}

/**
 * Moves messages between processes. The mediator calls it for what is not served here: a
 * command/query with no local handler goes through `request`. An event goes to `publish` alone:
 * the publishing process runs none of its handlers in process, it gets the event back through
 * the dispatcher given to `attach`, like every other service. A command or query handled here
 * never touches the transport, so that path pays nothing for it.
 */
export interface Transport {
  readonly name: string;
  /** Called once by `build()`; subscribe to the inbound dispatcher's types (connect lazily if needed). */
  attach(inbound: InboundDispatcher): void;
  /** Request/reply; resolve with CATGA_NO_HANDLER when nobody serves the type, CATGA_TIMEOUT on expiry. */
  request(envelope: Envelope, signal: AbortSignal): Promise<Result<unknown>>;
  /**
   * Optional: stores a `.durable()` command for whichever instance of its handling service takes
   * it; resolves with `Accepted` once stored (`awaits` "accepted"), or with the handler's Result
   * (`awaits` "result", bounded by `signal` or the transport's own deadline). A transport without
   * it runs durable commands like any other (`request`, or in process).
   */
  sendDurable?(envelope: Envelope, awaits: DurableAwait, signal: AbortSignal): Promise<Result<unknown>>;
  /**
   * Delivers the event to every service that handles its type, the publishing one included: once
   * per service (its instances share it). Nothing a sender writes in the envelope may keep a
   * service from getting it.
   */
  publish(envelope: Envelope): Promise<void>;
  /**
   * Optional fast path for `publish` of a new root event: no caller options, no observer, no
   * dispatch hook. The transport mints the message's id and time itself, so the
   * mediator makes no context or envelope for it. Settles like `publish`; a transport may hand
   * the same promise to every event of one batch (the mediator maps it to a Result once).
   */
  publishNew?(type: string, payload: unknown): Promise<void>;
  /**
   * Optional: stores an event or `.durable()` command until `deliverAt` (epoch ms), then delivers
   * it as if sent then (docs/architecture/scheduling.md). Without it, scheduled sends fail with CATGA_CONFIG.
   */
  schedule?(envelope: Envelope, deliverAt: number): Promise<Result<Scheduled>>;
  /**
   * Optional: who owns each key of a sharded contract (docs/architecture/cluster.md); set by `cluster()` on a
   * NATS transport. Without it, this process owns every key.
   */
  readonly shards?: ShardGate | undefined;
  /** Stops delivering to the dispatcher and releases the transport's resources (`Catga.close`). */
  close(): Promise<void>;
}

/** Decides where a sharded contract's message runs (installed on a transport by `cluster()`). */
export interface ShardGate {
  /**
   * Runs `work` here when this instance owns `key` of `type` now, after the key's earlier messages
   * (one at a time per key): at once when none is queued or running, so a synchronous `work`
   * answers synchronously. Returns undefined when another instance owns it: the caller forwards
   * the message. When `routedHere` (a sender routed it to this instance as the owner) and the key
   * is not ours (or ownership is being handed over), a retryable refusal (CATGA_TRANSPORT with
   * `details.shard`) instead, which the sender's router retries.
   */
  run(
    type: string,
    key: string,
    routedHere: boolean,
    work: () => Result<unknown> | Promise<Result<unknown>>,
  ): Result<unknown> | Promise<Result<unknown>> | undefined;
}

/** The envelope for a message about to leave the process. */
export function envelopeOf(context: HandlerContext, payload: unknown): Envelope {
  return {
    kind: context.kind,
    type: context.type,
    messageId: context.messageId,
    correlationId: context.correlationId,
    causationId: context.causationId,
    createdAt: context.createdAt,
    headers: context.headers,
    payload,
  };
}

/** `transport.request` that resolves to an error Result instead of throwing or rejecting. */
export function requestRemote(
  transport: Transport,
  context: HandlerContext,
  payload: unknown,
): Promise<Result<unknown>> {
  const failed = (thrown: unknown) => errFromThrownIn(thrown, context.signal);
  const envelope = envelopeOf(context, payload);
  try {
    // Promise.resolve: a custom transport may answer with any thenable.
    return Promise.resolve(transport.request(envelope, context.signal)).then(undefined, failed);
  } catch (thrown) {
    return Promise.resolve(failed(thrown));
  }
}

/** Converts a wire result back into a Result with `unwrap()`. */
export function fromWire(result: WireResult): Result<unknown> {
  return result.ok ? ok(result.value) : errFrom(result.error);
}

/** Strips prototypes and `cause` so a Result can be serialized. */
export function toWire(result: Result<unknown>): WireResult {
  if (result.ok) return { ok: true, value: result.value };
  const { code, message, details } = result.error;
  return { ok: false, error: details === undefined ? { code, message } : { code, message, details } };
}

/**
 * Connects several Catga instances in one process as if they were separate services: commands
 * and queries go round-robin to the instances that handle them (like a NATS queue group), events
 * go to every instance that handles them, the publishing one included (each instance is a service
 * of its own here). Payloads are deep-copied (structuredClone), so code that would break
 * on a real wire breaks here too. Useful to test service boundaries without a server.
 */
export class InMemoryBus {
  private readonly members = new Set<InboundDispatcher>();
  private readonly cursor = new Map<string, number>();

  /** Adds a member (what `inMemoryTransport` does on `attach`); returns the function that removes it. */
  join(member: InboundDispatcher): () => void {
    this.members.add(member);
    return () => this.members.delete(member);
  }

  /**
   * Serves a command or query on the next member that handles it, never `from` (the sender);
   * CATGA_NO_HANDLER when none does, CATGA_ABORTED when `signal` already fired.
   */
  async request(
    from: InboundDispatcher | undefined,
    envelope: Envelope,
    signal: AbortSignal,
  ): Promise<Result<unknown>> {
    const list = envelope.kind === "query" ? "queries" : "commands";
    const servers = [...this.members].filter((m) => m !== from && m[list].includes(envelope.type));
    if (servers.length === 0) {
      return err(ErrorCodes.NO_HANDLER, `No handler for ${envelope.kind} "${envelope.type}" on the bus`);
    }
    if (signal.aborted) return err(ErrorCodes.ABORTED, "The operation was aborted");
    const turn = this.cursor.get(envelope.type) ?? 0;
    this.cursor.set(envelope.type, turn + 1);
    const server = servers[turn % servers.length]!;
    const result = await server.dispatch(copy(envelope));
    return fromWire(structuredClone(toWire(result)));
  }

  /** Dispatches the event to every member that handles its type; settles when all of them did. */
  async publish(envelope: Envelope): Promise<void> {
    const subscribers = [...this.members].filter((m) => m.events.includes(envelope.type));
    await Promise.all(subscribers.map((m) => m.dispatch(copy(envelope))));
  }
}

function copy(envelope: Envelope): Envelope {
  return { ...envelope, headers: { ...envelope.headers }, payload: structuredClone(envelope.payload) };
}

/** A transport over an `InMemoryBus`; swap it for a NATS transport without touching handlers or callers. */
export function inMemoryTransport(bus: InMemoryBus): Transport {
  let self: InboundDispatcher | undefined;
  let leave: (() => void) | undefined;
  return {
    name: "in-memory",
    attach(inbound) {
      // Attached again (a test harness rebuilding its mediator): the previous one leaves the bus,
      // or it would go on taking requests and events beside the new one.
      leave?.();
      self = inbound;
      leave = bus.join(inbound);
    },
    request: (envelope, signal) => bus.request(self, envelope, signal),
    publish: (envelope) => bus.publish(envelope),
    async close() {
      leave?.();
    },
  };
}
