/**
 * `PostgresSagaStore`: saga instances in `catga_saga` (migration 5), one row per instance, updated
 * only at the revision the writer read (optimistic concurrency: the losing writer gets `false`).
 */
import type { SagaInstance, SagaListQuery, SagaStatus, SagaStore } from "../saga/instance.js";
import { listLimit } from "../saga/list-query.js";
import { OptionChecker } from "./option-checker.js";
import { bounded, type PgQueryable, qualified, STORE_CALL_TIMEOUT_MS } from "./pg.js";
import { storeFailed } from "./store-errors.js";

const NAME = "postgres saga store";

/** Options of `PostgresSagaStore`. */
export interface PostgresSagaStoreOptions {
  /** A `pg` Pool (or Client). */
  readonly pool: PgQueryable;
  /**
   * Schema holding the table (as given to `migrate`).
   * @default the connection's search_path
   */
  readonly schema?: string;
  /** @default "catga_saga" */
  readonly table?: string;
  /**
   * Bound on each query, in ms; a stalled connection fails with CATGA_STORE_FAILED after it.
   * @default 10000
   */
  readonly queryTimeoutMs?: number;
}

const COLUMNS = `saga, id, status, step, revision, state, progress,
  (extract(epoch FROM updated_at) * 1000)::bigint AS updated_ms`;
const AT = (p: string) => `timestamptz 'epoch' + ${p}::bigint * interval '1 millisecond'`;

export class PostgresSagaStore implements SagaStore {
  private readonly pool: PgQueryable;
  private readonly sql: { insert: string; get: string; update: string; list: string };

  /** A store on `options.pool`, in `options.schema` (run `migrate` first). */
  constructor(options: PostgresSagaStoreOptions) {
    const check = new OptionChecker("postgresSagaStore", options, [
      "pool",
      "schema",
      "table",
      "queryTimeoutMs",
    ]);
    check.methods("pool", "query");
    const schema = check.text("schema", true);
    const table = check.text("table", true) ?? "catga_saga";
    const queryTimeoutMs = check.number("queryTimeoutMs", STORE_CALL_TIMEOUT_MS, true);
    check.done();
    this.pool = bounded(options.pool, queryTimeoutMs);
    const t = qualified(schema, table);
    this.sql = {
      insert: `INSERT INTO ${t} (saga, id, status, step, revision, state, progress, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, ${AT("$8")})
            ON CONFLICT (saga, id) DO NOTHING`,
      get: `SELECT ${COLUMNS} FROM ${t} WHERE saga = $1 AND id = $2`,
      update: `UPDATE ${t} SET status = $3, step = $4, revision = $5, state = $6::jsonb, progress = $7::jsonb,
            updated_at = ${AT("$8")}
            WHERE saga = $1 AND id = $2 AND revision = $5 - 1`,
      list: `SELECT ${COLUMNS} FROM ${t}
            WHERE saga = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR id > $3)
            ORDER BY id LIMIT $4`,
    };
  }

  async insert(instance: SagaInstance): Promise<boolean> {
    const result = await this.run("insert", this.sql.insert, values(instance));
    return result.rowCount === 1;
  }

  /** The instance as last stored; undefined when there is none. */
  async get(saga: string, id: string): Promise<SagaInstance | undefined> {
    const { rows } = await this.run("get", this.sql.get, [saga, id]);
    return rows.length === 0 ? undefined : fromRow(rows[0]);
  }

  async update(next: SagaInstance): Promise<boolean> {
    const result = await this.run("update", this.sql.update, values(next));
    return result.rowCount === 1;
  }

  async list(query: SagaListQuery): Promise<SagaInstance[]> {
    const limit = listLimit(query);
    const { rows } = await this.run("list", this.sql.list, [
      query.saga,
      query.status ?? null,
      query.after ?? null,
      limit,
    ]);
    return rows.map(fromRow);
  }

  private async run(operation: string, text: string, params: unknown[]) {
    try {
      return await this.pool.query(text, params);
    } catch (cause) {
      throw storeFailed(NAME, operation, cause);
    }
  }
}

function values(instance: SagaInstance): unknown[] {
  return [
    instance.saga,
    instance.id,
    instance.status,
    instance.step,
    instance.revision,
    JSON.stringify(instance.state ?? null),
    JSON.stringify(instance.progress),
    Math.trunc(instance.updatedAt),
  ];
}

interface Row {
  saga: string;
  id: string;
  status: SagaStatus;
  step: number;
  revision: string | number;
  state: unknown;
  progress: SagaInstance["progress"];
  updated_ms: string | number;
}

function fromRow(row: Row): SagaInstance {
  return {
    saga: row.saga,
    id: row.id,
    status: row.status,
    step: row.step,
    revision: Number(row.revision),
    state: row.state,
    progress: row.progress,
    updatedAt: Number(row.updated_ms),
  };
}
