import { CatgaConfigError, CatgaError, ErrorCodes } from "../errors.js";
import { type DurableAwait, NEVER_ABORTED } from "../mediator/context.js";
import { idClock, uuidv7 } from "../mediator/ids.js";
import { err, type Result } from "../mediator/result.js";
import type { Scheduled } from "../mediator/schedule.js";
import {
  type Envelope,
  fromWire,
  type InboundDispatcher,
  type ShardGate,
  type Transport,
} from "../mediator/transport.js";
import { type InboundHandler, NatsConnection } from "../nats/connection.js";
import { NATS_DEFAULTS } from "../nats/options.js";
import { EnvelopeCodec, jsonCodec, msgpackCodec, type PayloadCodec } from "../nats/wire.js";
import { DurableCommands, durableCommandStreams } from "./durable-commands.js";
import { DurableEvents, durableEventStreams } from "./durable-events.js";
import { InboundBatches } from "./inbound.js";
import { assertTransportOptions, type NatsTransportOptions, TRANSPORT_DEFAULTS } from "./options.js";
import { RequestSlots } from "./request-slots.js";
import { Scheduler, type Schedules } from "./scheduler.js";

const EMPTY_HEADERS: Envelope["headers"] = Object.freeze({});

function resolveCodec(codec: "json" | "msgpack" | PayloadCodec): PayloadCodec {
  if (codec === "json") return jsonCodec;
  if (codec === "msgpack") return msgpackCodec;
  return codec;
}

/** @internal Where a transport's dead letters are stored (the operations API reads them). */
export interface TransportStreams {
  /** The transport's subject prefix. */
  readonly prefix: string;
  /** The durable events' stream (`durableEvents.stream`, default `<PREFIX>_EVENTS`). */
  readonly events: string;
  /** The durable commands' stream (`durableCommands.stream`, default `<PREFIX>_COMMANDS`). */
  readonly commands: string;
  /** The events' dead-letter stream (`<events stream>_DLQ`). */
  readonly eventDeadLetters: string;
  /** The durable commands' dead-letter stream (`<commands stream>_DLQ`). */
  readonly commandDeadLetters: string;
}

/**
 * @internal What `cluster()` plugs into a transport to route requests to chosen instances
 * (sharded contracts to their key's owner, balanced contracts to a picked instance).
 */
export interface RequestRouter {
  /** Sends `envelope` itself and resolves its Result, or returns undefined: send it the usual way. */
  route(envelope: Envelope, signal: AbortSignal): Promise<Result<unknown>> | undefined;
  /** Who owns the keys of sharded contracts handled here. */
  readonly gate: ShardGate;
}

/**
 * The NATS transport: plug it into the builder (`createCatga().withTransport(await
 * natsTransport({...}))`) and handlers and callers stay exactly as they were in process.
 * Commands and queries travel by request/reply to queue groups; events are batched into CTG1
 * frames and published, or stored in JetStream when `durableEvents` covers their type. A remote
 * handler's error comes back with the same code and message.
 */
export class NatsTransport implements Transport {
  readonly name = "nats";
  private readonly codec: EnvelopeCodec;
  /** The subject prefix (`<prefix>.cmd.<type>`, `<prefix>.evt.<type>`). */
  readonly prefix: string;
  private readonly unsubscribers: (() => Promise<void>)[] = [];
  private subscribed: Promise<void> = Promise.resolve();
  private readonly durable: DurableEvents | undefined;
  private readonly durableCommands: DurableCommands;
  private readonly scheduler: Scheduler | undefined;
  private readonly batches: InboundBatches;
  private readonly eventSubjects = new Map<string, string>();
  private readonly requestSubjects = new Map<string, string>();
  /** Core-NATS subjects `attach` subscribed to, checked by `ready()`. */
  private readonly coreSubjects: string[] = [];
  /** What `attach` was given (the cluster serves per-instance subjects with it). */
  private attached: InboundDispatcher | undefined;
  private router: RequestRouter | undefined;
  /** Whether a `cluster()` claimed this transport (one per transport). */
  private clustered = false;
  private clusterClose: (() => Promise<void>) | undefined;

  private constructor(
    readonly connection: NatsConnection,
    private readonly options: NatsTransportOptions,
  ) {
    this.prefix = options.prefix ?? TRANSPORT_DEFAULTS.prefix;
    const perType: Record<string, PayloadCodec> = {};
    for (const [type, codec] of Object.entries(options.codecs ?? {})) perType[type] = resolveCodec(codec);
    this.codec = new EnvelopeCodec(perType);
    this.batches = new InboundBatches(this.codec, connection);
    this.durable = options.durableEvents
      ? new DurableEvents(connection, options.durableEvents, this.prefix, options.service, this.codec)
      : undefined;
    this.durableCommands = new DurableCommands(
      connection,
      options.durableCommands ?? {},
      this.prefix,
      options.service,
      this.codec,
      options.requestTimeoutMs ?? NATS_DEFAULTS.requestTimeoutMs,
    );
    this.scheduler = options.scheduling
      ? new Scheduler(connection, options.scheduling, this.prefix, this.codec, (envelope) =>
          envelope.kind === "event" ? this.durable?.carries(envelope.type) === true : true,
        )
      : undefined;
  }

  /** The service name this transport was connected for (its queue group). */
  get service(): string {
    return this.options.service;
  }

  /**
   * Cancel and list scheduled messages (docs/architecture/scheduling.md). On the transport rather than the
   * mediator: timers belong to the broker, and an operator's tool needs a connection, not handlers.
   * Without `scheduling`, every call is CATGA_CONFIG.
   */
  get schedules(): Schedules {
    return this.scheduler ?? SCHEDULING_DISABLED;
  }

  /**
   * @internal Where this transport's durable messages and their dead letters live, for the
   * operations API (`deadLetters(transport)`).
   */
  get streams(): TransportStreams {
    const events = durableEventStreams(this.prefix, this.options.durableEvents ?? {});
    const commands = durableCommandStreams(this.prefix, this.options.durableCommands ?? {});
    return {
      prefix: this.prefix,
      events: events.events.name,
      commands: commands.commands.name,
      eventDeadLetters: events.deadLetters.name,
      commandDeadLetters: commands.deadLetters.name,
    };
  }

  /** Connects now, so a wrong URL or credentials fail at start-up rather than on first send. */
  static async connect(options: NatsTransportOptions): Promise<NatsTransport> {
    assertTransportOptions(options);
    const {
      service: _service,
      prefix: _prefix,
      codecs: _codecs,
      durableEvents: _durable,
      durableCommands: _durableCommands,
      scheduling: _scheduling,
      maxConcurrentRequests: _maxConcurrentRequests,
      ...connection
    } = options;
    // Echo on: a publishing process gets its own events through its subscription (queue group).
    const transport = new NatsTransport(
      await NatsConnection.connect({ ...connection, noEcho: false }),
      options,
    );
    try {
      await transport.durable?.provision();
      // Only a service given durableCommands sets up its streams (see DurableCommandsOptions).
      if (options.durableCommands !== undefined) await transport.durableCommands.provision();
      await transport.scheduler?.provision();
      await transport.scheduler?.start();
    } catch (error) {
      await transport.connection.close().catch(() => undefined);
      throw error;
    }
    return transport;
  }

  /**
   * The NATS subject this transport uses for a contract or an envelope: `<prefix>.evt.<type>`
   * for events, `<prefix>.cmd.<type>` for commands and queries. Pass a contract to name the
   * subject of an outbox event (`outboxEvent(C, payload, { subject: transport.subjectFor(C) })`).
   */
  subjectFor(envelope: Pick<Envelope, "kind" | "type">): string {
    return envelope.kind === "event" ? this.eventSubject(envelope.type) : this.requestSubject(envelope.type);
  }

  attach(inbound: InboundDispatcher): void {
    // cluster() reads the sharded types and routes when it starts: one joined before build() never
    // routes these, and they would silently find no owner (CATGA_NO_HANDLER) for good.
    const clustered = [...(inbound.shardKeys?.keys() ?? []), ...(inbound.routes?.keys() ?? [])];
    if (this.clustered && clustered.length > 0)
      throw new CatgaConfigError([
        {
          path: "cluster",
          message: `cluster() joined this transport before build(): ${clustered.join(", ")} (sharded or routed) would never be routed; call cluster(catga) after build()`,
        },
      ]);
    this.attached = inbound;
    this.durable?.checkConsumerNames(inbound.events);
    const queue = this.options.service;
    this.coreSubjects.push(
      ...[...inbound.commands, ...inbound.queries].map((type) => this.requestSubject(type)),
      ...inbound.events.filter((type) => !this.durable?.carries(type)).map((type) => this.eventSubject(type)),
    );
    const durableCommands = new Set(inbound.durableCommands ?? []);
    // A sharded type joins its queue group only once `cluster()` routes (see `route`): before, this
    // instance would run whatever reached it as the owner of every key, beside the real owners.
    const sharded = inbound.shardKeys ?? new Map();
    // A durable command's request subject stays subscribed: it tells callers how it is taken.
    const requests = [...inbound.commands, ...inbound.queries]
      .filter((type) => !sharded.has(type))
      .map((type) =>
        this.connection.subscribe(
          this.requestSubject(type),
          { queue },
          durableCommands.has(type)
            ? (batch) => this.durableCommands.refuseRequests(type, batch)
            : this.server(inbound, type),
        ),
      );
    const durable = [...durableCommands].map((type) => this.durableCommands.consume(inbound, type));
    const events = inbound.events.map((type) =>
      this.durable?.carries(type)
        ? this.durable.consume(inbound, type)
        : this.connection.subscribe(this.eventSubject(type), { queue }, (batch) =>
            this.batches.consume(inbound, type, batch),
          ),
    );
    this.subscribed = Promise.all([...requests, ...durable, ...events]).then((unsubscribers) => {
      this.unsubscribers.push(...unsubscribers);
    });
    // A refused subscription fails `ready()`; nobody awaiting it must not end the process.
    this.subscribed.catch((error: unknown) => {
      this.connection.emit("status", { kind: "error", message: `subscribe failed: ${String(error)}` });
    });
  }

  /** The handler of one request subscription, with its own `maxConcurrentRequests` slots. */
  private server(inbound: InboundDispatcher, type: string): InboundHandler {
    const slots = new RequestSlots(
      this.options.maxConcurrentRequests ?? TRANSPORT_DEFAULTS.maxConcurrentRequests,
    );
    return (batch) => this.batches.serve(inbound, type, batch, slots);
  }

  /**
   * Resolves once every subscription made by `attach` is live on the server; rejects with
   * CATGA_PERMISSION_DENIED naming the subjects the server refused (their handlers would never
   * receive anything).
   */
  async ready(): Promise<void> {
    await this.subscribed;
    await this.connection.flush();
    const refused = this.connection.refusedSubscriptions().filter((s) => this.coreSubjects.includes(s));
    if (refused.length > 0)
      throw new CatgaError(
        ErrorCodes.PERMISSION_DENIED,
        `the server refused to subscribe service "${this.options.service}" to ${refused.join(", ")}: grant it subscribe permission`,
        { details: { subjects: refused } },
      );
  }

  request(envelope: Envelope, signal: AbortSignal): Promise<Result<unknown>> {
    if (signal.aborted) return Promise.resolve(err(ErrorCodes.ABORTED, "The operation was aborted"));
    if (this.router !== undefined) {
      const routed = this.router.route(envelope, signal);
      if (routed !== undefined) return routed;
    }
    let sent: Promise<Buffer>;
    const subject = this.requestSubject(envelope.type);
    let bytes: Buffer;
    try {
      bytes = this.codec.encodeMessage(envelope);
      sent = this.connection.request(subject, bytes);
    } catch (error) {
      return Promise.resolve(requestFailed(error));
    }
    // Shared callbacks: no closure per request, unless the connection is down or just back.
    const answered = this.connection.resubscribing
      ? this.untilServed(sent, subject, bytes, performance.now() + this.requestTimeoutMs)
      : sent.then(this.replied, requestFailed);
    // A caller's signal answers CATGA_ABORTED when it aborts (the reply, if one comes, is dropped);
    // without one (the mediator's never-aborted signal) nothing more is made per request.
    return signal === NEVER_ABORTED ? answered : untilAborted(answered, signal);
  }

  /** The sharding gate `cluster()` installed, if any (docs/architecture/cluster.md). */
  get shards(): ShardGate | undefined {
    return this.router?.gate;
  }

  /** @internal The request timeout callers get (ms). */
  get requestTimeoutMs(): number {
    return this.options.requestTimeoutMs ?? NATS_DEFAULTS.requestTimeoutMs;
  }

  /** @internal What the mediator attached: the types served here and the sharded ones' key functions. */
  get inbound(): InboundDispatcher | undefined {
    return this.attached;
  }

  /**
   * @internal The subject one instance serves a command or query type on, besides the queue
   * group: `<prefix>.cmd.<type>.@<instanceId>` (a contract name holds no `@`, so no clash).
   */
  instanceSubject(type: string, instanceId: string): string {
    return `${this.requestSubject(type)}.@${instanceId}`;
  }

  /**
   * @internal Claims this transport for one `cluster()`. A second would install a second router
   * over the first's subscriptions, and sharded sends then found no owner (CATGA_TIMEOUT) for good.
   */
  claimCluster(): void {
    if (this.clustered)
      throw new CatgaConfigError([
        {
          path: "cluster.transport",
          message:
            "already has a cluster: call cluster() once per transport and share the Cluster it resolves with",
        },
      ]);
    this.clustered = true;
  }

  /** @internal Gives the claim back when `cluster()` failed to start. */
  releaseCluster(): void {
    this.clustered = false;
  }

  /**
   * @internal The started cluster's `close`, run first by `close()`: a cluster left open kept
   * heartbeating (and the process alive) after its transport closed, and kept its keys and leases.
   */
  closesCluster(close: () => Promise<void>): void {
    this.clusterClose = close;
  }

  /**
   * @internal Installs `router` and serves every command and query type handled here on its
   * per-instance subject too; resolves with a function that stops serving those subjects.
   */
  async route(router: RequestRouter, instanceId: string): Promise<() => Promise<void>> {
    const inbound = this.attached;
    const durable = new Set(inbound?.durableCommands ?? []);
    const types =
      inbound === undefined ? [] : [...inbound.commands, ...inbound.queries].filter((t) => !durable.has(t));
    // Installed before anything is served: a sharded handler must never run without its gate.
    // It stays installed after stop: a sharded handler must never fall back to "this process
    // owns every key" while the transport still serves (the router then owns nothing).
    this.router = router;
    const serve = (type: string) => this.server(inbound!, type); // types is empty without inbound
    const sharded = [...(inbound?.shardKeys?.keys() ?? [])].filter((type) => types.includes(type));
    const stops = await Promise.all([
      ...types.map((type) =>
        this.connection.subscribe(this.instanceSubject(type, instanceId), {}, serve(type)),
      ),
      // The queue group of each sharded type, held back by `attach` until now.
      ...sharded.map((type) =>
        this.connection.subscribe(this.requestSubject(type), { queue: this.options.service }, serve(type)),
      ),
    ]);
    return async () => {
      await Promise.all(stops.map((stop) => stop().catch(() => undefined)));
    };
  }

  /** @internal One request to an exact subject (an instance's), as a Result; never rejects. */
  requestAt(subject: string, envelope: Envelope, timeoutMs: number): Promise<Result<unknown>> {
    let sent: Promise<Buffer>;
    try {
      sent = this.connection.request(subject, this.codec.encodeMessage(envelope), timeoutMs);
    } catch (error) {
      return Promise.resolve(requestFailed(error));
    }
    return sent.then(this.replied, requestFailed);
  }

  /** Stores a `.durable()` command on JetStream (docs/architecture/durable-commands.md); never rejects. */
  sendDurable(envelope: Envelope, awaits: DurableAwait, signal: AbortSignal): Promise<Result<unknown>> {
    if (signal.aborted) return Promise.resolve(err(ErrorCodes.ABORTED, "The operation was aborted"));
    return this.durableCommands.send(envelope, awaits, signal);
  }

  /** Stores an event or durable command until `deliverAt` (docs/architecture/scheduling.md); never rejects. */
  schedule(envelope: Envelope, deliverAt: number): Promise<Result<Scheduled>> {
    return (this.scheduler ?? SCHEDULING_DISABLED).schedule(envelope, deliverAt);
  }

  /**
   * A request sent while the connection is down or just back: "no responders" may only mean that
   * the serving services have not subscribed again after the reconnect (each client reconnects on
   * its own backoff; a request held through an outage went out first, and failed CATGA_NO_HANDLER).
   * It is sent again (it reached nobody) while that may be so, within the request's deadline.
   */
  private untilServed(
    sent: Promise<Buffer>,
    subject: string,
    bytes: Buffer,
    deadline: number,
  ): Promise<Result<unknown>> {
    return sent.then(this.replied, (error: unknown) => {
      const failed = requestFailed(error);
      const left = deadline - performance.now();
      if (
        failed.ok ||
        failed.error.code !== ErrorCodes.NO_HANDLER ||
        left <= RESEND_AFTER_MS ||
        !this.connection.resubscribing
      )
        return failed;
      return new Promise<void>((resolve) => setTimeout(resolve, RESEND_AFTER_MS)).then(() => {
        let again: Promise<Buffer>;
        try {
          again = this.connection.request(
            subject,
            bytes,
            Math.max(1, Math.floor(deadline - performance.now())),
          );
        } catch (thrown) {
          return requestFailed(thrown);
        }
        return this.untilServed(again, subject, bytes, deadline);
      });
    });
  }

  private readonly replied = (reply: Buffer): Result<unknown> => {
    try {
      return fromWire(this.codec.decodeReply(reply));
    } catch (error) {
      return requestFailed(error);
    }
  };

  private requestSubject(type: string): string {
    return this.cachedSubject(this.requestSubjects, "cmd", type);
  }

  publish(envelope: Envelope): Promise<void> {
    const bytes = this.codec.encodeMessage(envelope);
    const subject = this.subjectFor(envelope);
    if (this.durable?.carries(envelope.type)) return this.durable.publish(subject, envelope.messageId, bytes);
    return this.connection.publish(subject, bytes);
  }

  publishNew(type: string, payload: unknown): Promise<void> {
    if (this.durable?.carries(type)) {
      // Durable publishes need the id as a string (Nats-Msg-Id): the general path makes one.
      const messageId = uuidv7();
      return this.publish({
        kind: "event",
        type,
        messageId,
        correlationId: messageId,
        causationId: undefined,
        createdAt: idClock.ms,
        headers: EMPTY_HEADERS,
        payload,
      });
    }
    const bytes = this.codec.encodeNew("event", type, EMPTY_HEADERS, payload);
    return this.connection.publish(this.eventSubject(type), bytes);
  }

  private eventSubject(type: string): string {
    return this.cachedSubject(this.eventSubjects, "evt", type);
  }

  /**
   * `<prefix>.<channel>.<type>`, made once per type (bounded): a fresh string per message cost
   * a concat, and a flatten when the batcher compared it.
   */
  private cachedSubject(cache: Map<string, string>, channel: "cmd" | "evt", type: string): string {
    let subject = cache.get(type);
    if (subject === undefined) {
      subject = `${this.prefix}.${channel}.${type}`;
      if (cache.size >= 1024) cache.clear();
      cache.set(type, subject);
    }
    return subject;
  }

  async close(): Promise<void> {
    // The cluster first, as its docs order it: leaderships resigned, keys handed over, goodbye said.
    await this.clusterClose?.().catch(() => undefined);
    await this.subscribed.catch(() => undefined);
    // Every subscription and durable consumer stops first, delivering and settling what it
    // already took: the durable ones are not the connection's to drain, and left running they
    // kept the process alive after close.
    await Promise.all(this.unsubscribers.splice(0).map((stop) => stop().catch(() => undefined)));
    await this.scheduler?.close().catch(() => undefined);
    await this.durableCommands.close();
    await this.connection.close();
  }
}

/** Connects a NATS transport; pass the result to `createCatga().withTransport(...)`. */
export function natsTransport(options: NatsTransportOptions): Promise<NatsTransport> {
  return NatsTransport.connect(options);
}

/** A request that failed in the transport, as a Result with its code kept. */
function requestFailed(error: unknown): Result<unknown> {
  if (error instanceof CatgaError) return err(error.code, error.message, error.details, error);
  return err(ErrorCodes.TRANSPORT, String(error), undefined, error);
}

function schedulingDisabled(): Promise<Result<never>> {
  return Promise.resolve(
    err(
      ErrorCodes.CONFIG,
      "scheduling is not enabled on this transport: pass natsTransport({ scheduling: {} })",
      [{ path: "scheduling", message: "is not enabled" }],
    ),
  );
}

/** What `schedules` and `schedule` answer without `scheduling`. */
const SCHEDULING_DISABLED: Schedules & Pick<Scheduler, "schedule"> = {
  cancel: schedulingDisabled,
  list: schedulingDisabled,
  schedule: schedulingDisabled,
};

/** The pause before such a request is sent again. */
const RESEND_AFTER_MS = 100;

/** `answered`, or CATGA_ABORTED as soon as `signal` aborts, whichever comes first. */
function untilAborted(answered: Promise<Result<unknown>>, signal: AbortSignal): Promise<Result<unknown>> {
  return new Promise((resolve) => {
    const aborted = () => resolve(err(ErrorCodes.ABORTED, "The operation was aborted"));
    signal.addEventListener("abort", aborted, { once: true });
    void answered.then((result) => {
      signal.removeEventListener("abort", aborted);
      resolve(result);
    });
  });
}
