import type { MessageMeta } from "../mediator/context.js";
import { OptionChecker } from "./option-checker.js";
import { type OutboxMessage, type OutboxTransaction, PostgresOutbox } from "./outbox.js";
import { decodeOutcome } from "./outcome.js";
import { type PgPool, qualified, STORE_CALL_TIMEOUT_MS } from "./pg.js";
import { invalid, storeFailed } from "./store-errors.js";
import { Limits } from "./store-limits.js";
import { inTransaction } from "./transaction.js";

/** What {@link exactlyOnce} reads from a handler's context; a `HandlerContext` fits. */
export type OnceContext = Pick<MessageMeta, "messageId" | "type">;

/**
 * The transaction a once-handler runs in. Its `client` is one connection in a transaction that
 * already holds the message's inbox row: write your state with it and it commits with the
 * outcome, or neither does. It is not a pool (no `connect`), so it cannot start a transaction of
 * its own by mistake.
 */
export interface OnceTransaction extends OutboxTransaction {
  /** The inbox row this run holds (`once:` + the key), locked until COMMIT. */
  readonly key: string;
}

/** The handler {@link exactlyOnce} wraps: a message handler with the transaction as a third argument. */
export type OnceWork<Payload, Value, Context extends OnceContext> = (
  payload: Payload,
  ctx: Context,
  tx: OnceTransaction,
) => Value | Promise<Value>;

/** What {@link exactlyOnce} returns: a handler to give `.handle()`; resolves with the first run's value. */
export type OnceHandler<Payload, Value, Context extends OnceContext> = (
  payload: Payload,
  ctx: Context,
) => Promise<Value>;

/** Options of {@link exactlyOnce}. */
export interface ExactlyOnceOptions<Payload = unknown, Context extends OnceContext = OnceContext> {
  /**
   * Schema holding the inbox table (as given to `migrate`; needs migration 4).
   * @default the connection's search_path
   */
  readonly schema?: string;
  /**
   * The inbox table; `PostgresIdempotencyStore` shares it (its `purgeExpired` removes expired rows).
   * @default "catga_inbox"
   */
  readonly table?: string;
  /**
   * How long an outcome is remembered, in ms (Infinity = for ever). Effects are once per key while
   * the row lives: keep it longer than a message can still arrive (JetStream redeliveries, a
   * caller's resend with the same `messageId`).
   * @default 604800000 (7 days)
   */
  readonly ttlMs?: number;
  /**
   * What makes two deliveries "the same": the row key is `once:` + this.
   * @default `${ctx.type}:${ctx.messageId}`
   */
  readonly key?: (payload: Payload, ctx: Context) => string;
  /**
   * Where {@link OnceTransaction.enqueue}d events go (its schema).
   * @default a `PostgresOutbox` in {@link ExactlyOnceOptions.schema}
   */
  readonly outbox?: PostgresOutbox;
  /**
   * Bound in ms on each of Catga's statements (connect, claim, read, record): one with no answer
   * fails the run with CATGA_STORE_FAILED and discards the connection. A duplicate delivered while
   * the first run is in flight waits on the row lock within this bound. Infinity = no bound.
   * @default 10000
   */
  readonly queryTimeoutMs?: number;
  /**
   * Largest serialized outcome in bytes (CATGA_LIMIT past it, before anything commits).
   * @default 1048576 (1 MiB)
   */
  readonly maxValueBytes?: number;
}

const NAME = "exactly once";
const DEFAULT_TTL_MS = 7 * 24 * 3_600_000;
/** How often a run claims again when the row it lost to vanished (expired and purged) before it read it. */
const CLAIM_ATTEMPTS = 5;

/**
 * Wraps a handler so its effect runs once per message, however often the message is delivered:
 * in one PostgreSQL transaction it takes the message's inbox row, runs `work` with the
 * transaction, and records `work`'s value in that row; COMMIT makes the effect and the record
 * durable together. A delivery whose row is already recorded resolves with the recorded value
 * without running `work`; one that arrives while the first run is in flight waits on the row lock,
 * then does the same. When `work` throws (or any statement fails) everything rolls back, nothing
 * is recorded, and the next delivery runs `work` again. docs/architecture/durable-commands.md, "Exactly once".
 */
export function exactlyOnce<Payload, Value, Context extends OnceContext>(
  pool: PgPool,
  work: OnceWork<Payload, Value, Context>,
  options: ExactlyOnceOptions<Payload, Context> = {},
): OnceHandler<Payload, Value, Context> {
  if (typeof pool?.connect !== "function")
    throw invalid(`${NAME}: pool must be a pg Pool (with connect)`, { field: "pool" });
  if (typeof work !== "function") throw invalid(`${NAME}: work must be a function`, { field: "work" });
  const check = new OptionChecker("exactlyOnce", options, [
    "schema",
    "table",
    "ttlMs",
    "key",
    "outbox",
    "queryTimeoutMs",
    "maxValueBytes",
  ]);
  const schema = check.text("schema", true);
  const table = check.text("table", true) ?? "catga_inbox";
  const ttlMs = check.number("ttlMs", DEFAULT_TTL_MS, true);
  check.field("ttlMs", (v) => v !== 0, "must be > 0");
  check.function("key");
  check.field("outbox", (v) => v instanceof PostgresOutbox, "must be a PostgresOutbox");
  const timeoutMs = check.number("queryTimeoutMs", STORE_CALL_TIMEOUT_MS, true);
  const limits = new Limits(NAME, check);
  check.done();
  const outbox = options.outbox ?? new PostgresOutbox(schema === undefined ? {} : { schema });
  const keyOf = options.key ?? ((_: Payload, ctx: Context) => `${ctx.type}:${ctx.messageId}`);
  const t = qualified(schema, table);
  const ttl = ttlMs === Number.POSITIVE_INFINITY ? null : String(Math.ceil(ttlMs));
  // Takes the row when it is free or expired. A concurrent run's uncommitted row blocks this
  // statement until that run ends: committed, it conflicts (no row returned, read it); rolled
  // back, this one inserts. The row stays locked by this transaction until COMMIT.
  const claimSql = `INSERT INTO ${t} AS i (key, outcome, owner, expires_at)
      VALUES ($1, NULL, NULL, coalesce(now() + $2::bigint * interval '1 millisecond', 'infinity'))
      ON CONFLICT (key) DO UPDATE SET outcome = NULL, owner = NULL, expires_at = excluded.expires_at
      WHERE i.expires_at <= now()
      RETURNING true AS claimed`;
  const readSql = `SELECT outcome FROM ${t} WHERE key = $1 AND expires_at > now()`;
  const recordSql = `UPDATE ${t} SET outcome = $2 WHERE key = $1`;

  return (payload, ctx) => {
    let key: string;
    try {
      const id = (ctx as Partial<OnceContext> | undefined)?.messageId;
      if (typeof id !== "string" || id.length === 0) {
        throw invalid(`${NAME}: ctx.messageId must be a non-empty string (pass the handler's ctx)`, {
          field: "ctx.messageId",
        });
      }
      key = `once:${limits.key(keyOf(payload, ctx))}`;
    } catch (error) {
      return Promise.reject(error);
    }
    return inTransaction(pool, NAME, timeoutMs, async (connection) => {
      const statement = (operation: string, text: string, values: unknown[]) =>
        connection.query(text, values).catch((cause: unknown) => {
          // 23502 not_null_violation: the table predates claims (outcome NOT NULL).
          const old = (cause as { code?: unknown } | null)?.code === "23502";
          throw storeFailed(NAME, operation, cause, old ? "needs migration 4: run migrate()" : undefined);
        });
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        const claimed = await statement("claim", claimSql, [key, ttl]);
        if (claimed.rows.length > 0) return run(key, payload, ctx, connection.client);
        const { rows } = await statement("read", readSql, [key]);
        const row = rows[0] as { outcome: Buffer | null } | undefined;
        if (row === undefined) continue; // expired and purged since: claim again
        if (row.outcome === null) {
          // Only a committed claim of another writer (an idempotency store's) leaves NULL here.
          throw storeFailed(NAME, "claim", new Error(`inbox row ${key} is held by an idempotency claim`));
        }
        try {
          return decodeOutcome(row.outcome).value as Value;
        } catch (cause) {
          throw storeFailed(NAME, "read (decoding the recorded outcome)", cause);
        }
      }
      throw storeFailed(NAME, "claim", new Error(`inbox row ${key} kept changing`));

      async function run(key: string, payload: Payload, ctx: Context, client: OnceTransaction["client"]) {
        const queued: OutboxMessage[] = [];
        const tx: OnceTransaction = { client, key, enqueue: (...messages) => void queued.push(...messages) };
        const value = await work(payload, ctx, tx);
        const bytes = limits.value({ value });
        await outbox.addMany(client, queued);
        await statement("record", recordSql, [key, bytes]);
        return value;
      }
    });
  };
}
