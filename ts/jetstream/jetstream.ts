import { describe } from "../checks.js";
import { CatgaConfigError, CatgaError, describeThrown, ErrorCodes } from "../errors.js";
import { type AckSignal, ackSignals } from "../mediator/signals.js";
import { fromNativeError } from "../native/errors.js";
import type { NatsConnection } from "../nats/connection.js";
import { indexSubjects, packBytes, viewAt } from "../nats/pack.js";
import { failureOn } from "../nats/permissions.js";
import { isPublishSubject } from "../nats/subjects.js";
import { decodeWire, type WireEnvelope } from "../nats/wire.js";
import {
  assertConsumerOptions,
  assertStreamOptions,
  CONSUMER_DEFAULTS,
  type DurableConsumerOptions,
  type StreamOptions,
} from "./options.js";
import { type ConsumerState, type Decision, KeyedOrder } from "./ordered.js";

/** One item for a durable publish; `messageId` is also the server's dedupe key (Nats-Msg-Id). */
export interface DurableItem {
  readonly subject: string;
  readonly messageId: string;
  readonly envelope: Uint8Array;
}

/**
 * One item's outcome of a durable publish: its stream `sequence` once acked (`duplicate` when
 * the stream already held its `messageId`), or a Catga `code` and `message` when it was not.
 */
export type DurableOutcome =
  | { readonly ok: true; readonly sequence: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** What the outbox relay (and anyone else) needs to publish durably. */
export interface DurablePublisher {
  /**
   * Publishes each item durably and resolves with one outcome per item, in order; never rejects
   * for one item's failure (see {@link JetStream.publish}).
   */
  publish(items: readonly DurableItem[]): Promise<readonly DurableOutcome[]>;
}

/** A message from a durable consumer. Throw from the handler to fail it (it is retried). */
export interface DurableMessage {
  readonly subject: string;
  readonly envelope: WireEnvelope;
  /** The raw envelope bytes (a zero-copy view). */
  readonly bytes: Uint8Array;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly streamSequence: number;
  /**
   * NATS headers; a dead letter carries `Catga-Error-Code`, `Catga-Error-Message`, `Catga-Deliveries`,
   * `Catga-Original-Subject`, `Catga-Stream-Sequence`, `Catga-Stream` and `Catga-Consumer`.
   */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * What a handler returns to have its message delivered again later without counting as a failure
 * (a timer not due yet): the message is nak'ed with this delay, and the server keeps the timer.
 */
export interface RedeliverLater {
  readonly redeliverInMs: number;
}

/**
 * Handles one message of a durable consumer: resolving acks it, throwing fails it (redelivered
 * with backoff up to the consumer's `maxDeliver`), {@link RedeliverLater} delays it without counting.
 */
export type DurableHandler = (
  message: DurableMessage,
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers written `async (m) => {...}` return Promise<void>
) => Promise<void | RedeliverLater> | void | RedeliverLater;

/**
 * JetStream on the Rust engine: streams from config, durable publishes deduplicated by message
 * id with acks awaited in bounded batches, and durable pull consumers (ack after the handler
 * succeeds, nak with backoff on failure, dead-letter after `maxDeliver`).
 */
export class JetStream implements DurablePublisher {
  private readonly prefix: string;

  /**
   * JetStream over `connection`. `options.prefix` starts the default dead-letter subjects of
   * consumers (`<prefix>.dlq.<type>`); default `"catga"`.
   */
  constructor(
    readonly connection: NatsConnection,
    options: { prefix?: string } = {},
  ) {
    this.prefix = options.prefix ?? "catga";
  }

  /** Creates or updates a stream to match the options; safe to run on every start. */
  async ensureStream(options: StreamOptions): Promise<void> {
    assertStreamOptions(options);
    try {
      await this.connection.native.ensureStream({ ...options, subjects: [...options.subjects] });
    } catch (error) {
      throw fromNativeError(error);
    }
  }

  /** Deletes a stream and all its messages; resolves with whether it existed. */
  async deleteStream(name: string): Promise<boolean> {
    try {
      return await this.connection.native.deleteStream(name);
    } catch (error) {
      throw fromNativeError(error);
    }
  }

  /**
   * Publishes durably; resolves with one outcome per item once the server acked (or refused)
   * each. A publish that cannot be acked comes back `{ ok: false, code }`, never dropped, and the
   * call settles within the connection's `durablePublishTimeoutMs` (15 s) whatever the broker
   * does. Until then an item whose attempt failed for a reason that may pass (a stream-leader
   * election, a lost ack, a reconnect) is re-sent with the same `messageId`, which the server
   * deduplicates; one not acked by then is `CATGA_TIMEOUT` (it may still have been stored; a
   * retry with the same `messageId` is deduplicated too). A re-sent item may report `duplicate`
   * for the copy its earlier attempt stored, and may land after items sent later.
   */
  async publish(items: readonly DurableItem[]): Promise<readonly DurableOutcome[]> {
    if (!Array.isArray(items))
      throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `items must be an array, got ${describe(items)}`, {
        details: { field: "items" },
      });
    if (items.length === 0) return [];
    // The whole call is refused before anything is sent: a bad item is the caller's bug.
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as DurableItem | null;
      if (typeof item !== "object" || item === null)
        throw new CatgaError(
          ErrorCodes.INVALID_ARGUMENT,
          `items[${i}] must be an object, got ${describe(item)}`,
          {
            details: { field: `items[${i}]` },
          },
        );
      checkItem(item.subject, item.messageId, item.envelope, `items[${i}].`);
    }
    this.connection.assertOpen();
    return this.publishAccepted(items);
  }

  /** `publish` of items accepted while the connection was open (the engine refuses if it is not). */
  private async publishAccepted(items: readonly DurableItem[]): Promise<readonly DurableOutcome[]> {
    const { subjects, subjectIndex } = indexSubjects(items.map((i) => i.subject));
    const { data, offsets } = packBytes(items.map((i) => i.envelope));
    try {
      const outcomes = await this.connection.native.publishDurable(
        subjects,
        subjectIndex,
        items.map((i) => i.messageId),
        data,
        offsets,
      );
      return outcomes.map((o) =>
        o.ok
          ? { ok: true as const, sequence: o.sequence ?? 0, duplicate: o.duplicate ?? false }
          : {
              ok: false as const,
              code: o.code ?? ErrorCodes.TRANSPORT,
              message: o.message ?? "publish failed",
            },
      );
    } catch (error) {
      throw fromNativeError(error);
    }
  }

  /**
   * Publishes one envelope durably; rejects with a CatgaError when it is not acked (by
   * `durablePublishTimeoutMs` at the latest, as for {@link JetStream.publish}). Calls made in
   * the same tick go to the engine together, in one `publish` (one N-API call, acks awaited
   * concurrently): a publisher with many events in flight (durable events through the mediator)
   * no longer pays a crossing and a promise chain per event.
   */
  publishOne(
    subject: string,
    messageId: string,
    envelope: Uint8Array,
  ): Promise<{ sequence: number; duplicate: boolean }> {
    // Checked per call, so one caller's bad argument fails that call alone, not its batch; and the
    // connection is checked now, so a close() later in this tick does not fail what was accepted.
    try {
      this.connection.assertOpen();
      checkItem(subject, messageId, envelope, "");
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.singles.push({ item: { subject, messageId, envelope }, resolve, reject });
      if (this.singles.length === 1) queueMicrotask(this.flushSingles);
    });
  }

  private singles: PendingSingle[] = [];

  private readonly flushSingles = (): void => {
    const batch = this.singles;
    this.singles = [];
    this.publishAccepted(batch.map((single) => single.item)).then(
      (outcomes) => {
        for (let i = 0; i < batch.length; i++) {
          const outcome = outcomes[i];
          if (outcome?.ok) batch[i]!.resolve({ sequence: outcome.sequence, duplicate: outcome.duplicate });
          else
            batch[i]!.reject(
              failureOn(
                batch[i]!.item.subject,
                outcome?.code ?? ErrorCodes.TRANSPORT,
                outcome?.message ?? "publish failed",
              ),
            );
        }
      },
      (error: unknown) => {
        for (const single of batch) single.reject(error);
      },
    );
  };

  /**
   * Runs a durable consumer until the returned function is called (which finishes the batch in
   * hand). Each message is acked after `handler` resolves; a throw naks it with backoff, and on
   * its `maxDeliver`-th failure it goes to the dead-letter subject with the error code, message
   * and delivery count (headers `Catga-Error-Code`, `Catga-Error-Message`, `Catga-Deliveries`).
   * With `orderBy`, a failure is retried in place instead, holding its key (see
   * {@link DurableConsumerOptions.orderBy} and docs/architecture/jetstream.md, "Per-key order").
   */
  async consume(options: DurableConsumerOptions, handler: DurableHandler): Promise<() => Promise<void>> {
    assertConsumerOptions(options);
    if (typeof handler !== "function")
      throw new CatgaConfigError([
        {
          path: "consume.handler",
          message: `must be a function (message) => Promise, got ${describe(handler)}`,
        },
      ]);
    const maxDeliver = options.maxDeliver ?? CONSUMER_DEFAULTS.maxDeliver;
    const backoff =
      options.backoffMs && options.backoffMs.length > 0 ? options.backoffMs : CONSUMER_DEFAULTS.backoffMs;
    const defaultDeadLetter = (type: string) => `${this.prefix}.dlq.${type}`;
    const deadLetter = options.deadLetterSubject ?? defaultDeadLetter;
    // What a failed delivery becomes: nak with backoff, or the dead-letter subject once its
    // deliveries are spent. Every failure goes through here — the handler's, but also one of
    // decoding or of `orderBy` — so a batch always gets decisions and none spins or is lost.
    const failed = (deliveryCount: number, type: string, error: unknown): Decision => {
      const code =
        error instanceof CatgaError && typeof error.code === "string"
          ? error.code
          : ErrorCodes.HANDLER_FAILED;
      const text = describeThrown(error);
      if (isLastDelivery(code, deliveryCount, maxDeliver)) {
        let subject: string;
        try {
          subject = deadLetter(type);
        } catch {
          subject = defaultDeadLetter(type);
        }
        return { action: "dlq", subject, code, message: text };
      }
      const delayMs = backoff[Math.min(deliveryCount - 1, backoff.length - 1)] ?? 1000;
      return { action: "nak", delayMs };
    };
    const decide = async (message: DurableMessage): Promise<Decision> => {
      try {
        const later = await handler(message);
        return later === undefined ? { action: "ack" } : { action: "nak", delayMs: later.redeliverInMs };
      } catch (error) {
        return failed(message.deliveryCount, message.envelope.type, error);
      }
    };
    // With `orderBy`: ready once the engine has opened the consumer (a first batch may come
    // before `consume` resolves here, so it waits for it). See KeyedOrder.
    let orderReady: ((order: KeyedOrder) => void) | undefined;
    const ordered = options.orderBy
      ? new Promise<KeyedOrder>((resolve) => {
          orderReady = resolve;
        })
      : undefined;
    // For catga.jetstream.* metrics (observability subscribes): one signal per decided delivery.
    const signalDecision = (deliveryCount: number, decision: Decision, startedMs: number): void => {
      if (decision.action === "hold") return;
      ackSignals.publish({
        stream: options.stream,
        durable: options.durable,
        deliveryCount,
        action: decision.action,
        latencyMs: performance.now() - startedMs,
      } satisfies AckSignal);
    };
    const onBatch = async (batch: {
      data: Buffer;
      offsets: Uint32Array;
      subjects: string[];
      deliveries: Uint32Array;
      sequences: number[];
      headers: Record<string, string>[];
      malformed: number;
    }): Promise<Decision[]> => {
      const count = batch.subjects.length;
      const startedMs = performance.now();
      const messages: (DurableMessage | undefined)[] = [];
      const decisions = new Array<Decision>(count);
      for (let i = 0; i < count; i++) {
        const bytes = viewAt(batch.data, batch.offsets[2 * i]!, batch.offsets[2 * i + 1]!);
        try {
          messages.push({
            subject: batch.subjects[i]!,
            envelope: decodeWire(bytes),
            bytes,
            deliveryCount: batch.deliveries[i]!,
            streamSequence: batch.sequences[i]!,
            headers: batch.headers[i] ?? {},
          });
        } catch (error) {
          // Not a Catga envelope (counted by the engine in `malformedReceived`): reported with
          // where it came from, and dead-lettered at once with its bytes (CATGA_DECODE).
          this.connection.emit(
            "malformed",
            1,
            `non-Catga message on ${batch.subjects[i]} (stream sequence ${batch.sequences[i]}): ${describeThrown(error)}`,
          );
          messages.push(undefined);
          // Whatever the decoder threw, no redelivery can fix the bytes: permanent, at once.
          const undecodable =
            error instanceof CatgaError && error.code === ErrorCodes.DECODE
              ? error
              : new CatgaError(ErrorCodes.DECODE, `not a Catga envelope: ${describeThrown(error)}`, {
                  cause: error,
                });
          decisions[i] = failed(batch.deliveries[i]!, "_undecodable", undecodable);
        }
      }
      if (ordered) {
        await (await ordered).onBatch(messages, decisions);
        if (ackSignals.hasSubscribers)
          decisions.forEach((decision, i) => {
            signalDecision(batch.deliveries[i]!, decision, startedMs);
          });
        return decisions;
      }
      await Promise.all(
        messages.map(async (m, i) => {
          if (m) decisions[i] = await decide(m);
          if (ackSignals.hasSubscribers) signalDecision(batch.deliveries[i]!, decisions[i]!, startedMs);
        }),
      );
      return decisions;
    };
    try {
      const subscription = await this.connection.native.consume(
        {
          stream: options.stream,
          durable: options.durable,
          ...(options.filterSubject === undefined ? {} : { filterSubject: options.filterSubject }),
          ...(options.ackWaitMs === undefined ? {} : { ackWaitMs: options.ackWaitMs }),
          maxDeliver,
          ...(options.maxAckPending === undefined ? {} : { maxAckPending: options.maxAckPending }),
          ...(options.batch === undefined ? {} : { batch: options.batch }),
          ...(options.fetchWaitMs === undefined ? {} : { fetchWaitMs: options.fetchWaitMs }),
        },
        onBatch as never,
      );
      const orderBy = options.orderBy;
      if (!orderBy)
        return async () => {
          await subscription.drain();
          await subscription.release(); // holds nothing; ends the engine's keep-alive task
        };
      // A retry in place counts as a delivery: the handler sees it in `deliveryCount`, and
      // `maxDeliver` bounds it (the server's count restarts if the process dies meanwhile).
      const attempt = async (message: DurableMessage, n: number): Promise<Decision> => {
        const decision = await decide(
          n === message.deliveryCount ? message : { ...message, deliveryCount: n },
        );
        return decision.action === "dlq" ? { ...decision, deliveries: n } : decision;
      };
      const order = new KeyedOrder({
        attempt,
        keyOf: orderBy,
        keyFailed: (message, error) => failed(message.deliveryCount, message.envelope.type, error),
        settle: (sequences, decisions) => subscription.settle(sequences, decisions),
        state: () => subscription.state() as Promise<ConsumerState>,
        start: subscription.startState,
        ackWaitMs: options.ackWaitMs ?? CONSUMER_DEFAULTS.ackWaitMs,
      });
      orderReady?.(order);
      return async () => {
        await subscription.drain();
        await order.stop();
        await subscription.release();
      };
    } catch (error) {
      throw fromNativeError(error);
    }
  }
}

/**
 * Error codes that no redelivery can fix: the message is dead-lettered at once instead of retried.
 * Documented in docs/architecture/jetstream.md ("Dead letters").
 */
export const PERMANENT_FAILURES: ReadonlySet<string> = new Set([ErrorCodes.DECODE, ErrorCodes.VALIDATION]);

/**
 * Whether a delivery that failed with `code` is dead-lettered rather than retried: a failure no
 * redelivery can fix (bytes that do not decode, a payload its schema refuses) at once, under its own
 * code; any other once the message's `maxDeliver` deliveries are spent (-1: never).
 */
export function isLastDelivery(code: string, deliveryCount: number, maxDeliver: number): boolean {
  return PERMANENT_FAILURES.has(code) || (maxDeliver !== -1 && deliveryCount >= maxDeliver);
}

/**
 * One item of a durable publish, as a caller may pass anything from JavaScript: a publishable
 * subject, a non-empty message id (JetStream's dedupe key), bytes. `at` prefixes the field's name.
 * Values are quoted at most 200 characters long (an argument may be megabytes).
 */
function checkItem(subject: unknown, messageId: unknown, envelope: unknown, at: string): void {
  const quoted = (value: unknown) => describe(typeof value === "string" ? value.slice(0, 200) : value);
  if (typeof subject !== "string" || !isPublishSubject(subject))
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `${at}subject ${quoted(subject)} is not a valid NATS subject`,
      {
        details: { field: `${at}subject` },
      },
    );
  if (typeof messageId !== "string" || messageId.length === 0)
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `${at}messageId must be a non-empty string, got ${quoted(messageId)}`,
      {
        details: { field: `${at}messageId` },
      },
    );
  if (!(envelope instanceof Uint8Array))
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `${at}envelope must be a Uint8Array or Buffer, got ${describe(envelope)}`,
      {
        details: { field: `${at}envelope` },
      },
    );
}

/** A `publishOne` waiting for the end of the tick, when it goes out with the others. */
interface PendingSingle {
  readonly item: DurableItem;
  resolve(outcome: { sequence: number; duplicate: boolean }): void;
  reject(error: unknown): void;
}
