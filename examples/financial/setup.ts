// The database side of the scenario: Catga's tables (inbox for exactlyOnce, the saga store) and
// the ledger's, recreated for each run, with every customer's opening balance posted from the
// funding account (double entry from the first row on).
import type pg from "pg";
import { migrate } from "../../dist/persistence.js";
import {
  CLEARING,
  CLOSED,
  CUSTOMERS,
  FUNDING,
  NEARLY_EMPTY,
  NEARLY_EMPTY_CENTS,
  OPENING_CENTS,
} from "./accounts.js";
import { SCHEMA } from "./service.js";

export async function setUp(pool: pg.Pool): Promise<void> {
  await migrate(pool, { schema: SCHEMA }); // catga_inbox (exactlyOnce) and catga_saga
  await pool.query(`
    DROP TABLE IF EXISTS ${SCHEMA}.ledger_entries, ${SCHEMA}.ledger_postings, ${SCHEMA}.ledger_accounts,
      ${SCHEMA}.notifications;
    DELETE FROM ${SCHEMA}.catga_saga WHERE saga = 'transfer';
    CREATE TABLE ${SCHEMA}.ledger_accounts (
      id text PRIMARY KEY,
      kind text NOT NULL,            -- customer | clearing | funding
      opening bigint NOT NULL,
      balance bigint NOT NULL,
      closed boolean NOT NULL DEFAULT false
    );
    -- One row per applied command. No unique key on (transfer_id, kind) on purpose: exactlyOnce,
    -- not the schema, is what keeps a redelivered command from applying twice, and the launcher
    -- proves it.
    CREATE TABLE ${SCHEMA}.ledger_postings (
      id bigserial PRIMARY KEY,
      transfer_id text NOT NULL,
      kind text NOT NULL,            -- fund | debit | credit | reversal | void (no entries)
      message_id text NOT NULL,
      pid int NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${SCHEMA}.ledger_postings (transfer_id);
    CREATE TABLE ${SCHEMA}.ledger_entries (
      posting bigint NOT NULL REFERENCES ${SCHEMA}.ledger_postings,
      account text NOT NULL REFERENCES ${SCHEMA}.ledger_accounts,
      amount bigint NOT NULL
    );
    CREATE TABLE ${SCHEMA}.notifications (
      transfer_id text PRIMARY KEY,
      text text NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    );
  `);
  const customers = CUSTOMERS.map((id) => ({
    id,
    kind: "customer",
    opening: id === NEARLY_EMPTY ? NEARLY_EMPTY_CENTS : OPENING_CENTS,
    closed: id === CLOSED,
  }));
  const total = customers.reduce((sum, { opening }) => sum + opening, 0);
  const accounts = [
    { id: FUNDING, kind: "funding", opening: -total, closed: false },
    { id: CLEARING, kind: "clearing", opening: 0, closed: false },
    ...customers,
  ];
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    for (const { id, kind, opening, closed } of accounts)
      await client.query(
        `INSERT INTO ${SCHEMA}.ledger_accounts (id, kind, opening, balance, closed) VALUES ($1, $2, $3, $3, $4)`,
        [id, kind, opening, closed],
      );
    for (const { id, opening } of customers) {
      const { rows } = await client.query(
        `INSERT INTO ${SCHEMA}.ledger_postings (transfer_id, kind, message_id, pid) VALUES ($1, 'fund', $1, $2) RETURNING id`,
        [`open-${id}`, process.pid],
      );
      await client.query(
        `INSERT INTO ${SCHEMA}.ledger_entries (posting, account, amount) VALUES ($1, $2, $3), ($1, $4, $5)`,
        [rows[0].id, FUNDING, -opening, id, opening],
      );
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}
