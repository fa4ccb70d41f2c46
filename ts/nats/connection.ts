import { EventEmitter } from "node:events";
import { checkArgument, integer } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import { U32_MAX } from "../native/arguments.js";
import type {
  InboundBatchJs,
  NatsClient,
  NatsStatsJs,
  NatsSubscription,
  ReplyBatchJs,
  ReplyGroupJs,
} from "../native/binding.generated.js";
import { fromNativeError } from "../native/errors.js";
import { native } from "../native/loader.js";
import { OutboundBatcher } from "./batcher.js";
import {
  assertNatsOptions,
  type BackpressurePolicy,
  NATS_DEFAULTS,
  type NatsConnectionOptions,
} from "./options.js";
import { packBytes, viewsOf } from "./pack.js";
import { RequestBatcher } from "./requests.js";
import { isPublishSubject } from "./subjects.js";

/**
 * A connection status change as the engine names it: `connected` (first connection up),
 * `disconnected` (lost; reconnecting), `reconnecting` (an attempt starts after its backoff),
 * `reconnected`, `lameDuck` (the server is shutting down), `slowConsumer` (the server dropped
 * messages for a subscription that fell behind), `draining`, `closed` (for good), `error`.
 */
export type ConnectionStatus =
  | "connected"
  | "disconnected"
  | "reconnecting"
  | "reconnected"
  | "lameDuck"
  | "slowConsumer"
  | "draining"
  | "closed"
  | "error";

/** What a `NatsConnection` emits as `status`. */
export interface StatusEvent {
  /** Which change happened. */
  readonly kind: ConnectionStatus;
  /** `reconnecting` only: the attempt number, from 1. */
  readonly attempt?: number;
  /** `error` only: the server's or client's error text. */
  readonly message?: string;
}

/**
 * Envelopes received together; `replies[i]` is set when envelope i came as a request. The
 * envelopes are views into the received buffer: copy one (`Buffer.from(view)`) to keep it past
 * the handler without keeping that whole buffer alive.
 */
export interface InboundMessages {
  /** How many envelopes arrived. */
  readonly count: number;
  readonly envelopes: readonly Buffer[];
  readonly replies: readonly (string | null)[];
  /**
   * The received buffer and the (start, length) pair of each envelope in it: what `envelopes`
   * are views of, for readers that parse in place (the NATS transport) and make no view at all.
   */
  readonly data: Buffer;
  readonly offsets: Uint32Array;
}

/** An inbound batch whose views and reply list are made only if a handler asks for them. */
class InboundBatch implements InboundMessages {
  private views: Buffer[] | undefined;
  private replyList: (string | null)[] | undefined;

  constructor(
    readonly data: Buffer,
    readonly offsets: Uint32Array,
    private readonly replySubjects: (string | null | undefined)[] | null | undefined,
    /** Its framed request groups, for replies sent after it settled (see `NatsConnection.reply`). */
    readonly replyGroups: ReplyGroupJs[] | null | undefined,
  ) {}

  get count(): number {
    return this.offsets.length / 2;
  }

  get envelopes(): readonly Buffer[] {
    this.views ??= viewsOf(this.data, this.offsets);
    return this.views;
  }

  get replies(): readonly (string | null)[] {
    this.replyList ??= this.replySubjects
      ? this.replySubjects.map((r) => r ?? null)
      : new Array<string | null>(this.count).fill(null);
    return this.replyList;
  }
}

/** A reply to send once the batch is handled: one NATS message to `subject` (a request's reply inbox). */
export interface OutboundReply {
  readonly subject: string;
  readonly envelope: Uint8Array;
}

/**
 * Handles one inbound batch. Replies it resolves with are published by the engine as soon as it
 * settles, with no extra crossing; `reply()` works too, for replies sent later.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: handlers that reply nothing are plain `async () => {}` (Promise<void>).
export type InboundHandler = (messages: InboundMessages) => Promise<void | readonly OutboundReply[]>;

/**
 * The engine's counters since the connection opened, read in bulk by `NatsConnection.stats()`.
 * @interface
 */
export type NatsStats = NatsStatsJs;

/** One live subscription's counters (see {@link NatsConnection.subscriptionStats}). */
export interface SubscriptionStats {
  subject: string;
  /** Its queue group, when it has one. */
  queue?: string;
  /** NATS messages dropped on receipt because the subscription's buffer was full. */
  dropped: number;
}

/** How long after a reconnect "no responders" may mean "not subscribed again yet" (see `resubscribing`). */
const RESUBSCRIBE_GRACE_MS = 5000;

/**
 * A NATS connection run by the Rust engine (async-nats on tokio). Publishes are batched into one
 * N-API call per flush; inbound messages arrive as one call per batch with zero-copy views.
 *
 * Events: `status` ({@link StatusEvent}); `malformed` (count, reason) when a foreign or corrupt
 * message was skipped (the subscription keeps going); `handlerError` (error) when an inbound
 * handler threw (delivery continues).
 */
export class NatsConnection extends EventEmitter {
  private readonly events: OutboundBatcher;
  private readonly whenDisconnected: BackpressurePolicy;
  private readonly replies: OutboundBatcher;
  /** Framed request groups that replies queued since the last reply flush belong to (see `reply`). */
  private readonly replyGroups = new Map<string, ReplyGroupJs>();
  private readonly requests: RequestBatcher;
  /** Live subscriptions, with what `subscriptionStats` names them by. */
  private readonly subscriptions = new Map<
    NatsSubscription,
    { subject: string; queue: string | undefined }
  >();
  private readonly handlersRunning = new Set<Promise<unknown>>();
  /** Called with the envelope count of every inbound batch (see `observeBatches`). */
  private batchObservers: ((size: number) => void)[] = [];
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly client: NatsClient,
    options: NatsConnectionOptions,
  ) {
    super();
    const batch = {
      // Up to 4096 / 1 MiB per batch: each batch costs a JS→tokio→JS round trip, and under load
      // larger batches cut publisher CPU per message (0.44 → 0.39 µs vs 1024 / 512 KiB; 1.12 →
      // 0.44 from 128; benches/RESULTS.md). A batch still closes at the end of the tick, so a
      // larger cap adds no latency; frames on the wire stay ~16 KiB (eventFrameBytes).
      maxMessages: options.batch?.maxMessages ?? NATS_DEFAULTS.batch.maxMessages,
      maxBytes: options.batch?.maxBytes ?? NATS_DEFAULTS.batch.maxBytes,
      maxDelayMs: options.batch?.maxDelayMs ?? NATS_DEFAULTS.batch.maxDelayMs,
      maxQueuedBytes: options.maxPendingBytes ?? NATS_DEFAULTS.maxPendingBytes,
      policy: options.backpressure ?? NATS_DEFAULTS.backpressure,
    };
    const send = (subjects: string[], index: Uint32Array, data: Buffer, offsets: Uint32Array) =>
      this.client.publish(subjects, index, data, offsets, true).catch((e: unknown) => {
        throw fromNativeError(e);
      });
    this.whenDisconnected = options.whenDisconnected ?? NATS_DEFAULTS.whenDisconnected;
    this.events = new OutboundBatcher(send, batch);
    this.replies = new OutboundBatcher((subjects, index, data, offsets) => {
      // The groups named since the last flush; one not answered in this batch costs nothing.
      const groups = this.replyGroups.size === 0 ? undefined : [...this.replyGroups.values()];
      this.replyGroups.clear();
      return this.client.publish(subjects, index, data, offsets, false, groups).catch((e: unknown) => {
        throw fromNativeError(e);
      });
    }, batch);
    this.requests = new RequestBatcher(client);
  }

  /** Connects; bad options throw one CatgaConfigError, an unreachable server CATGA_NOT_CONNECTED. */
  static async connect(options: NatsConnectionOptions): Promise<NatsConnection> {
    assertNatsOptions(options);
    let connection: NatsConnection | undefined;
    const early: StatusEvent[] = [];
    const onEvent = (event: StatusEvent) => {
      const clean = {
        kind: event.kind,
        ...(event.attempt == null ? {} : { attempt: event.attempt }),
        ...(event.message == null ? {} : { message: event.message }),
      } as StatusEvent;
      if (connection) {
        connection.holdEventsWhile(clean.kind);
        connection.emit("status", clean);
      } else early.push(clean);
    };
    const servers = typeof options.servers === "string" ? [options.servers] : [...options.servers];
    const { batch: _batch, compressionThreshold, compressionLevel, limits, ...rest } = options;
    try {
      const client = await native().connectNats(
        {
          ...rest,
          servers,
          frame: {
            ...(compressionThreshold === undefined ? {} : { compressionThreshold }),
            ...(compressionLevel === undefined ? {} : { compressionLevel }),
            ...(limits === undefined ? {} : { limits }),
          },
        },
        onEvent as (event: unknown) => void,
      );
      connection = new NatsConnection(client, options);
    } catch (error) {
      throw fromNativeError(error);
    }
    const ready = connection;
    // Events that fired while connecting (e.g. `connected`) reach each status listener as it attaches.
    ready.on("newListener", (name: string, listener: (event: StatusEvent) => void) => {
      if (name === "status") queueMicrotask(() => early.forEach(listener));
    });
    return ready;
  }

  /**
   * Under `whenDisconnected: "wait"`, events published while the connection is down wait in the
   * batcher and go out in full batches once it is back (the engine would otherwise queue one
   * small message per tick in the client). Under "reject" the engine refuses them at once.
   */
  private holdEventsWhile(kind: ConnectionStatus): void {
    if (kind === "disconnected") this.down = true;
    else if (kind === "reconnected") {
      this.down = false;
      // A flag a timer clears, not a time compared per request: no clock read on the request path.
      this.justBack = true;
      clearTimeout(this.justBackTimer);
      this.justBackTimer = setTimeout(() => {
        this.justBack = false;
      }, RESUBSCRIBE_GRACE_MS);
      this.justBackTimer.unref();
    }
    if (this.whenDisconnected !== "wait") return;
    if (kind === "disconnected") this.events.pause();
    else if (kind === "connected" || kind === "reconnected" || kind === "closed") this.events.resume();
  }

  /** @internal The engine handle, for the JetStream layer built on this connection. */
  get native(): NatsClient {
    return this.client;
  }

  /**
   * @internal close() waits for `work` (which must not reject) before it sends the last queued
   * replies: for replies a handler sends with `reply()` after its batch settled.
   */
  holdCloseFor(work: Promise<void>): void {
    this.handlersRunning.add(work);
    void work.then(() => this.handlersRunning.delete(work));
  }

  /** @internal Throws CATGA_CLOSED once close() has begun. */
  assertOpen(): void {
    if (this.closing) throw new CatgaError(ErrorCodes.CLOSED, "the NATS connection is closing or closed");
  }

  /** Whether the connection to the server is up right now (false while reconnecting). */
  get connected(): boolean {
    return this.client.connected;
  }

  /** Disconnected, and reconnected less than RESUBSCRIBE_GRACE_MS ago (as last reported); see {@link resubscribing}. */
  private down = false;
  private justBack = false;
  private justBackTimer: NodeJS.Timeout | undefined;

  /**
   * @internal Down, or back for less than {@link RESUBSCRIBE_GRACE_MS}: other clients may not have
   * subscribed again yet (each reconnects on its own backoff), so "no responders" may mean "not back
   * yet". Read from the status events, not the engine (no native call per request).
   */
  get resubscribing(): boolean {
    return this.down || this.justBack;
  }

  /**
   * Publishes an event envelope; batched with others for the same tick into CTG1 frames. Rejects
   * with CATGA_PERMISSION_DENIED (`details.subject`) when the server does not let this connection
   * publish to `subject`: the first publish to each subject waits for a server round trip to find
   * out, later ones to a refused subject fail at once (docs/architecture/transport.md, "Permissions").
   */
  publish(subject: string, envelope: Uint8Array): Promise<void> {
    return this.events.add(subject, envelope);
  }

  /**
   * Sends a reply envelope to a request's reply subject: batched per tick, one NATS message each,
   * except that given the inbound batch the request came in, replies sent in one tick to members
   * of one framed request group travel as one frame (as replies returned with a batch do).
   */
  reply(subject: string, envelope: Uint8Array, from?: InboundMessages): Promise<void> {
    if (from instanceof InboundBatch && from.replyGroups)
      for (const group of from.replyGroups) this.replyGroups.set(group.subject, group);
    return this.replies.add(subject, envelope);
  }

  /**
   * Sends one request envelope; resolves with the reply envelope bytes. Requests made in the same
   * tick start together in one N-API call, and finished ones come back in groups through one
   * callback, so a burst of requests costs two crossings, not two per request.
   */
  request(subject: string, envelope: Uint8Array, timeoutMs?: number): Promise<Buffer> {
    // The engine reads the timeout as a u32: -1 would wait ~49 days (and hold up close()).
    try {
      checkArgument("timeoutMs", timeoutMs, integer(1, U32_MAX));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.requests.add(subject, envelope, timeoutMs);
  }

  /**
   * Subscribes; `handler` gets each inbound batch and the next batch waits until its promise
   * settles. With `queue`, instances in the same group share the messages.
   */
  async subscribe(
    subject: string,
    options: { queue?: string },
    handler: InboundHandler,
  ): Promise<() => Promise<void>> {
    const handle = (batch: InboundBatchJs): Promise<ReplyBatchJs | undefined> => {
      if (batch.malformed > 0) this.emit("malformed", batch.malformed, batch.malformedReason ?? "unknown");
      if (batch.dropped > 0) {
        this.emit("status", {
          kind: "slowConsumer",
          message: `${batch.dropped} messages on ${subject} dropped: subscriptionBufferBytes reached while its handler was busy`,
        } satisfies StatusEvent);
      }
      const count = batch.offsets.length / 2;
      if (count === 0) return Promise.resolve(undefined);
      for (const observe of this.batchObservers) observe(count);
      return handler(new InboundBatch(batch.data, batch.offsets, batch.replies, batch.replyGroups)).then(
        (out) => toReplyBatch(out, this),
      );
    };
    // The engine waits for settleBatch before the next batch: it is called exactly once per batch,
    // whatever the handler (or a listener) throws or rejects.
    const onBatch = (batch: InboundBatchJs): void => {
      let outcome: Promise<ReplyBatchJs | undefined>;
      try {
        outcome = handle(batch);
      } catch (error) {
        outcome = Promise.reject(error);
      }
      const running = outcome.catch((error: unknown) => {
        this.emit("handlerError", error);
        return undefined;
      });
      this.handlersRunning.add(running);
      void running.then((replies) => {
        this.handlersRunning.delete(running);
        try {
          this.client.settleBatch(batch.token, replies ?? null);
        } catch (error) {
          // Replies the engine cannot take (bad shape) are dropped; the batch still settles.
          this.emit("handlerError", fromNativeError(error));
          this.client.settleBatch(batch.token, null);
        }
      });
    };
    let subscription: NatsSubscription;
    try {
      subscription = await this.client.subscribe(subject, options.queue, onBatch as never);
    } catch (error) {
      throw fromNativeError(error);
    }
    this.subscriptions.set(subscription, { subject, queue: options.queue });
    // Resolve only once the server has the subscription, so a publish right after is not missed.
    await this.client.flush().catch((e: unknown) => {
      throw fromNativeError(e);
    });
    return async () => {
      this.subscriptions.delete(subscription);
      await subscription.drain();
    };
  }

  /**
   * Calls `listener` with the number of envelopes in each inbound batch delivered to a
   * subscription of this connection (once per batch; observability records the
   * `catga.transport.batch.size` histogram with it). Returns a function that stops it.
   */
  observeBatches(listener: (size: number) => void): () => void {
    this.batchObservers = [...this.batchObservers, listener];
    return () => {
      this.batchObservers = this.batchObservers.filter((l) => l !== listener);
    };
  }

  /**
   * Per live subscription: its subject, queue group and the NATS messages this client dropped
   * for it on receipt because `subscriptionBufferBytes` was reached while its handler was busy
   * (core NATS is at-most-once; the server delivered them). `stats().framesDropped` is the sum,
   * plus drops in the underlying client's own queue (`subscriptionCapacity`).
   */
  subscriptionStats(): SubscriptionStats[] {
    return [...this.subscriptions].map(([subscription, { subject, queue }]) => ({
      subject,
      ...(queue === undefined ? {} : { queue }),
      dropped: subscription.dropped,
    }));
  }

  /**
   * Engine counters (bytes, frames, reconnects...), read in bulk. `backpressureWaits` and
   * `backpressureRejections` count every publish, reply or request that waited for room or was
   * refused with CATGA_BACKPRESSURE, whether the bound was reached in the JS batcher
   * (`maxPendingBytes`) or in the engine.
   */
  stats(): NatsStats {
    const stats = this.client.stats();
    return {
      ...stats,
      backpressureWaits: stats.backpressureWaits + this.events.waits + this.replies.waits,
      backpressureRejections: stats.backpressureRejections + this.events.rejections + this.replies.rejections,
    };
  }

  /**
   * Subjects the server refused to subscribe this connection to (a permissions violation): such
   * a subscription stays silent. Complete after a `flush()`, which the server answers only after
   * every SUB sent before it.
   */
  refusedSubscriptions(): string[] {
    return this.client.refusedSubscriptions();
  }

  /** Sends queued batches and waits until the server has them; CATGA_CLOSED after close(). */
  async flush(): Promise<void> {
    this.assertOpen();
    await Promise.all([this.events.flush(), this.replies.flush()]);
    await this.client.flush().catch((e: unknown) => {
      // Closed meanwhile: the engine only knows its channel went away ("channel closed").
      if (this.closing)
        throw new CatgaError(ErrorCodes.CLOSED, "the NATS connection is closed", { cause: e });
      throw fromNativeError(e);
    });
  }

  /**
   * Graceful close: stop taking work, deliver what subscriptions already received and finish
   * their handlers (replies sent later included, see `holdCloseFor`), send queued replies and
   * events, then drain the connection. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions.keys()].map((s) => s.drain()));
      this.subscriptions.clear();
      // Work held with holdCloseFor can start while earlier work finishes (a batch that waited for
      // a request slot serves its rest): wait until none is left.
      while (this.handlersRunning.size > 0) await Promise.all(this.handlersRunning);
      await Promise.all([this.events.close(), this.replies.close()]);
      try {
        await this.client.close();
      } catch (error) {
        throw fromNativeError(error);
      }
    })();
    return this.closing;
  }
}

/** Packs a handler's replies for the engine: one buffer plus offsets. */
function toReplyBatch(
  // biome-ignore lint/suspicious/noConfusingVoidType: receives what an InboundHandler resolves with.
  returned: void | readonly OutboundReply[],
  events: EventEmitter,
): ReplyBatchJs | undefined {
  if (!returned || returned.length === 0) return undefined;
  // The engine sends a batch's replies as one unit: one bad subject must not hold back the rest.
  const replies = returned.filter((r) => isPublishSubject(r?.subject));
  if (replies.length < returned.length) {
    const bad = returned.find((r) => !isPublishSubject(r?.subject));
    events.emit(
      "handlerError",
      new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `${returned.length - replies.length} replies dropped: subject ${JSON.stringify(bad?.subject)} is not a valid NATS subject`,
      ),
    );
  }
  if (replies.length === 0) return undefined;
  return { subjects: replies.map((r) => r.subject), ...packBytes(replies.map((r) => r.envelope)) };
}
