import { ErrorCodes } from "../errors.js";
import { isPending, settle } from "../mediator/pipeline.js";
import { err, type Result } from "../mediator/result.js";
import { type Envelope, type InboundDispatcher, toWire } from "../mediator/transport.js";
import type { InboundMessages, NatsConnection, OutboundReply } from "../nats/connection.js";
import { envelopeRead, type ReadExpectations, readEnvelope } from "../nats/envelope-reader.js";
import { viewAt } from "../nats/pack.js";
import { type EnvelopeCodec, unencodableResult } from "../nats/wire.js";
import type { RequestSlots } from "./request-slots.js";

const DONE: Promise<void> = Promise.resolve();
const NO_REPLIES: OutboundReply[] = [];
const nothing = (): void => undefined;
const EVENT_KIND = 2;
const KIND_NAMES = ["a command", "a query", "an event", "a reply", "an error"];

/**
 * Turns the inbound batches of core-NATS subscriptions into mediator calls: requests are served,
 * each answered as soon as its handler is done, events are handed to their handlers. Envelopes
 * are read in place where their layout allows (envelope-reader.ts), else decoded whole.
 */
export class InboundBatches {
  private readonly readExpectations = new Map<string, ReadExpectations>();
  /** Requests whose handlers are still running, on every subscription (close() waits for them). */
  private inFlight = 0;
  /** Resolves what the connection's close() holds on while `inFlight` is above 0. */
  private idle: (() => void) | undefined;

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
   * mediator's `deliverRequest`. Replies to synchronous results go back with the batch (no extra
   * crossing), and so do those whose handler settles before the event loop's next turn; the
   * others are sent each as it settles (`connection.reply`). The batch resolves without waiting
   * for slow handlers, so they hold up no other request, unless `slots` are all taken: then it
   * waits for one, and the engine's next batch with it (see {@link RequestSlots}).
   */
  serve(
    inbound: InboundDispatcher,
    type: string,
    batch: InboundMessages,
    slots: RequestSlots,
  ): Promise<OutboundReply[]> {
    return this.serveFrom(inbound, type, batch, slots, new BatchReplies(this.connection, batch), 0);
  }

  /** Serves envelopes `first`… of the batch, pausing whenever every slot is taken. */
  private serveFrom(
    inbound: InboundDispatcher,
    type: string,
    batch: InboundMessages,
    slots: RequestSlots,
    replies: BatchReplies,
    first: number,
  ): Promise<OutboundReply[]> {
    const expect = this.expectations(type);
    const { data, offsets } = batch;
    const replyTos = batch.replies;
    const size = offsets.length / 2;
    for (let i = first; i < size; i++) {
      if (slots.full) {
        // The rest of the batch waits for a slot; what is answered already does not.
        replies.sendEachNow();
        return slots.whenFree().then(() => {
          replies.open = true;
          return this.serveFrom(inbound, type, batch, slots, replies, i);
        });
      }
      const start = offsets[2 * i]!;
      const length = offsets[2 * i + 1]!;
      const replyTo = replyTos[i] ?? null;
      let running: Promise<unknown> | undefined;
      try {
        running =
          readEnvelope(data, start, length, expect) && inbound.deliverRequest !== undefined
            ? this.serveRead(inbound, type, data, size, replyTo, replies)
            : this.serveDecoded(inbound, type, viewAt(data, start, length), size, replyTo, replies);
      } catch (error) {
        this.malformed(String(error));
      }
      if (running !== undefined) this.track(running, replies, slots);
    }
    return this.release(replies, slots);
  }

  /** A request whose handler is still running: it holds a slot, and close() waits for it. */
  private track(running: Promise<unknown>, replies: BatchReplies, slots: RequestSlots): void {
    slots.take();
    replies.running++;
    if (this.inFlight++ === 0) this.connection.holdCloseFor(new Promise<void>((idle) => (this.idle = idle)));
    const settled = (): void => {
      slots.give();
      if (--replies.running === 0) replies.whenIdle?.();
      if (--this.inFlight === 0) this.idle!(); // set when inFlight left 0
    };
    running.then(settled, (error: unknown) => {
      this.connection.emit("handlerError", error);
      settled();
    });
  }

  /**
   * When the batch is handed back to the engine. At once when nothing runs; else at the event
   * loop's next turn, or sooner if all its requests are answered by then: a handler that awaits
   * no I/O (an `async` one that returns at once) settles before that turn, so its reply still
   * travels in the batch's frame. A batch that finds every slot taken then waits for one.
   */
  private release(replies: BatchReplies, slots: RequestSlots): Promise<OutboundReply[]> {
    if (replies.running === 0 && !slots.full) {
      replies.open = false;
      return Promise.resolve(replies.out);
    }
    return new Promise<OutboundReply[]>((resolve) => {
      let timer: NodeJS.Immediate | undefined;
      const hand = (): void => {
        replies.whenIdle = undefined;
        if (timer !== undefined) clearImmediate(timer);
        if (!slots.full) {
          replies.open = false;
          resolve(replies.out);
          return;
        }
        // Backpressure: the engine's next batch waits for a slot; these replies need not.
        replies.sendEachNow();
        void slots.whenFree().then(() => resolve(NO_REPLIES));
      };
      if (replies.running === 0) return hand();
      replies.whenIdle = hand;
      timer = setImmediate(hand);
    });
  }

  /** The request just read into `envelopeRead`: run it, and reply now or when it settles. */
  private serveRead(
    inbound: InboundDispatcher,
    type: string,
    data: Buffer,
    size: number,
    replyTo: string | null,
    replies: BatchReplies,
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
        this.pushReply(replies, replyTo, type, messageId, correlationId, err(ErrorCodes.NO_HANDLER, problem));
      return undefined;
    }
    const payload = this.codec.decodePayload(read.codec, data, read.payloadStart, read.payloadEnd);
    const result = inbound.deliverRequest!(kind, type, payload, read, size);
    if (!isPending(result)) {
      if (replyTo) this.pushReply(replies, replyTo, type, messageId, correlationId, result);
      return undefined;
    }
    // Any thenable, made a native promise to be tracked.
    if (!replyTo) return settle(result);
    return settle(result).then((settled) =>
      this.pushReply(replies, replyTo, type, messageId, correlationId, settled),
    );
  }

  private pushReply(
    replies: BatchReplies,
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
      const failure = unencodableResult(type, error);
      envelope = this.codec.encodeReplyTo(type, messageId, correlationId, toWire(failure));
    }
    replies.add(replyTo, envelope);
  }

  /** The generic path: decode the whole request, dispatch it, reply when it settles. */
  private async serveDecoded(
    inbound: InboundDispatcher,
    type: string,
    bytes: Buffer,
    size: number,
    replyTo: string | null,
    replies: BatchReplies,
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
    if (replyTo)
      this.pushReply(replies, replyTo, request.type, request.messageId, request.correlationId, result);
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
 * Where the replies of one served batch go: into the batch's own reply list while it is `open`
 * (the engine sends them when the batch settles, framed per request group), else through
 * `connection.reply` as each settles (batched per tick, those of one request group in one frame).
 */
class BatchReplies {
  out: OutboundReply[] = [];
  open = true;
  /** The batch's requests whose handlers are still running. */
  running = 0;
  /** Called when `running` drops to 0 while the batch waits for that (see `release`). */
  whenIdle: (() => void) | undefined;

  constructor(
    private readonly connection: NatsConnection,
    private readonly batch: InboundMessages,
  ) {}

  add(subject: string, envelope: Uint8Array): void {
    if (this.open) this.out.push({ subject, envelope });
    // With the batch: replies of one request group settling in the same tick share a frame.
    else
      this.connection.reply(subject, envelope, this.batch).catch((error: unknown) => {
        this.connection.emit("handlerError", error);
      });
  }

  /** Sends the replies collected so far now, and later ones as they come, until reopened. */
  sendEachNow(): void {
    this.open = false;
    const collected = this.out;
    this.out = [];
    for (const reply of collected) this.add(reply.subject, reply.envelope);
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
