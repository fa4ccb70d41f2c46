import { withMethods } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import { OptionChecker } from "./option-checker.js";
import { checkout, type PgPool, quoteIdent } from "./pg.js";
import { storeFailed } from "./store-errors.js";

/** One numbered schema change; the same text ships as `sql/<file>` for your own migration tool. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly file: string;
  readonly sql: string;
}

/** Catga's PostgreSQL schema, in order. Kept byte-identical to `sql/*.sql` (a test checks it). */
export const MIGRATIONS: readonly Migration[] = Object.freeze(
  [
    {
      version: 1,
      name: "catga_outbox",
      file: "001_catga_outbox.sql",
      sql: `-- Catga transactional outbox (migration 1).
-- Rows are written in the same transaction as the state change; OutboxRelay publishes pending
-- rows (sent_at IS NULL) and marks them sent. Unqualified names: apply with search_path set to the
-- target schema (migrate() does this for you).

CREATE TABLE catga_outbox (
  id              bigserial   PRIMARY KEY,
  message_id      text        NOT NULL UNIQUE,
  subject         text        NOT NULL,
  envelope        bytea       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  attempts        integer     NOT NULL DEFAULT 0,
  last_error      text,
  next_attempt_at timestamptz NOT NULL DEFAULT now()
);

-- High churn (insert, update once, delete after retention): vacuum and analyze it early so the
-- pending index stays free of dead entries and the claim query keeps its index plan.
ALTER TABLE catga_outbox SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_analyze_scale_factor = 0.01
);

-- The relay's claim query walks pending rows in id order.
CREATE INDEX catga_outbox_pending_idx ON catga_outbox (id) WHERE sent_at IS NULL;
-- Retention cleanup deletes sent rows by age.
CREATE INDEX catga_outbox_sent_idx ON catga_outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Wake relays when rows commit: one notification per INSERT statement (and PostgreSQL folds
-- identical notifications of one transaction into one), delivered at COMMIT. The payload is the
-- table's schema so relays of other schemas can ignore it.
CREATE FUNCTION catga_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('catga_outbox', TG_TABLE_SCHEMA);
  RETURN NULL;
END
$$;

CREATE TRIGGER catga_outbox_notify
AFTER INSERT ON catga_outbox
FOR EACH STATEMENT EXECUTE FUNCTION catga_outbox_notify();
`,
    },
    {
      version: 2,
      name: "catga_inbox",
      file: "002_catga_inbox.sql",
      sql: `-- Catga inbox / idempotency store (migration 2).
-- One row per handled message key; expired rows are ignored on read and removed by
-- PostgresIdempotencyStore.purgeExpired(). Outcomes are MessagePack (see docs/persistence.md).

CREATE TABLE catga_inbox (
  key        text        PRIMARY KEY,
  outcome    bytea       NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE INDEX catga_inbox_expires_idx ON catga_inbox (expires_at);
`,
    },
    {
      version: 3,
      name: "catga_outbox_due",
      file: "003_catga_outbox_due.sql",
      sql: `-- Catga outbox: rows waiting on a retry backoff (migration 3).
-- The claim query takes pending rows that are due (next_attempt_at <= now) in id order. Walking
-- the pending index in id order skips every row still backing off, so many failing rows made
-- each claim and each empty poll a scan of all of them; this index finds the due ones directly.

CREATE INDEX catga_outbox_due_idx ON catga_outbox (next_attempt_at, id) WHERE sent_at IS NULL;
`,
    },
    {
      version: 4,
      name: "catga_inbox_claims",
      file: "004_catga_inbox_claims.sql",
      sql: `-- Catga inbox claims (migration 4).
-- A row may now be a claim instead of an outcome: outcome IS NULL, owner names the process run
-- that holds the key, expires_at is the end of its lease. PostgresIdempotencyStore.claim() inserts
-- it (or takes over an expired one), extend() moves expires_at, set() writes the outcome,
-- release() deletes it. Both changes only touch the catalog: no table rewrite, no long lock.

ALTER TABLE catga_inbox ADD COLUMN owner text;
ALTER TABLE catga_inbox ALTER COLUMN outcome DROP NOT NULL;
`,
    },
    {
      version: 5,
      name: "catga_saga",
      file: "005_catga_saga.sql",
      sql: `-- Catga saga instances (migration 5).
-- One row per saga instance: its state and the engine's progress (JSON), its status and next step.
-- Every update names the revision it read (WHERE revision = $n), so two writers never both move
-- one instance; PostgresSagaStore.list() walks (saga, status, id).

CREATE TABLE catga_saga (
  saga       text        NOT NULL,
  id         text        NOT NULL,
  status     text        NOT NULL,
  step       integer     NOT NULL,
  revision   bigint      NOT NULL,
  state      jsonb       NOT NULL,
  progress   jsonb       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (saga, id)
);

CREATE INDEX catga_saga_status_idx ON catga_saga (saga, status, id);
`,
    },
  ].map((m) => Object.freeze(m)),
);

/** Options of `migrate`. */
export interface MigrateOptions {
  /**
   * Schema to create the tables in (created if missing); give the same one to the stores and
   * the relay.
   * @default the connection's current schema (the first of `search_path`, usually `public`)
   */
  readonly schema?: string;
}

/** What `migrate` did. */
export interface MigrateResult {
  /** Versions applied by this call, in order (empty when the schema was already current). */
  readonly applied: readonly number[];
  /** The schema version after the call. */
  readonly version: number;
}

/**
 * Applies the migrations not yet recorded in `catga_schema_migrations`, in one transaction, under
 * an advisory lock so concurrent callers (several instances starting at once) apply each once.
 * Nothing runs on import: call it from your deploy step or at start-up.
 */
export async function migrate(pool: PgPool, options: MigrateOptions = {}): Promise<MigrateResult> {
  // A misspelt `schema` would put the tables in the default schema, where the stores never look.
  const check = new OptionChecker("migrate", options, ["schema"]);
  const schema = check.text("schema", true);
  const poolProblem = withMethods("connect", "query")(pool);
  if (poolProblem !== undefined) check.add("migrate.pool", poolProblem);
  check.done();
  const schemaSql = schema === undefined ? undefined : quoteIdent(schema);
  const connection = await checkout(pool, "postgres migrate");
  const client = connection.client;
  let failed: unknown;
  try {
    await client.query("BEGIN");
    await client.query(
      "SELECT pg_advisory_xact_lock(hashtext('catga.migrate:' || coalesce($1, current_schema())))",
      [schema ?? null],
    );
    if (schemaSql !== undefined) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schemaSql}`);
      await client.query(`SET LOCAL search_path TO ${schemaSql}`);
    }
    await client.query(
      `CREATE TABLE IF NOT EXISTS catga_schema_migrations (
        version    integer     PRIMARY KEY,
        name       text        NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    const { rows } = await client.query("SELECT version FROM catga_schema_migrations");
    const done = new Set<number>(rows.map((r: { version: number }) => Number(r.version)));
    const known = Math.max(...MIGRATIONS.map((m) => m.version));
    const newest = Math.max(0, ...done);
    if (newest > known) {
      throw new CatgaError(
        ErrorCodes.CONFIG,
        `database schema is at version ${newest}, newer than this build knows (${known}); upgrade @catga/native`,
      );
    }
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query("INSERT INTO catga_schema_migrations (version, name) VALUES ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    await client.query("COMMIT");
    return { applied, version: Math.max(newest, ...applied) };
  } catch (cause) {
    failed = cause;
    await client.query("ROLLBACK").catch(() => {});
    if (cause instanceof CatgaError && cause.code === ErrorCodes.CONFIG) throw cause;
    throw storeFailed("postgres migrate", "migrate", cause);
  } finally {
    connection.release(failed instanceof Error && !(failed instanceof CatgaError) ? failed : undefined);
  }
}
