import { CatgaError, ErrorCodes } from "../errors.js";
import type { AnyEvent, InputOf } from "../mediator/contracts.js";
import { uuidv7 } from "../mediator/ids.js";
import type { Envelope } from "../mediator/transport.js";
import { isPublishSubject } from "../nats/subjects.js";
import { EnvelopeCodec, type PayloadCodec } from "../nats/wire.js";
import { OptionChecker } from "./option-checker.js";
import type { PgPool, PgQueryable } from "./pg.js";
import { qualified, STORE_CALL_TIMEOUT_MS } from "./pg.js";
import { invalid, storeFailed } from "./store-errors.js";
import { inTransaction } from "./transaction.js";

/** One message to relay: `envelope` is the encoded Catga envelope, published as is to `subject`. */
export interface OutboxMessage {
  readonly subject: string;
  /** Unique per message; the relay's publisher dedupes on it (JetStream `Nats-Msg-Id`). */
  readonly messageId: string;
  readonly envelope: Uint8Array;
}

/** Options of `PostgresOutbox`. */
export interface PostgresOutboxOptions {
  /**
   * Schema holding `catga_outbox` (as given to `migrate`).
   * @default the connection's search_path
   */
  readonly schema?: string;
  /**
   * Largest envelope accepted, in bytes; a larger one fails with CATGA_LIMIT before any insert.
   * @default 1048576 (1 MiB, the envelope limit of the wire core)
   */
  readonly maxEnvelopeBytes?: number;
}

const NAME = "postgres outbox";

/**
 * Writes messages to `catga_outbox` with the caller's client, so they commit or roll back with
 * the caller's own changes. Pass the client of the transaction that changes state (or use
 * {@link withOutboxTransaction}). A `messageId` already in the table is skipped, so re-running a
 * handler with the same ids does not enqueue twice.
 */
export class PostgresOutbox {
  readonly table: string;
  private readonly maxEnvelopeBytes: number;
  private readonly insertSql: string;

  /** An outbox on the `catga_outbox` table (run {@link migrate} first); options checked at once. */
  constructor(options: PostgresOutboxOptions = {}) {
    const check = new OptionChecker("postgresOutbox", options, ["schema", "maxEnvelopeBytes"]);
    const schema = check.text("schema", true);
    this.maxEnvelopeBytes = check.int("maxEnvelopeBytes", 1024 * 1024);
    check.done();
    this.table = qualified(schema, "catga_outbox");
    this.insertSql = `INSERT INTO ${this.table} (message_id, subject, envelope)
      SELECT m, s, e FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS u(m, s, e, n)
      ORDER BY n
      ON CONFLICT (message_id) DO NOTHING`;
  }

  /** Adds one message; resolves `true` when inserted, `false` when its messageId was already there. */
  async add(client: PgQueryable, message: OutboxMessage): Promise<boolean> {
    return (await this.addMany(client, [message])) === 1;
  }

  /** Adds messages in one statement (ids in the given order); resolves with how many were new. */
  async addMany(client: PgQueryable, messages: readonly OutboxMessage[]): Promise<number> {
    if (!Array.isArray(messages)) throw invalid(`${NAME}: messages must be an array`);
    if (messages.length === 0) return 0;
    const ids: string[] = [];
    const subjects: string[] = [];
    const envelopes: Buffer[] = [];
    for (const message of messages) {
      this.check(message);
      ids.push(message.messageId);
      subjects.push(message.subject);
      envelopes.push(toBuffer(message.envelope));
    }
    try {
      return (await client.query(this.insertSql, [ids, subjects, envelopes])).rowCount ?? 0;
    } catch (cause) {
      throw storeFailed(NAME, messages.length === 1 ? "add" : "addMany", cause);
    }
  }

  /**
   * When the oldest message not yet relayed was written, epoch ms (the database's clock), or
   * undefined when none waits: for the `catga.outbox.lag` gauge.
   */
  async oldestPendingAt(client: PgQueryable): Promise<number | undefined> {
    try {
      const { rows } = await client.query(
        `SELECT (extract(epoch FROM min(created_at)) * 1000)::bigint AS oldest FROM ${this.table} WHERE sent_at IS NULL`,
      );
      const oldest = rows[0]?.oldest;
      return oldest === null || oldest === undefined ? undefined : Number(oldest);
    } catch (cause) {
      throw storeFailed(NAME, "oldestPendingAt", cause);
    }
  }

  /** Messages not yet relayed (for a `catga.outbox.pending` gauge). */
  async pending(client: PgQueryable): Promise<number> {
    try {
      const { rows } = await client.query(
        `SELECT count(*)::bigint AS n FROM ${this.table} WHERE sent_at IS NULL`,
      );
      return Number(rows[0]?.n ?? 0);
    } catch (cause) {
      throw storeFailed(NAME, "pending", cause);
    }
  }

  private check(message: OutboxMessage): void {
    if (typeof message !== "object" || message === null)
      throw invalid(`${NAME}: a message must be an object`);
    const { subject, messageId, envelope } = message;
    if (typeof subject !== "string" || subject.length === 0 || /[\s*>]/.test(subject)) {
      throw invalid(`${NAME}: subject must be a non-empty NATS subject without spaces or wildcards`, {
        subject,
      });
    }
    if (typeof messageId !== "string" || messageId.length === 0) {
      throw invalid(`${NAME}: messageId must be a non-empty string`);
    }
    if (!(envelope instanceof Uint8Array) || envelope.length === 0) {
      throw invalid(`${NAME}: envelope must be a non-empty Uint8Array`, { messageId });
    }
    if (envelope.length > this.maxEnvelopeBytes) {
      throw new CatgaError(
        ErrorCodes.LIMIT,
        `${NAME}: envelope of ${messageId} is ${envelope.length} bytes, more than ${this.maxEnvelopeBytes}`,
      );
    }
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const defaultCodec = new EnvelopeCodec();

/**
 * Encodes a mediator {@link Envelope} (the shape transports see) for the outbox, with the same
 * wire format as the NATS transport. `codec` picks the payload codec (MessagePack by default).
 */
export function outboxMessage(subject: string, envelope: Envelope, codec?: PayloadCodec): OutboxMessage {
  const encoder = codec === undefined ? defaultCodec : new EnvelopeCodec({}, codec);
  return { subject, messageId: envelope.messageId, envelope: encoder.encodeMessage(envelope) };
}

/** What an event inherits from the message that caused it; a handler's `ctx` fits. */
export interface OutboxCause {
  readonly messageId: string;
  readonly correlationId: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Options of `outboxEvent`. */
export interface OutboxEventOptions {
  /** Subject to publish to (e.g. a JetStream stream's subject). Required. */
  readonly subject: string;
  /**
   * The message whose handler emits this event (pass the handler's `ctx`): sets correlation and
   * causation, and its headers are inherited.
   * @default none: the event starts its own correlation
   */
  readonly cause?: OutboxCause;
  /**
   * The event's id, also the publisher's dedupe key; give a deterministic id to make a re-run
   * handler enqueue the same event.
   * @default a new UUIDv7
   */
  readonly messageId?: string;
  /**
   * Headers of the event, merged over the {@link OutboxEventOptions.cause}'s (yours win per key).
   * @default the cause's headers, else none
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Codec for the payload.
   * @default MessagePack
   */
  readonly codec?: PayloadCodec;
}

/**
 * Builds an outbox message for an event contract, carrying correlation from `cause` the way
 * `ctx.publish` does. Schema validation is not run here; validate before you commit if needed.
 */
export function outboxEvent<C extends AnyEvent>(
  contract: C,
  payload: InputOf<C>,
  options: OutboxEventOptions,
): OutboxMessage {
  if (contract?.kind !== "event") throw invalid(`${NAME}: outboxEvent takes an event contract`);
  checkEventOptions(options);
  const messageId = options.messageId ?? uuidv7();
  const envelope: Envelope = {
    kind: "event",
    type: contract.type,
    messageId,
    correlationId: options.cause?.correlationId ?? messageId,
    causationId: options.cause?.messageId,
    createdAt: Date.now(),
    headers: { ...(options.cause?.headers ?? {}), ...(options.headers ?? {}) },
    payload,
  };
  return outboxMessage(options.subject, envelope, options.codec);
}

const EVENT_OPTION_KEYS = new Set(["subject", "cause", "messageId", "headers", "codec"]);

/**
 * `outboxEvent`'s options, checked where the event is made rather than at `add`/`enqueue` (or,
 * for a misspelt key, never): CATGA_INVALID_ARGUMENT naming the field.
 */
function checkEventOptions(options: OutboxEventOptions): void {
  const bad = (field: string, why: string) =>
    invalid(`${NAME}: outboxEvent options.${field} ${why}`, { field: `options.${field}` });
  if (typeof options !== "object" || options === null)
    throw invalid(`${NAME}: outboxEvent options must be an object { subject, ... }`, { field: "options" });
  for (const key of Object.keys(options))
    if (!EVENT_OPTION_KEYS.has(key))
      throw bad(key, `is not an option (expected ${[...EVENT_OPTION_KEYS].join(", ")})`);
  if (!isPublishSubject(options.subject)) throw bad("subject", "must be a NATS subject to publish to");
  if (
    options.messageId !== undefined &&
    (typeof options.messageId !== "string" || options.messageId.length === 0)
  )
    throw bad("messageId", "must be a non-empty string");
  const cause = options.cause as { messageId?: unknown; correlationId?: unknown } | undefined;
  if (
    cause !== undefined &&
    (typeof cause?.messageId !== "string" || typeof cause.correlationId !== "string")
  )
    throw bad("cause", "must be the causing message's context (messageId and correlationId)");
}

/** The transaction handed to {@link withOutboxTransaction}'s callback. */
export interface OutboxTransaction {
  /** The transaction's client: run your state changes on it. */
  readonly client: PgQueryable;
  /** Queues a message; all queued messages are inserted just before COMMIT, in one statement. */
  enqueue(...messages: OutboxMessage[]): void;
}

/**
 * Runs `work` in a transaction (BEGIN … COMMIT, ROLLBACK when it throws) and inserts the messages
 * it enqueued just before COMMIT, so the state change and its events commit together or not at
 * all. Resolves with `work`'s result; rejects with `work`'s error, or CATGA_STORE_FAILED when the
 * database fails (then nothing was committed, except when COMMIT itself failed in flight).
 */
export async function withOutboxTransaction<T>(
  pool: PgPool,
  work: (tx: OutboxTransaction) => Promise<T>,
  options: { readonly outbox?: PostgresOutbox } = {},
): Promise<T> {
  const check = new OptionChecker("withOutboxTransaction", options, ["outbox"]);
  check.field(
    "outbox",
    (value) => typeof (value as { addMany?: unknown } | null)?.addMany === "function",
    "must be a PostgresOutbox",
  );
  if (typeof work !== "function")
    check.add("withOutboxTransaction.work", "must be a function (tx) => Promise");
  check.done();
  const outbox = options.outbox ?? new PostgresOutbox();
  return inTransaction(pool, NAME, STORE_CALL_TIMEOUT_MS, async ({ client }) => {
    const queued: OutboxMessage[] = [];
    const result = await work({ client, enqueue: (...messages) => void queued.push(...messages) });
    await outbox.addMany(client, queued);
    return result;
  });
}
