/**
 * Fenced writes in PostgreSQL: a store-side check that refuses work carrying a fencing token
 * lower than the highest one it already accepted for the same resource. Leases make "one leader
 * at a time" hold as long as clocks run at the same rate and processes are not paused; the fence
 * makes "one leader's writes at a time" hold regardless, because the store, not the writer's
 * belief, decides. One row per resource holds the highest token; the check and the work share a
 * transaction, and the row stays locked until COMMIT, so a stale writer queued behind a newer one
 * is refused once the newer one commits.
 */
import {
  checkArgument,
  checkOptionsArgument,
  func,
  integer,
  MAX_DELAY_MS,
  nonEmptyString,
  withMethods,
} from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import type { PgPool, PgQueryable } from "../persistence/pg.js";
import { STORE_CALL_TIMEOUT_MS } from "../persistence/pg.js";
import { storeFailed } from "../persistence/store-errors.js";
import { inTransaction } from "../persistence/transaction.js";

/** Default of {@link FenceOptions.idleTimeoutMs}. */
const DEFAULT_IDLE_TIMEOUT_MS = 5000;

/** The default fence table. */
export const FENCE_TABLE = "catga_fences";

/** Options of {@link fencedWrite} and {@link fenceTableSql}. */
export interface FenceOptions {
  /**
   * The fence table (quoted identifier; create it with {@link fenceTableSql}).
   * @default "catga_fences"
   */
  readonly table?: string;
  /**
   * Bound on the connect and on each statement, in ms.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * How long the transaction may sit idle while it holds the resource's fence row, in ms (an
   * integer ≥ 1): a writer paused or hung mid-`work` has its session ended by PostgreSQL after
   * this (`idle_in_transaction_session_timeout`), so it blocks the next leader's writes no longer.
   * @default 5000
   */
  readonly idleTimeoutMs?: number;
}

/** What {@link fencedWrite} resolves with. */
export type FencedOutcome<T> =
  | { readonly accepted: true; readonly value: T }
  /** Refused: `work` did not run; `highestToken` is the token the store holds for the resource. */
  | { readonly accepted: false; readonly highestToken: number };

function tableName(options: FenceOptions): string {
  const table = options.table ?? FENCE_TABLE;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table))
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `table must be a plain SQL identifier, got ${JSON.stringify(table)}`,
      {
        details: { field: "table" },
      },
    );
  return `"${table}"`;
}

/** The DDL of the fence table (idempotent): run it once, e.g. in a migration. */
export function fenceTableSql(options: FenceOptions = {}): string {
  return `CREATE TABLE IF NOT EXISTS ${tableName(options)} (
  resource text PRIMARY KEY,
  token bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;
}

/**
 * The statement every fenced write starts with: takes the resource's row lock and raises its
 * token, or changes nothing (no row returned) when the store already holds a higher token.
 * `$1` is the resource, `$2` the token. Use it in your own transaction if you prefer SQL.
 */
export function fenceSql(options: FenceOptions = {}): string {
  const table = tableName(options);
  return `INSERT INTO ${table} AS f (resource, token) VALUES ($1, $2)
ON CONFLICT (resource) DO UPDATE SET token = EXCLUDED.token, updated_at = now()
WHERE f.token <= EXCLUDED.token
RETURNING token`;
}

/**
 * Runs `work` in one transaction if `token` is at least the highest token the store accepted for
 * `resource` (equal tokens pass: a leader writes many times per term), and records it as the new
 * highest. Resolves `{ accepted: false, highestToken }` without running `work` when a later
 * leader's (or lock holder's) token was accepted first. `work` throwing rolls everything back.
 */
export async function fencedWrite<T>(
  pool: PgPool,
  resource: string,
  token: number,
  work: (client: PgQueryable) => Promise<T>,
  options: FenceOptions = {},
): Promise<FencedOutcome<T>> {
  // Required ones: `checkArgument` lets undefined through (it means "default" there).
  checkArgument("pool", pool ?? null, withMethods("connect"));
  checkArgument("resource", resource ?? null, nonEmptyString);
  checkArgument("token", token ?? null, integer(0));
  checkArgument("work", work ?? null, func);
  checkOptionsArgument("options", options ?? null, {
    table: nonEmptyString,
    timeoutMs: integer(1, MAX_DELAY_MS),
    idleTimeoutMs: integer(1, MAX_DELAY_MS),
  });
  const sql = fenceSql(options);
  const table = tableName(options);
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  return inTransaction(pool, "fence", options.timeoutMs ?? STORE_CALL_TIMEOUT_MS, async (connection) => {
    // SET takes no parameters; the value is a checked integer.
    // The fence's own statements fail as the store's (a missing fence table: run fenceTableSql);
    // `work`'s errors are the caller's and pass on as they are.
    const fenceQuery = (text: string, values?: unknown[]) =>
      connection.query(text, values).catch((cause: unknown) => {
        throw storeFailed("fence", "write", cause, `is the fence table ${table} created (fenceTableSql)?`);
      });
    await fenceQuery(`SET LOCAL idle_in_transaction_session_timeout = ${idleTimeoutMs}`);
    const fenced = await fenceQuery(sql, [resource, token]);
    if (fenced.rowCount === 0) {
      const highest = await fenceQuery(`SELECT token FROM ${table} WHERE resource = $1`, [resource]);
      return { accepted: false as const, highestToken: Number(highest.rows[0]?.token ?? 0) };
    }
    return { accepted: true as const, value: await work(connection) };
  });
}
