import { CatgaConfigError, CatgaError, type ConfigIssue, ErrorCodes } from "../errors.js";
import { JetStream, PERMANENT_FAILURES } from "../jetstream/jetstream.js";
import type { DurableConsumerOptions, StreamOptions } from "../jetstream/options.js";
import { idClock, uuidv7 } from "../mediator/ids.js";
import { isPending } from "../mediator/pipeline.js";
import { err, type Result } from "../mediator/result.js";
import {
  type Envelope,
  fromWire,
  type InboundDispatcher,
  type Transport,
  toWire,
} from "../mediator/transport.js";
import { type InboundMessages, NatsConnection, type OutboundReply } from "./connection.js";
import { envelopeRead, type ReadExpectations, readEnvelope } from "./envelope-reader.js";
import { type NatsConnectionOptions, natsOptionIssues } from "./options.js";
import { viewAt } from "./pack.js";
import { EnvelopeCodec, jsonCodec, msgpackCodec, type PayloadCodec } from "./wire.js";

/** Events delivered through JetStream: stored, acked after the handler succeeds, retried, dead-lettered. */
export interface DurableEventsOptions {
  /** Stream for the events (default `<PREFIX>_EVENTS`); its dead letters go to `<stream>_DLQ`. */
  stream?: string;
  /** Event types that travel durably; default: all. The others stay on core NATS. */
  types?: readonly string[];
  /** Create/update the streams at connect (default true), optionally with retention settings. */
  provision?: boolean | Omit<StreamOptions, "name" | "subjects">;
  consumer?: Pick<
    DurableConsumerOptions,
    "ackWaitMs" | "maxDeliver" | "backoffMs" | "maxAckPending" | "batch" | "fetchWaitMs" | "orderBy"
  >;
}

export interface NatsTransportOptions extends NatsConnectionOptions {
  /** Service name: the queue group, so instances of one service share commands and events. */
  service: string;
  /** Subject prefix (default `catga`): commands/queries on `<prefix>.cmd.<type>`, events on `<prefix>.evt.<type>`. */
  prefix?: string;
  /** Payload codec per message type; the default is MessagePack. */
  codecs?: Readonly<Record<string, "json" | "msgpack" | PayloadCodec>>;
  /**
   * Deliver events through JetStream instead of core NATS: each service gets each event once
   * (a durable consumer per service and type), even if it was down when the event was published;
   * failures are retried with backoff and dead-lettered to `<prefix>.dlq.<type>` after `maxDeliver`.
   */
  durableEvents?: DurableEventsOptions;
}

const EMPTY_HEADERS: Envelope["headers"] = Object.freeze({});
const DONE: Promise<void> = Promise.resolve();
const nothing = (): void => undefined;
const EVENT_KIND = 2;
const KIND_NAMES = ["a command", "a query", "an event", "a reply", "an error"];

const SUBJECT_TOKEN = /^[^\s.*>]+$/;

/** Names the service that published an event, so its own instances skip it (they handled it in process). */
export const ORIGIN_HEADER = "catga-origin-service";
const ORIGIN_KEY_BYTES = Buffer.from(ORIGIN_HEADER);

function resolveCodec(codec: "json" | "msgpack" | PayloadCodec): PayloadCodec {
  if (codec === "json") return jsonCodec;
  if (codec === "msgpack") return msgpackCodec;
  return codec;
}

/**
 * The NATS transport: plug it into the builder (`createCatga().withTransport(await
 * natsTransport({...}))`) and handlers and callers stay exactly as they were in process.
 * Commands and queries travel by request/reply to queue groups; events are batched into CTG1
 * frames and published. A remote handler's error comes back with the same code and message.
 */
export class NatsTransport implements Transport {
  readonly name = "nats";
  private readonly codec: EnvelopeCodec;
  private readonly prefix: string;
  private readonly unsubscribers: (() => Promise<void>)[] = [];
  private subscribed: Promise<void> = Promise.resolve();
  private readonly durable: JetStream | undefined;
  private readonly eventStream: string;
  private readonly originOnly: Envelope["headers"];
  private readonly eventSubjects = new Map<string, string>();
  private readonly requestSubjects = new Map<string, string>();
  private readonly readExpectations = new Map<string, ReadExpectations>();

  private constructor(
    readonly connection: NatsConnection,
    private readonly options: NatsTransportOptions,
  ) {
    this.prefix = options.prefix ?? "catga";
    this.originOnly = Object.freeze({ [ORIGIN_HEADER]: options.service });
    const perType: Record<string, PayloadCodec> = {};
    for (const [type, codec] of Object.entries(options.codecs ?? {})) perType[type] = resolveCodec(codec);
    this.codec = new EnvelopeCodec(perType);
    this.durable = options.durableEvents ? new JetStream(connection, { prefix: this.prefix }) : undefined;
    this.eventStream =
      options.durableEvents?.stream ?? `${this.prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_EVENTS`;
  }

  private isDurable(type: string): boolean {
    const types = this.options.durableEvents?.types;
    return types === undefined || types.includes(type);
  }

  /** Creates or updates the event and dead-letter streams (idempotent). */
  private async provision(): Promise<void> {
    const durable = this.options.durableEvents;
    if (!this.durable || !durable || durable.provision === false) return;
    const settings = typeof durable.provision === "object" ? durable.provision : {};
    await this.durable.ensureStream({
      ...settings,
      name: this.eventStream,
      subjects: [`${this.prefix}.evt.>`],
    });
    await this.durable.ensureStream({ name: `${this.eventStream}_DLQ`, subjects: [`${this.prefix}.dlq.>`] });
  }

  /** Connects now, so a wrong URL or credentials fail at start-up rather than on first send. */
  static async connect(options: NatsTransportOptions): Promise<NatsTransport> {
    const { service, prefix, codecs, durableEvents, ...connection } = options;
    const issues: ConfigIssue[] = natsOptionIssues(connection);
    if (typeof service !== "string" || !SUBJECT_TOKEN.test(service))
      issues.push({ path: "service", message: "must be a non-empty name without spaces, dots or wildcards" });
    if (prefix !== undefined && (typeof prefix !== "string" || !/^[^\s*>]+$/.test(prefix)))
      issues.push({ path: "prefix", message: "must be a subject prefix without spaces or wildcards" });
    for (const [type, codec] of Object.entries(codecs ?? {})) {
      if (
        codec !== "json" &&
        codec !== "msgpack" &&
        (typeof codec !== "object" || typeof codec.encode !== "function")
      )
        issues.push({ path: `codecs.${type}`, message: 'must be "json", "msgpack" or a PayloadCodec' });
    }
    if (durableEvents !== undefined) {
      if (typeof durableEvents !== "object" || durableEvents === null)
        issues.push({ path: "durableEvents", message: "must be an object" });
      else if (
        durableEvents.types !== undefined &&
        (!Array.isArray(durableEvents.types) || durableEvents.types.some((t) => typeof t !== "string"))
      )
        issues.push({ path: "durableEvents.types", message: "must be a list of event types" });
    }
    if (issues.length > 0) throw new CatgaConfigError(issues);
    const transport = new NatsTransport(await NatsConnection.connect(connection), options);
    try {
      await transport.provision();
    } catch (error) {
      await transport.connection.close().catch(() => undefined);
      throw error;
    }
    return transport;
  }

  subjectFor(envelope: Pick<Envelope, "kind" | "type">): string {
    return envelope.kind === "event" ? this.eventSubject(envelope.type) : this.requestSubject(envelope.type);
  }

  /** The durable consumer of this service for event `type` (dots become underscores). */
  private durableName(type: string): string {
    return `${this.options.service}-${type}`.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  /**
   * Two event types whose consumer names coincide (`orders.placed` and `orders_placed`) would
   * share one durable consumer and lose one type's events: refused when the mediator is built.
   */
  private checkDurableNames(events: readonly string[]): void {
    if (!this.durable) return;
    const byName = new Map<string, string>();
    const issues: ConfigIssue[] = [];
    for (const type of events) {
      if (!this.isDurable(type)) continue;
      const name = this.durableName(type);
      const other = byName.get(name);
      if (other !== undefined)
        issues.push({
          path: `durableEvents.${type}`,
          message: `event types "${other}" and "${type}" would share the durable consumer "${name}"; rename one`,
        });
      else byName.set(name, type);
    }
    if (issues.length > 0) throw new CatgaConfigError(issues);
  }

  attach(inbound: InboundDispatcher): void {
    this.checkDurableNames(inbound.events);
    const queue = this.options.service;
    const requests = [...inbound.commands, ...inbound.queries].map((type) =>
      this.connection.subscribe(`${this.prefix}.cmd.${type}`, { queue }, (batch) =>
        this.serve(inbound, type, batch),
      ),
    );
    const events = inbound.events.map((type) =>
      this.durable && this.isDurable(type)
        ? this.consumeDurably(this.durable, inbound, type)
        : this.connection.subscribe(`${this.prefix}.evt.${type}`, { queue }, (batch) =>
            this.consume(inbound, type, batch),
          ),
    );
    this.subscribed = Promise.all([...requests, ...events]).then((unsubscribers) => {
      this.unsubscribers.push(...unsubscribers);
    });
    // A refused subscription fails `ready()`; nobody awaiting it must not end the process.
    this.subscribed.catch((error: unknown) => {
      this.connection.emit("status", { kind: "error", message: `subscribe failed: ${String(error)}` });
    });
  }

  /** Resolves once every subscription made by `attach` is live on the server. */
  async ready(): Promise<void> {
    await this.subscribed;
    await this.connection.flush();
  }

  /**
   * Serves one inbound batch of requests: each envelope is read in place and handed to the
   * mediator's `deliverRequest`; replies to synchronous results are encoded at once, the others
   * when their handler settles. The replies go back with the batch (no extra crossing).
   */
  private serve(inbound: InboundDispatcher, type: string, batch: InboundMessages): Promise<OutboundReply[]> {
    const expect = this.expectations(type);
    const { data, offsets } = batch;
    const replies = batch.replies;
    const size = offsets.length / 2;
    const out: OutboundReply[] = [];
    let pending: Promise<unknown>[] | undefined;
    for (let i = 0; i < size; i++) {
      const start = offsets[2 * i]!;
      const length = offsets[2 * i + 1]!;
      const replyTo = replies[i] ?? null;
      let running: Promise<unknown> | undefined;
      try {
        running =
          readEnvelope(data, start, length, expect) && inbound.deliverRequest !== undefined
            ? this.serveRead(inbound, type, data, size, replyTo, out)
            : this.serveDecoded(inbound, type, viewAt(data, start, length), size, replyTo, out);
      } catch (error) {
        this.connection.emit("malformed", 1, String(error));
      }
      if (running === undefined) continue;
      if (pending === undefined) pending = [running];
      else pending.push(running);
    }
    if (pending === undefined) return Promise.resolve(out);
    return Promise.all(pending).then(() => out);
  }

  /** The request just read into `envelopeRead`: run it, and reply now or when it settles. */
  private serveRead(
    inbound: InboundDispatcher,
    type: string,
    data: Buffer,
    size: number,
    replyTo: string | null,
    out: OutboundReply[],
  ): Promise<unknown> | undefined {
    const read = envelopeRead;
    if (!read.typeMatches && read.type === type) read.typeMatches = true;
    const kind = read.kindCode === 0 ? "command" : read.kindCode === 1 ? "query" : undefined;
    // Read now: `envelopeRead` is overwritten by the next envelope of the batch.
    const messageId = read.messageId;
    const correlationId = read.correlationId ?? messageId;
    if (kind === undefined || !read.typeMatches) {
      const problem =
        kind === undefined
          ? `${KIND_NAMES[read.kindCode]} envelope arrived on the request subject of ${JSON.stringify(type)}`
          : typeMismatch(read.type, type)!;
      this.connection.emit("malformed", 1, problem);
      if (replyTo)
        this.pushReply(out, replyTo, type, messageId, correlationId, err(ErrorCodes.NO_HANDLER, problem));
      return undefined;
    }
    const payload = this.codec.decodePayload(read.codec, data, read.payloadStart, read.payloadEnd);
    const result = inbound.deliverRequest!(kind, type, payload, read, size);
    if (!isPending(result)) {
      if (replyTo) this.pushReply(out, replyTo, type, messageId, correlationId, result);
      return undefined;
    }
    // Any thenable, made a native promise for the batch's Promise.all.
    if (!replyTo) return Promise.resolve(result);
    return Promise.resolve(result).then((settled) =>
      this.pushReply(out, replyTo, type, messageId, correlationId, settled),
    );
  }

  private pushReply(
    out: OutboundReply[],
    replyTo: string,
    type: string,
    messageId: string,
    correlationId: string,
    result: Result<unknown>,
  ): void {
    let envelope: Uint8Array;
    try {
      envelope = this.codec.encodeReplyTo(type, messageId, correlationId, toWire(result));
    } catch (error) {
      // A result that cannot be encoded (a cycle, a BigInt) fails this request alone, coded.
      const failure = err(ErrorCodes.ENCODE, `the result of ${type} cannot be encoded: ${String(error)}`);
      envelope = this.codec.encodeReplyTo(type, messageId, correlationId, toWire(failure));
    }
    out.push({ subject: replyTo, envelope });
  }

  /** The generic path: decode the whole request, dispatch it, reply when it settles. */
  private async serveDecoded(
    inbound: InboundDispatcher,
    type: string,
    bytes: Buffer,
    size: number,
    replyTo: string | null,
    out: OutboundReply[],
  ): Promise<void> {
    let request: Envelope;
    try {
      request = inBatch(this.codec.decodeMessage(bytes), size);
    } catch (error) {
      this.connection.emit("malformed", 1, String(error));
      return;
    }
    const mismatch =
      request.kind === "event"
        ? `an event envelope arrived on the request subject of ${JSON.stringify(type)}`
        : typeMismatch(request.type, type);
    const result = mismatch ? err(ErrorCodes.NO_HANDLER, mismatch) : await inbound.dispatch(request);
    if (mismatch) this.connection.emit("malformed", 1, mismatch);
    if (replyTo) this.pushReply(out, replyTo, request.type, request.messageId, request.correlationId, result);
  }

  /**
   * Delivers one inbound batch of events: each envelope is read in place (envelope-reader.ts) and
   * handed to the mediator's `deliverEvent`, so a batch of events with synchronous handlers
   * allocates no promise per event. Envelopes in another layout take the generic decoder.
   */
  private consume(inbound: InboundDispatcher, type: string, batch: InboundMessages): Promise<void> {
    const expect = this.expectations(type);
    const { data, offsets } = batch;
    const size = offsets.length / 2;
    let pending: Promise<unknown>[] | undefined;
    for (let i = 0; i < size; i++) {
      const start = offsets[2 * i]!;
      const length = offsets[2 * i + 1]!;
      let running: Promise<unknown> | undefined;
      try {
        running =
          readEnvelope(data, start, length, expect) && inbound.deliverEvent !== undefined
            ? this.deliverRead(inbound, type, data, size)
            : this.consumeDecoded(inbound, type, viewAt(data, start, length), size);
      } catch (error) {
        this.connection.emit("malformed", 1, String(error));
      }
      if (running === undefined) continue;
      if (pending === undefined) pending = [running];
      else pending.push(running);
    }
    return pending === undefined ? DONE : Promise.all(pending).then(nothing);
  }

  /** The event just read into `envelopeRead`, to its handlers. */
  private deliverRead(
    inbound: InboundDispatcher,
    type: string,
    data: Buffer,
    size: number,
  ): Promise<unknown> | undefined {
    const read = envelopeRead;
    // Bytes that differ but decode to the same string (invalid UTF-8 from a foreign producer) match.
    if (!read.typeMatches && read.type === type) read.typeMatches = true;
    if (!read.typeMatches || read.kindCode !== EVENT_KIND) {
      const mismatch = read.typeMatches
        ? `${KIND_NAMES[read.kindCode]} envelope arrived on the event subject of ${JSON.stringify(type)}`
        : typeMismatch(read.type, type);
      this.connection.emit("malformed", 1, mismatch);
      return undefined;
    }
    // The publishing service already ran its own handlers in process.
    if (read.fromSelf) return undefined;
    const payload = this.codec.decodePayload(read.codec, data, read.payloadStart, read.payloadEnd);
    return inbound.deliverEvent!(type, payload, read, size);
  }

  /** The generic path: decode the whole envelope, then dispatch it. */
  private consumeDecoded(
    inbound: InboundDispatcher,
    type: string,
    bytes: Buffer,
    size: number,
  ): Promise<unknown> | undefined {
    const event = inBatch(this.codec.decodeMessage(bytes), size);
    const mismatch =
      event.kind === "event"
        ? typeMismatch(event.type, type)
        : `a ${event.kind} envelope arrived on the event subject of ${JSON.stringify(type)}`;
    if (mismatch) {
      this.connection.emit("malformed", 1, mismatch);
      return undefined;
    }
    if (event.headers[ORIGIN_HEADER] === this.options.service) return undefined;
    return inbound.dispatch(withoutOrigin(event));
  }

  /** What the envelope reader checks for a subscription of `type`, made once per type. */
  private expectations(type: string): ReadExpectations {
    let expect = this.readExpectations.get(type);
    if (expect === undefined) {
      expect = {
        type,
        typeBytes: Buffer.from(type),
        originKeyBytes: ORIGIN_KEY_BYTES,
        selfBytes: Buffer.from(this.options.service),
      };
      this.readExpectations.set(type, expect);
    }
    return expect;
  }

  /** One durable consumer per service and event type: the service resumes where it left off. */
  private consumeDurably(
    js: JetStream,
    inbound: InboundDispatcher,
    type: string,
  ): Promise<() => Promise<void>> {
    return js.consume(
      {
        ...this.options.durableEvents?.consumer,
        stream: this.eventStream,
        durable: this.durableName(type),
        filterSubject: `${this.prefix}.evt.${type}`,
      },
      async (message) => {
        const event = this.codec.decodeMessage(message.bytes);
        const mismatch = typeMismatch(event.type, type);
        // Retrying cannot fix it: after maxDeliver it goes to the dead-letter subject.
        if (mismatch) throw new CatgaError(ErrorCodes.DECODE, mismatch);
        if (event.headers[ORIGIN_HEADER] === this.options.service) return;
        const result = await inbound.dispatch(withoutOrigin(event));
        // A failed handler fails the delivery: JetStream retries it, then dead-letters it. When
        // every handler failed for a reason no retry fixes (validation), that code is the one
        // reported, so the message is dead-lettered at once under it.
        if (!result.ok)
          throw new CatgaError(permanentCodeOf(result.error) ?? result.error.code, result.error.message);
      },
    );
  }

  request(envelope: Envelope, signal: AbortSignal): Promise<Result<unknown>> {
    if (signal.aborted) return Promise.resolve(err(ErrorCodes.ABORTED, "The operation was aborted"));
    let sent: Promise<Buffer>;
    try {
      sent = this.connection.request(this.requestSubject(envelope.type), this.codec.encodeMessage(envelope));
    } catch (error) {
      return Promise.resolve(requestFailed(error));
    }
    // Shared callbacks: no closure per request.
    return sent.then(this.replied, requestFailed);
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
    const stamped = { ...envelope, headers: this.stampOrigin(envelope.headers) };
    const bytes = this.codec.encodeMessage(stamped);
    const subject = this.subjectFor(envelope);
    if (this.durable && this.isDurable(envelope.type)) {
      return this.durable.publishOne(subject, envelope.messageId, bytes).then(() => undefined);
    }
    return this.connection.publish(subject, bytes);
  }

  publishNew(type: string, payload: unknown): Promise<void> {
    if (this.durable && this.isDurable(type)) {
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
    const bytes = this.codec.encodeNew("event", type, this.originOnly, payload);
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

  /** The headers with this service as the origin; most events have none, and share one object. */
  private stampOrigin(headers: Envelope["headers"]): Envelope["headers"] {
    for (const _ in headers) return { ...headers, [ORIGIN_HEADER]: this.options.service };
    return this.originOnly;
  }

  async close(): Promise<void> {
    await this.subscribed.catch(() => undefined);
    await this.connection.close();
  }
}

/**
 * Marks an envelope that arrived in a batch of several (`Envelope.batchSize`, reported as
 * `catga.batch.size` by observability). A batch of one is left as it is.
 */
function inBatch(envelope: Envelope, size: number): Envelope {
  return size > 1 ? { ...envelope, batchSize: size } : envelope;
}

/** Connects a NATS transport; pass the result to `createCatga().withTransport(...)`. */
export function natsTransport(options: NatsTransportOptions): Promise<NatsTransport> {
  return NatsTransport.connect(options);
}

/**
 * Why an envelope cannot be dispatched from the subscription of `type`, or undefined when it can.
 * Only the subject's own type is let in: the type inside an envelope is whatever its sender wrote,
 * and per-type state (pipelines, metric series, attribute caches) must not grow with it.
 */
function typeMismatch(actual: string, type: string): string | undefined {
  if (actual === type) return undefined;
  return `an envelope of type ${JSON.stringify(actual.slice(0, 200))} arrived on the subject of ${JSON.stringify(type)}`;
}

/**
 * The one permanent code behind an event's aggregated failure: when no handler succeeded and every
 * failure has that code (a handler that did succeed would run again on a redelivery, so such an
 * event is retried as before).
 */
function permanentCodeOf(error: { code: string; details?: unknown }): string | undefined {
  if (PERMANENT_FAILURES.has(error.code)) return error.code;
  const details = error.details as { handled?: number; failures?: { code: string }[] } | undefined;
  const failures = details?.failures;
  if (details?.handled !== 0 || !Array.isArray(failures) || failures.length === 0) return undefined;
  const first = failures[0]!.code;
  return PERMANENT_FAILURES.has(first) && failures.every((f) => f.code === first) ? first : undefined;
}

/** A request that failed in the transport, as a Result with its code kept. */
function requestFailed(error: unknown): Result<unknown> {
  if (error instanceof CatgaError) return err(error.code, error.message, error.details, error);
  return err(ErrorCodes.TRANSPORT, String(error), undefined, error);
}

/** The envelope without the transport's origin header, which handlers never see. */
function withoutOrigin(envelope: Envelope): Envelope {
  if (!(ORIGIN_HEADER in envelope.headers)) return envelope;
  const { [ORIGIN_HEADER]: _origin, ...headers } = envelope.headers;
  return { ...envelope, headers };
}
