/** `inboxStatus(pool)`: what the PostgreSQL inbox (`catga_inbox`) holds: outcomes, claims, expired rows. */
import { checkArgument, checkOptionsArgument, integer, nonEmptyString, withMethods } from "../checks.js";
import { bounded, type PgQueryable, qualified, STORE_CALL_TIMEOUT_MS } from "../persistence/pg.js";
import { storeFailed } from "../persistence/store-errors.js";

/** Where the inbox is, and which rows to show. */
export interface InboxStatusOptions {
  /** Schema holding the table (as given to `migrate`). @default the connection's search_path */
  readonly schema?: string;
  /** @default "catga_inbox" */
  readonly table?: string;
  /** Only keys starting with this (e.g. `once:payments.capture:`). */
  readonly keyPrefix?: string;
  /** Rows to return, newest expiry first (0–1000). @default 20 */
  readonly limit?: number;
}

/** One inbox row. */
export interface InboxRow {
  readonly key: string;
  /** `outcome`: a handled message's recorded result; `claim`: a run in progress holds the key. */
  readonly state: "outcome" | "claim";
  /** The process run holding a claim. */
  readonly owner: string | undefined;
  /** Epoch ms. */
  readonly expiresAt: number;
  readonly expired: boolean;
}

/** The inbox's content. */
export interface InboxStatus {
  readonly outcomes: number;
  /** Claims not expired: messages being handled right now. */
  readonly claims: number;
  /** Rows past their expiry, waiting for `purgeExpired()`. */
  readonly expired: number;
  readonly rows: readonly InboxRow[];
}

/** Reads the inbox (two queries). Failures are CATGA_STORE_FAILED. */
export async function inboxStatus(pool: PgQueryable, options: InboxStatusOptions = {}): Promise<InboxStatus> {
  checkArgument("pool", pool ?? null, withMethods("query"));
  checkOptionsArgument("options", options, {
    schema: nonEmptyString,
    table: nonEmptyString,
    keyPrefix: nonEmptyString,
    limit: integer(0, 1000),
  });
  const { schema, table = "catga_inbox", keyPrefix, limit = 20 } = options;
  // PostgreSQL text cannot hold NUL: a prefix with one would fail as a store error.
  checkArgument("options.keyPrefix", keyPrefix, (value) =>
    typeof value === "string" && value.includes("\u0000") ? "must not contain NUL characters" : undefined,
  );
  const t = qualified(schema, table);
  const db = bounded(pool, STORE_CALL_TIMEOUT_MS);
  // A LIKE pattern with the prefix's own % and _ escaped.
  const like = keyPrefix === undefined ? "%" : `${keyPrefix.replace(/[\\%_]/g, "\\$&")}%`;
  try {
    const totals = await db.query(
      `SELECT count(*) FILTER (WHERE expires_at > now() AND outcome IS NOT NULL)::bigint AS outcomes,
              count(*) FILTER (WHERE expires_at > now() AND outcome IS NULL)::bigint AS claims,
              count(*) FILTER (WHERE expires_at <= now())::bigint AS expired
         FROM ${t} WHERE key LIKE $1`,
      [like],
    );
    const rows = await db.query(
      `SELECT key, outcome IS NULL AS is_claim, owner, expires_at <= now() AS expired,
              (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms
         FROM ${t} WHERE key LIKE $1 ORDER BY expires_at DESC LIMIT $2`,
      [like, limit],
    );
    const n = totals.rows[0] ?? {};
    return {
      outcomes: Number(n.outcomes ?? 0),
      claims: Number(n.claims ?? 0),
      expired: Number(n.expired ?? 0),
      rows: rows.rows.map((r) => ({
        key: r.key,
        state: r.is_claim ? "claim" : "outcome",
        owner: r.owner ?? undefined,
        expiresAt: Number(r.expires_ms),
        expired: r.expired === true,
      })),
    };
  } catch (cause) {
    throw storeFailed("inbox status", "read", cause);
  }
}
