import { describe } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import { type DurableMessage, JetStream, type RedeliverLater } from "../jetstream/jetstream.js";
import type { StreamOptions } from "../jetstream/options.js";
import { err, ok, type Result } from "../mediator/result.js";
import type { Scheduled } from "../mediator/schedule.js";
import type { Envelope } from "../mediator/transport.js";
import type { NatsConnection } from "../nats/connection.js";
import { decodeWire, type EnvelopeCodec } from "../nats/wire.js";
import { defaultStreamName, type SchedulingOptions } from "./options.js";

/** Envelope header: when the message is due, epoch ms. Stays on the delivered message. */
export const DELIVER_AT_HEADER = "catga-deliver-at";
/** Envelope header: how it is delivered, `"stream"` (JetStream, deduplicated by id) or `"core"`. */
export const SCHEDULE_VIA_HEADER = "catga-schedule-via";
/**
 * The longest nak delay asked of the server: a timer further out is looked at again then (the
 * engine's delay is a u32 of ms; a day keeps the re-reads of far timers rare).
 */
const MAX_NAK_MS = 24 * 3600_000;
/** The server's message-get error when no message matches (JSApiNoMessageFound). */
const NO_MESSAGE_FOUND = 10037;

/** One pending scheduled message, as `list` shows it. */
export interface ScheduledInfo extends Scheduled {
  readonly kind: "event" | "command";
  readonly type: string;
  /** Its sequence in the schedule stream: pass it as `after` to read the next page. */
  readonly sequence: number;
}

/** A page of pending scheduled messages, in the order they were scheduled. */
export interface ScheduledPage {
  readonly items: readonly ScheduledInfo[];
  /** Pass as `after` for the next page; undefined when this page is the last. */
  readonly next: number | undefined;
}

/** What operators can do with the scheduled messages of a transport (`transport.schedules`). */
export interface Schedules {
  /** Removes a pending scheduled message; CATGA_INVALID_ARGUMENT (`details.field: "id"`) when none has that id. */
  cancel(id: string): Promise<Result<{ readonly id: string }>>;
  /** Reads pending scheduled messages, `limit` at a time (default 100, at most 1000), after sequence `after`. */
  list(page?: { readonly after?: number; readonly limit?: number }): Promise<Result<ScheduledPage>>;
}

/**
 * The schedule stream: `stream` (default `<PREFIX>_SCHEDULE`), a work queue capturing
 * `<prefix>.sched.<id>` (one message per pending timer) and `<prefix>.sched-dlq.>` (timers that
 * cannot be delivered: not a Catga envelope, no due time), file storage.
 */
export function scheduleStream(prefix: string, options: SchedulingOptions): StreamOptions {
  const settings = typeof options.provision === "object" ? options.provision : {};
  return {
    ...settings,
    name: options.stream ?? defaultStreamName(prefix, "SCHEDULE"),
    subjects: [`${prefix}.sched.>`, `${prefix}.sched-dlq.>`],
    retention: "workqueue",
  };
}

/**
 * Scheduled and delayed messages on JetStream (docs/architecture/scheduling.md). A timer is a message in the
 * schedule stream; every instance with `scheduling` takes them through one shared durable
 * consumer. One not due yet is nak'ed with the time left, so the server holds the timer, not this
 * process; one due is published to its target with `Nats-Msg-Id` = its id, then acked.
 */
export class Scheduler implements Schedules {
  private readonly js: JetStream;
  private readonly stream: StreamOptions;
  private stop: (() => Promise<void>) | undefined;

  constructor(
    private readonly connection: NatsConnection,
    private readonly options: SchedulingOptions,
    private readonly prefix: string,
    private readonly codec: EnvelopeCodec,
    /** Whether a message of this kind and type is delivered through a JetStream stream. */
    private readonly viaStream: (envelope: Pick<Envelope, "kind" | "type">) => boolean,
  ) {
    this.js = new JetStream(connection, { prefix });
    this.stream = scheduleStream(prefix, options);
  }

  /** Creates or updates the schedule stream (idempotent); `provision: false` skips it. */
  async provision(): Promise<void> {
    if (this.options.provision === false) return;
    await this.js.ensureStream(this.stream);
  }

  /** Starts delivering due timers from this process. */
  async start(): Promise<void> {
    const consumer = this.options.consumer ?? {};
    this.stop = await this.js.consume(
      {
        stream: this.stream.name,
        durable: "catga-scheduler",
        filterSubject: `${this.prefix}.sched.>`,
        ackWaitMs: consumer.ackWaitMs ?? 30_000,
        // Every timer taken and nak'ed stays pending on the server until it is due: a bounded
        // maxAckPending would let far-future timers hold back an early one (measured on 2.9.10,
        // docs/architecture/scheduling.md). Never dead-lettered for being early: no delivery limit.
        maxAckPending: 2_147_483_647,
        maxDeliver: -1,
        batch: consumer.batch ?? 1024,
        fetchWaitMs: consumer.fetchWaitMs ?? 1000,
        deadLetterSubject: (type) => `${this.prefix}.sched-dlq.${type}`,
      },
      (message) => this.fire(message),
    );
  }

  /** Stores `envelope` until `deliverAt`; never rejects. */
  async schedule(envelope: Envelope, deliverAt: number): Promise<Result<Scheduled>> {
    const id = envelope.messageId;
    if (id.length > 128)
      return err(
        ErrorCodes.INVALID_ARGUMENT,
        `options.messageId of a scheduled message is its schedule id: at most 128 characters, got ${id.length}`,
        { field: "messageId" },
      );
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(id))
      return err(
        ErrorCodes.INVALID_ARGUMENT,
        `options.messageId of a scheduled message is its schedule id: letters, digits, "-" and "_" only (a subject token), got ${JSON.stringify(id)}`,
        { field: "messageId" },
      );
    const headers = {
      ...envelope.headers,
      [DELIVER_AT_HEADER]: String(deliverAt),
      [SCHEDULE_VIA_HEADER]: this.viaStream(envelope) ? "stream" : "core",
    };
    try {
      const bytes = this.codec.encodeMessage({ ...envelope, headers });
      const stored = await this.js.publishOne(`${this.prefix}.sched.${id}`, id, bytes);
      if (!stored.duplicate) return ok({ id, deliverAt });
      // Scheduled before under this id (within the duplicate window): that timer stands, this one
      // was dropped. Say so, with the standing timer's time (unknown once it fired).
      return ok({ id, deliverAt: await this.deliverAtOf(stored.sequence), duplicate: true });
    } catch (error) {
      return failure(error);
    }
  }

  /** The due time of the timer stored at `sequence`; NaN when it is gone (fired or cancelled). */
  private async deliverAtOf(sequence: number): Promise<number> {
    try {
      const reply = await this.api<{ message?: { data?: string } }>(
        `STREAM.MSG.GET.${this.stream.name}`,
        { seq: sequence },
        NO_MESSAGE_FOUND,
      );
      if (reply.message === undefined) return Number.NaN;
      return Number(decodeWire(Buffer.from(reply.message.data ?? "", "base64")).headers[DELIVER_AT_HEADER]);
    } catch {
      return Number.NaN;
    }
  }

  /** Delivers a due timer to its target, or hands an early one back to the server with the time left. */
  private async fire(message: DurableMessage): Promise<undefined | RedeliverLater> {
    const { headers, kind, type, messageId } = message.envelope;
    const due = Number(headers[DELIVER_AT_HEADER]);
    if (!Number.isFinite(due) || (kind !== "event" && kind !== "command"))
      throw new CatgaError(
        ErrorCodes.DECODE,
        `not a scheduled message: ${kind} "${type}" without a due time`,
      );
    // Checked here, not trusted to the server's timer: never delivered early.
    const left = due - Date.now();
    if (left > 0) return { redeliverInMs: Math.min(left, MAX_NAK_MS) };
    const channel = kind === "event" ? "evt" : "dcmd";
    const target = `${this.prefix}.${channel}.${type}`;
    if (headers[SCHEDULE_VIA_HEADER] === "stream") {
      // Deduplicated by id within the target stream's window: a redelivery after a lost ack (or a
      // crash between this publish and the ack) does not store it twice.
      await this.js.publishOne(target, messageId, message.bytes);
      return undefined;
    }
    // The transport's connection echoes: this process's own service gets it through its queue
    // group like every other (issue 14), so nothing runs here.
    await this.connection.publish(target, message.bytes);
    return undefined;
  }

  async cancel(id: string): Promise<Result<{ readonly id: string }>> {
    if (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(id))
      return err(ErrorCodes.INVALID_ARGUMENT, `id must be a schedule id, got ${JSON.stringify(id)}`, {
        field: "id",
      });
    try {
      // Not a purge by subject: on 2.9.10 a filtered purge of a work queue resets the consumer's
      // pending list, losing every other nak'ed timer (measured; docs/architecture/scheduling.md). Deleting the
      // one message by sequence leaves the rest pending.
      const found = await this.api<{ message?: { seq: number } }>(
        `STREAM.MSG.GET.${this.stream.name}`,
        { last_by_subj: `${this.prefix}.sched.${id}` },
        NO_MESSAGE_FOUND,
      );
      const deleted =
        found.message !== undefined &&
        (
          await this.api<{ success?: boolean }>(
            `STREAM.MSG.DELETE.${this.stream.name}`,
            { seq: found.message.seq, no_erase: true },
            NO_MESSAGE_FOUND,
          )
        ).success === true;
      if (!deleted)
        return err(
          ErrorCodes.INVALID_ARGUMENT,
          `no pending scheduled message has id ${JSON.stringify(id)} (delivered, cancelled, or never scheduled)`,
          { field: "id", id, unknown: true },
        );
      return ok({ id });
    } catch (error) {
      return failure(error);
    }
  }

  async list(
    page: { readonly after?: number; readonly limit?: number } = {},
  ): Promise<Result<ScheduledPage>> {
    if (typeof page !== "object" || page === null)
      return err(ErrorCodes.INVALID_ARGUMENT, `list takes { after?, limit }, got ${describe(page)}`, {
        field: "page",
      });
    const unknown = Object.keys(page).filter((key) => key !== "after" && key !== "limit");
    if (unknown.length > 0)
      return err(ErrorCodes.INVALID_ARGUMENT, `list: unknown option ${unknown[0]} (expected after, limit)`, {
        field: unknown[0]!,
      });
    const { after = 0, limit = 100 } = page;
    if (!Number.isSafeInteger(after) || after < 0)
      return err(ErrorCodes.INVALID_ARGUMENT, `after must be a stream sequence (0 or more), got ${after}`, {
        field: "after",
      });
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
      return err(ErrorCodes.INVALID_ARGUMENT, `limit must be an integer from 1 to 1000, got ${limit}`, {
        field: "limit",
      });
    const items: ScheduledInfo[] = [];
    try {
      let seq = after + 1;
      while (items.length < limit) {
        const reply = await this.api<{ message?: { seq: number; data?: string } }>(
          `STREAM.MSG.GET.${this.stream.name}`,
          { seq, next_by_subj: `${this.prefix}.sched.>` },
          NO_MESSAGE_FOUND,
        );
        const found = reply.message;
        if (found === undefined) return ok({ items, next: undefined });
        const envelope = decodeWire(Buffer.from(found.data ?? "", "base64"));
        items.push({
          id: envelope.messageId,
          deliverAt: Number(envelope.headers[DELIVER_AT_HEADER]),
          kind: envelope.kind as "event" | "command",
          type: envelope.type,
          sequence: found.seq,
        });
        seq = found.seq + 1;
      }
      return ok({ items, next: items[items.length - 1]?.sequence });
    } catch (error) {
      return failure(error);
    }
  }

  /** A JetStream API request; a server error other than `allowed` becomes a CatgaError. */
  private async api<Reply>(name: string, body: object, allowed?: number): Promise<Reply> {
    const bytes = await this.connection.request(`$JS.API.${name}`, Buffer.from(JSON.stringify(body)), 5000);
    const reply = JSON.parse(bytes.toString()) as Reply & {
      error?: { err_code?: number; description?: string };
    };
    if (reply.error !== undefined && reply.error.err_code !== allowed)
      throw new CatgaError(ErrorCodes.TRANSPORT, `JetStream ${name}: ${reply.error.description ?? "failed"}`);
    return reply;
  }

  /** Stops taking timers (the batch in hand is finished); pending ones stay on the server. */
  async close(): Promise<void> {
    await this.stop?.();
  }
}

function failure(error: unknown): Result<never> {
  if (error instanceof CatgaError) return err(error.code, error.message, error.details, error);
  return err(ErrorCodes.TRANSPORT, String(error), undefined, error);
}
