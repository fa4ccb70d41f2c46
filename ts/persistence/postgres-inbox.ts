import type {
  ClaimingIdempotencyStore,
  ClaimResult,
  StoredOutcome,
} from "../mediator/behaviors/idempotency-store.js";
import { OptionChecker } from "./option-checker.js";
import { type BatchIdempotencyStore, decodeOutcome, type IdempotencyEntry } from "./outcome.js";
import { bounded, type PgQueryable, qualified, STORE_CALL_TIMEOUT_MS } from "./pg.js";
import { storeFailed } from "./store-errors.js";
import { Limits, type StoreLimits } from "./store-limits.js";

/** Options of `PostgresIdempotencyStore`, plus the {@link StoreLimits} size caps. */
export interface PostgresIdempotencyStoreOptions extends StoreLimits {
  /** A `pg` Pool (or any client with `query`); the store never ends it. Required. */
  readonly pool: PgQueryable;
  /**
   * Schema holding the table (as given to `migrate`).
   * @default the connection's search_path
   */
  readonly schema?: string;
  /**
   * Table name.
   * @default "catga_inbox"
   */
  readonly table?: string;
  /**
   * Run `purgeExpired()` this often, in ms (unref'd timer); 0 = never, call it yourself.
   * Failures go to {@link PostgresIdempotencyStoreOptions.onError}.
   * @default 0
   */
  readonly purgeIntervalMs?: number;
  /**
   * Rows deleted per purge statement, so a purge never holds long locks (a purge repeats until
   * a statement deletes fewer).
   * @default 10000
   */
  readonly purgeBatchSize?: number;
  /**
   * Bound in ms on each query: one with no answer (a stalled connection holds bytes without an
   * error) fails with CATGA_STORE_FAILED naming the operation. Infinity = no bound.
   * @default 10000
   */
  readonly queryTimeoutMs?: number;
  /**
   * Called with a CATGA_STORE_FAILED error when a background purge (`purgeIntervalMs`) fails.
   * @default a process warning (`CatgaWarning`)
   */
  readonly onError?: (error: Error) => void;
}

const NAME = "postgres idempotency store";

/** How often `claim` retries when the row it lost to vanished before it could read it. */
const CLAIM_ATTEMPTS = 5;

/**
 * Inbox / idempotency store on a PostgreSQL table (`sql/002_catga_inbox.sql`). Expiry uses the
 * database clock, so every process agrees on it. Expired rows are invisible to reads at once and
 * deleted by `purgeExpired()`. A row with a NULL outcome is a claim (`sql/004_catga_inbox_claims.sql`):
 * `owner` holds the key until `expires_at`.
 */
export class PostgresIdempotencyStore implements BatchIdempotencyStore, ClaimingIdempotencyStore {
  private readonly pool: PgQueryable;
  private readonly limits: Limits;
  private readonly sql: {
    get: string;
    getMany: string;
    set: string;
    setMany: string;
    purge: string;
    claim: string;
    current: string;
    extend: string;
    release: string;
  };
  private readonly purgeBatchSize: number;
  private timer: NodeJS.Timeout | undefined;

  /** A store on its table (`catga_inbox` by default; run `migrate` first); options checked at once. */
  constructor(options: PostgresIdempotencyStoreOptions) {
    const check = new OptionChecker("postgresIdempotencyStore", options, [
      "pool",
      "schema",
      "table",
      "purgeIntervalMs",
      "purgeBatchSize",
      "queryTimeoutMs",
      "onError",
      "maxKeyBytes",
      "maxValueBytes",
    ]);
    check.methods("pool", "query");
    const schema = check.text("schema", true);
    const table = check.text("table", true) ?? "catga_inbox";
    this.limits = new Limits(NAME, check);
    this.purgeBatchSize = check.int("purgeBatchSize", 10_000);
    const every = check.number("purgeIntervalMs", 0);
    const queryTimeoutMs = check.number("queryTimeoutMs", STORE_CALL_TIMEOUT_MS, true);
    check.function("onError");
    check.done();
    this.pool = bounded(options.pool, queryTimeoutMs);
    const t = qualified(schema, table);
    // ttl is whole milliseconds, or NULL for "never expires".
    const expires = (p: string) => `coalesce(now() + ${p} * interval '1 millisecond', 'infinity')`;
    this.sql = {
      get: `SELECT outcome FROM ${t} WHERE key = $1 AND expires_at > now() AND outcome IS NOT NULL`,
      getMany: `SELECT key, outcome FROM ${t}
            WHERE key = ANY($1::text[]) AND expires_at > now() AND outcome IS NOT NULL`,
      set: `INSERT INTO ${t} (key, outcome, expires_at) VALUES ($1, $2, ${expires("$3::bigint")})
            ON CONFLICT (key) DO UPDATE SET outcome = excluded.outcome, expires_at = excluded.expires_at`,
      setMany: `INSERT INTO ${t} (key, outcome, expires_at)
            SELECT k, o, ${expires("$3::bigint")} FROM unnest($1::text[], $2::bytea[]) AS u(k, o)
            ON CONFLICT (key) DO UPDATE SET outcome = excluded.outcome, expires_at = excluded.expires_at`,
      // Takes the key when it is free, expired (outcome or claim), or already this owner's claim.
      // A row that conflicts is locked and judged at its latest committed version, so of two
      // concurrent claims exactly one returns a row.
      claim: `INSERT INTO ${t} AS i (key, outcome, owner, expires_at)
            VALUES ($1, NULL, $2, now() + $3::bigint * interval '1 millisecond')
            ON CONFLICT (key) DO UPDATE SET outcome = NULL, owner = excluded.owner, expires_at = excluded.expires_at
            WHERE i.expires_at <= now() OR (i.outcome IS NULL AND i.owner = excluded.owner)
            RETURNING true AS claimed`,
      current: `SELECT outcome FROM ${t} WHERE key = $1 AND expires_at > now()`,
      extend: `UPDATE ${t} SET expires_at = now() + $3::bigint * interval '1 millisecond'
            WHERE key = $1 AND owner = $2 AND outcome IS NULL`,
      release: `DELETE FROM ${t} WHERE key = $1 AND owner = $2 AND outcome IS NULL`,
      purge: `DELETE FROM ${t} WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM ${t} WHERE expires_at <= now() LIMIT $1))`,
    };
    if (every > 0) {
      const onError =
        options.onError ?? ((error: Error) => process.emitWarning(error.message, "CatgaWarning"));
      this.timer = setInterval(() => {
        this.purgeExpired().catch(onError);
      }, every);
      this.timer.unref();
    }
  }

  async get(key: string): Promise<StoredOutcome | undefined> {
    this.limits.key(key);
    let rows: { outcome: Buffer }[];
    try {
      ({ rows } = await this.pool.query(this.sql.get, [key]));
    } catch (cause) {
      throw storeFailed(NAME, "get", cause);
    }
    const row = rows[0];
    return row === undefined ? undefined : decode(row.outcome, "get");
  }

  async set(key: string, outcome: StoredOutcome, ttlMs: number): Promise<void> {
    this.limits.key(key);
    const ttl = this.limits.ttl(ttlMs, Number.MAX_SAFE_INTEGER);
    const value = this.limits.value(outcome);
    try {
      await this.pool.query(this.sql.set, [key, value, ttlParam(ttl)]);
    } catch (cause) {
      throw storeFailed(NAME, "set", cause);
    }
  }

  async getMany(keys: readonly string[]): Promise<(StoredOutcome | undefined)[]> {
    this.limits.keys(keys);
    if (keys.length === 0) return [];
    let rows: { key: string; outcome: Buffer }[];
    try {
      ({ rows } = await this.pool.query(this.sql.getMany, [[...new Set(keys)]]));
    } catch (cause) {
      throw storeFailed(NAME, "getMany", cause);
    }
    const found = new Map<string, Buffer>();
    for (const row of rows) found.set(row.key, row.outcome);
    return keys.map((key) => {
      const bytes = found.get(key);
      return bytes === undefined ? undefined : decode(bytes, "getMany");
    });
  }

  async setMany(entries: readonly IdempotencyEntry[], ttlMs: number): Promise<void> {
    const ttl = this.limits.ttl(ttlMs, Number.MAX_SAFE_INTEGER);
    const { keys, values } = this.limits.entries(entries);
    if (keys.length === 0) return;
    try {
      await this.pool.query(this.sql.setMany, [keys, values, ttlParam(ttl)]);
    } catch (cause) {
      throw storeFailed(NAME, "setMany", cause);
    }
  }

  /**
   * Claims `key` for `owner` (needs migration 4): one `INSERT … ON CONFLICT DO UPDATE … WHERE`
   * that only takes a free, expired or own row; when it takes nothing, a read says what is there.
   */
  async claim(key: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    this.limits.key(key);
    this.limits.owner(owner);
    const lease = String(this.limits.lease(leaseMs));
    try {
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        const taken = await this.pool.query(this.sql.claim, [key, owner, lease]);
        if (taken.rows.length > 0) return { status: "claimed" };
        const { rows } = await this.pool.query(this.sql.current, [key]);
        const row = rows[0] as { outcome: Buffer | null } | undefined;
        if (row === undefined) continue; // expired or released since: claim again
        return row.outcome === null
          ? { status: "held" }
          : { status: "done", outcome: decode(row.outcome, "claim") };
      }
    } catch (cause) {
      // 42703 undefined_column: the table predates claims.
      const old = (cause as { code?: unknown } | null)?.code === "42703";
      throw storeFailed(NAME, "claim", cause, old ? "claims need migration 4: run migrate()" : undefined);
    }
    return { status: "held" }; // the row keeps changing under us: the caller asks again later
  }

  async extend(key: string, owner: string, leaseMs: number): Promise<boolean> {
    this.limits.key(key);
    this.limits.owner(owner);
    const lease = String(this.limits.lease(leaseMs));
    try {
      return ((await this.pool.query(this.sql.extend, [key, owner, lease])).rowCount ?? 0) > 0;
    } catch (cause) {
      throw storeFailed(NAME, "extend", cause);
    }
  }

  async release(key: string, owner: string): Promise<void> {
    this.limits.key(key);
    this.limits.owner(owner);
    try {
      await this.pool.query(this.sql.release, [key, owner]);
    } catch (cause) {
      throw storeFailed(NAME, "release", cause);
    }
  }

  /** Deletes expired rows in bounded statements; resolves with how many were deleted. */
  async purgeExpired(): Promise<number> {
    let total = 0;
    for (;;) {
      let deleted: number;
      try {
        deleted = (await this.pool.query(this.sql.purge, [this.purgeBatchSize])).rowCount ?? 0;
      } catch (cause) {
        throw storeFailed(NAME, "purgeExpired", cause);
      }
      total += deleted;
      if (deleted < this.purgeBatchSize) return total;
    }
  }

  /** Stops the purge timer. The pool is yours to end. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function ttlParam(ttl: number): string | null {
  return ttl === Number.POSITIVE_INFINITY ? null : String(ttl);
}

function decode(bytes: Buffer, operation: string): StoredOutcome {
  try {
    return decodeOutcome(bytes);
  } catch (cause) {
    throw storeFailed(NAME, `${operation} (decoding a stored outcome)`, cause);
  }
}
