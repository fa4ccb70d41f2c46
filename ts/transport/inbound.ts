import { ErrorCodes } from "../errors.js";
import { isPending, settle } from "../mediator/pipeline.js";
import { err, type Result } from "../mediator/result.js";
import { type Envelope, type InboundDispatcher, toWire } from "../mediator/transport.js";
import type { InboundMessages, NatsConnection, OutboundReply } from "../nats/connection.js";
import { envelopeRead, type ReadExpectations, readEnvelope } from "../nats/envelope-reader.js";
import { viewAt } from "../nats/pack.js";
import type { EnvelopeCodec } from "../nats/wire.js";

const DONE: Promise<void> = Promise.resolve();
const nothing = (): void => undefined;
const EVENT_KIND = 2;
const KIND_NAMES = ["a command", "a query", "an event", "a reply", "an error"];

/**
 * Turns the inbound batches of core-NATS subscriptions into mediator calls: requests are served
 * and their replies returned with the batch, events are handed to their handlers. Envelopes are
 * read in place where their layout allows (envelope-reader.ts), else decoded whole.
 */
export class InboundBatches {
  private readonly readExpectations = new Map<string, ReadExpectations>();

  constructor(
    private readonly codec: EnvelopeCodec,
    private readonly connection: NatsConnection,
  ) {}

  /** Reports an envelope that cannot be dispatched (counted in `stats().malformedReceived`). */
  private malformed(problem: string | undefined): void {
    this.connection.emit("malformed", 1, problem);
  }

  /**
   * Serves one inbound batch of requests: each envelope is read in place and handed to the
   * mediator's `deliverRequest`; replies to synchronous results are encoded at once, the others
   * when their handler settles. The replies go back with the batch (no extra crossing).
   */
  serve(inbound: InboundDispatcher, type: string, batch: InboundMessages): Promise<OutboundReply[]> {
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
        this.malformed(String(error));
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
      this.malformed(problem);
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
    if (!replyTo) return settle(result);
    return settle(result).then((settled) =>
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
      this.malformed(String(error));
      return;
    }
    const mismatch =
      request.kind === "event"
        ? `an event envelope arrived on the request subject of ${JSON.stringify(type)}`
        : typeMismatch(request.type, type);
    const result = mismatch ? err(ErrorCodes.NO_HANDLER, mismatch) : await inbound.dispatch(request);
    if (mismatch) this.malformed(mismatch);
    if (replyTo) this.pushReply(out, replyTo, request.type, request.messageId, request.correlationId, result);
  }

  /**
   * Delivers one inbound batch of events: each envelope is read in place (envelope-reader.ts) and
   * handed to the mediator's `deliverEvent`, so a batch of events with synchronous handlers
   * allocates no promise per event. Envelopes in another layout take the generic decoder.
   */
  consume(inbound: InboundDispatcher, type: string, batch: InboundMessages): Promise<void> {
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
        this.malformed(String(error));
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
      this.malformed(mismatch);
      return undefined;
    }
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
      this.malformed(mismatch);
      return undefined;
    }
    return inbound.dispatch(event);
  }

  /** What the envelope reader checks for a subscription of `type`, made once per type. */
  private expectations(type: string): ReadExpectations {
    let expect = this.readExpectations.get(type);
    if (expect === undefined) {
      expect = { type, typeBytes: Buffer.from(type) };
      this.readExpectations.set(type, expect);
    }
    return expect;
  }
}

/**
 * Marks an envelope that arrived in a batch of several (`Envelope.batchSize`, reported as
 * `catga.batch.size` by observability). A batch of one is left as it is.
 */
function inBatch(envelope: Envelope, size: number): Envelope {
  return size > 1 ? { ...envelope, batchSize: size } : envelope;
}

/**
 * Why an envelope cannot be dispatched from the subscription of `type`, or undefined when it can.
 * Only the subject's own type is let in: the type inside an envelope is whatever its sender wrote,
 * and per-type state (pipelines, metric series, attribute caches) must not grow with it.
 */
export function typeMismatch(actual: string, type: string): string | undefined {
  if (actual === type) return undefined;
  return `an envelope of type ${JSON.stringify(actual.slice(0, 200))} arrived on the subject of ${JSON.stringify(type)}`;
}
