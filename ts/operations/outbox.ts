/** `outboxBacklog(pool)`: what the outbox relay has not published yet, and why (docs/guides/operations.md). */
import { checkArgument, checkOptionsArgument, integer, nonEmptyString, withMethods } from "../checks.js";
import { decodeWire } from "../nats/wire.js";
import { bounded, type PgQueryable, qualified, STORE_CALL_TIMEOUT_MS } from "../persistence/pg.js";
import { storeFailed } from "../persistence/store-errors.js";

/** Where the outbox is, and how many pending rows to show. */
export interface OutboxBacklogOptions {
  /** Schema holding `catga_outbox` (as given to `migrate`). @default the connection's search_path */
  readonly schema?: string;
  /** Pending rows to return, oldest first (0–1000). @default 20 */
  readonly limit?: number;
}

/** One row the relay has not published. */
export interface OutboxRow {
  readonly id: number;
  readonly messageId: string;
  readonly subject: string;
  /** The message type; `""` when the stored envelope does not decode. */
  readonly type: string;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Failed publish attempts so far. */
  readonly attempts: number;
  readonly lastError: string | undefined;
  /** When the relay tries it next, epoch ms. */
  readonly nextAttemptAt: number;
}

/** The outbox's backlog. */
export interface OutboxBacklog {
  /** Rows not published yet. */
  readonly pending: number;
  /** Pending rows whose publish failed at least once. */
  readonly failing: number;
  /** When the oldest pending row was written, epoch ms; undefined when nothing is pending. */
  readonly oldestPendingAt: number | undefined;
  /** Published rows still kept (until the relay's retention removes them). */
  readonly sent: number;
  /** The oldest pending rows, up to `limit`. */
  readonly rows: readonly OutboxRow[];
}

/** Reads the outbox backlog (two queries). Failures are CATGA_STORE_FAILED. */
export async function outboxBacklog(
  pool: PgQueryable,
  options: OutboxBacklogOptions = {},
): Promise<OutboxBacklog> {
  checkArgument("pool", pool ?? null, withMethods("query"));
  checkOptionsArgument("options", options, { schema: nonEmptyString, limit: integer(0, 1000) });
  const { schema, limit = 20 } = options;
  const table = qualified(schema, "catga_outbox");
  const db = bounded(pool, STORE_CALL_TIMEOUT_MS);
  try {
    const totals = await db.query(
      `SELECT count(*) FILTER (WHERE sent_at IS NULL)::bigint AS pending,
              count(*) FILTER (WHERE sent_at IS NULL AND attempts > 0)::bigint AS failing,
              (extract(epoch FROM min(created_at) FILTER (WHERE sent_at IS NULL)) * 1000)::bigint AS oldest,
              count(*) FILTER (WHERE sent_at IS NOT NULL)::bigint AS sent
         FROM ${table}`,
    );
    const rows = await db.query(
      `SELECT id, message_id, subject, envelope, attempts, last_error,
              (extract(epoch FROM created_at) * 1000)::bigint AS created_ms,
              (extract(epoch FROM next_attempt_at) * 1000)::bigint AS next_ms
         FROM ${table} WHERE sent_at IS NULL ORDER BY id LIMIT $1`,
      [limit],
    );
    const t = totals.rows[0] ?? {};
    return {
      pending: Number(t.pending ?? 0),
      failing: Number(t.failing ?? 0),
      oldestPendingAt: t.oldest == null ? undefined : Number(t.oldest),
      sent: Number(t.sent ?? 0),
      rows: rows.rows.map((r) => ({
        id: Number(r.id),
        messageId: r.message_id,
        subject: r.subject,
        type: typeOf(r.envelope),
        createdAt: Number(r.created_ms),
        attempts: r.attempts,
        lastError: r.last_error ?? undefined,
        nextAttemptAt: Number(r.next_ms),
      })),
    };
  } catch (cause) {
    throw storeFailed("outbox backlog", "read", cause);
  }
}

function typeOf(envelope: Uint8Array): string {
  try {
    return decodeWire(envelope).type;
  } catch {
    return "";
  }
}
