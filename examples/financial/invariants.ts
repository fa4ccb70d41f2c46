// What must hold after any run, each checked with SQL against what the services wrote: the saga
// store (catga_saga), the ledger's journal and balances, and the notifications.
import type pg from "pg";
import { CLEARING } from "./accounts.js";
import { SCHEMA } from "./service.js";

export interface Invariant {
  /** What holds, in words. */
  readonly name: string;
  /** Undefined when it holds; otherwise what was found instead. */
  readonly check: (pool: pg.Pool, run: string) => Promise<string | undefined>;
}

const sagas = `SELECT id, status, state FROM ${SCHEMA}.catga_saga WHERE saga = 'transfer' AND id LIKE $1`;

/** The first rows of a query that should return none, as a short description; undefined if none. */
async function none(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<string | undefined> {
  const { rows } = await pool.query(sql, params);
  if (rows.length === 0) return undefined;
  const shown = rows.slice(0, 3).map((row) => JSON.stringify(row));
  return `${rows.length} found, e.g. ${shown.join("; ")}`;
}

/** A query returning one number that must be zero. */
async function zero(pool: pg.Pool, sql: string): Promise<string | undefined> {
  const { rows } = await pool.query(sql);
  const value = Number(rows[0].n ?? 0);
  return value === 0 ? undefined : `it is ${value}`;
}

export const INVARIANTS: readonly Invariant[] = [
  {
    name: "every transfer reached a terminal state (completed or compensated)",
    check: (pool, run) =>
      none(pool, `SELECT id, status FROM (${sagas}) s WHERE status NOT IN ('completed', 'compensated')`, [
        `t-${run}-%`,
      ]),
  },
  {
    name: "every posting is two entries that sum to zero (double entry)",
    check: (pool) =>
      none(
        pool,
        `SELECT p.id, p.kind, count(e.*) AS entries, coalesce(sum(e.amount), 0) AS total
           FROM ${SCHEMA}.ledger_postings p LEFT JOIN ${SCHEMA}.ledger_entries e ON e.posting = p.id
          WHERE p.kind <> 'void' GROUP BY p.id, p.kind HAVING count(e.*) <> 2 OR sum(e.amount) <> 0`,
      ),
  },
  {
    name: "account balances sum to zero",
    check: (pool) => zero(pool, `SELECT sum(balance) AS n FROM ${SCHEMA}.ledger_accounts`),
  },
  {
    name: "every balance equals the sum of its entries",
    check: (pool) =>
      none(
        pool,
        `SELECT a.id, a.balance, coalesce(e.total, 0) AS entries FROM ${SCHEMA}.ledger_accounts a
           LEFT JOIN (SELECT account, sum(amount) AS total FROM ${SCHEMA}.ledger_entries GROUP BY account) e
             ON e.account = a.id
          WHERE a.balance <> coalesce(e.total, 0)`,
      ),
  },
  {
    name: "nothing is left in the clearing account",
    check: (pool) =>
      zero(pool, `SELECT balance AS n FROM ${SCHEMA}.ledger_accounts WHERE id = '${CLEARING}'`),
  },
  {
    name: "no customer balance is below zero",
    check: (pool) =>
      none(pool, `SELECT id, balance FROM ${SCHEMA}.ledger_accounts WHERE kind = 'customer' AND balance < 0`),
  },
  {
    name: "no transfer was debited, credited or reversed twice",
    check: (pool) =>
      none(
        pool,
        `SELECT transfer_id, kind, count(*) AS times FROM ${SCHEMA}.ledger_postings
          GROUP BY transfer_id, kind HAVING count(*) > 1`,
      ),
  },
  {
    name: "each transfer's postings match its outcome",
    // completed: debit and credit; compensated: nothing (rejected, or the debit refused), a void
    // (the debit timed out and was voided), or a debit and its reversal (the credit was refused).
    check: (pool, run) =>
      none(
        pool,
        `SELECT s.id, s.status, s.kinds FROM (
           SELECT s.id, s.status, coalesce(string_agg(p.kind, ',' ORDER BY p.kind), '') AS kinds
             FROM (${sagas}) s LEFT JOIN ${SCHEMA}.ledger_postings p ON p.transfer_id = s.id
            GROUP BY s.id, s.status) s
          WHERE NOT ((s.status = 'completed' AND s.kinds = 'credit,debit')
                  OR (s.status = 'compensated' AND s.kinds IN ('', 'void', 'debit,reversal')))`,
        [`t-${run}-%`],
      ),
  },
  {
    name: "each balance is its opening plus what completed transfers brought in, minus what they took",
    check: (pool, run) =>
      none(
        pool,
        `SELECT a.id, a.opening, a.balance, a.opening + coalesce(sum(
                  CASE WHEN s.state->>'to' = a.id THEN (s.state->>'amount')::bigint ELSE 0 END
                - CASE WHEN s.state->>'from' = a.id THEN (s.state->>'amount')::bigint ELSE 0 END), 0) AS expected
           FROM ${SCHEMA}.ledger_accounts a
           LEFT JOIN (${sagas}) s ON s.status = 'completed' AND a.id IN (s.state->>'from', s.state->>'to')
          WHERE a.kind = 'customer'
          GROUP BY a.id, a.opening, a.balance
         HAVING a.balance <> a.opening + coalesce(sum(
                  CASE WHEN s.state->>'to' = a.id THEN (s.state->>'amount')::bigint ELSE 0 END
                - CASE WHEN s.state->>'from' = a.id THEN (s.state->>'amount')::bigint ELSE 0 END), 0)`,
        [`t-${run}-%`],
      ),
  },
  {
    name: "one notification per completed transfer, none for the others",
    check: (pool, run) =>
      none(
        pool,
        `SELECT coalesce(s.id, n.transfer_id) AS id, s.status FROM (${sagas}) s
           FULL JOIN ${SCHEMA}.notifications n ON n.transfer_id = s.id
          WHERE (s.status = 'completed') IS DISTINCT FROM (n.transfer_id IS NOT NULL)`,
        [`t-${run}-%`],
      ),
  },
];
