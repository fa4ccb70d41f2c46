/**
 * Saga instances across every saga of a saga store (PostgreSQL, or NATS KV), for tools that have
 * no saga definitions at hand (the CLI, a dashboard). With the definition, `sagaOperations` also
 * resumes, aborts and wakes instances.
 */
import { checkArgument, checkOptionsArgument, nonEmptyString, withMethods } from "../checks.js";
import { NatsKvSagaStore } from "../persistence/nats-kv-saga-store.js";
import { bounded, type PgQueryable, qualified, STORE_CALL_TIMEOUT_MS } from "../persistence/pg.js";
import { PostgresSagaStore } from "../persistence/saga-store.js";
import { storeFailed } from "../persistence/store-errors.js";
import type { SagaInstance, SagaListQuery, SagaStatusCount, SagaStore } from "../saga/instance.js";
import { listLimit } from "../saga/list-query.js";

/** Where the saga store is. */
export interface SagaStoreLocation {
  /** Schema holding the table (as given to `migrate`). @default the connection's search_path */
  readonly schema?: string;
  /** @default "catga_saga" */
  readonly table?: string;
}

/** How many instances of one saga are in one status. */
export type SagaCount = SagaStatusCount;

/**
 * Instance counts per saga and status: one query on PostgreSQL (`pool`, `location`), or a read of
 * every instance of a {@link NatsKvSagaStore}. Failures are CATGA_STORE_FAILED.
 */
export async function sagaCounts(
  source: PgQueryable | NatsKvSagaStore,
  location: SagaStoreLocation = {},
): Promise<SagaCount[]> {
  if (source instanceof NatsKvSagaStore) return source.counts();
  checkArgument("source", source ?? null, withMethods("query"));
  checkLocation(location);
  const pool = source;
  const t = qualified(location.schema, location.table ?? "catga_saga");
  try {
    const { rows } = await bounded(pool, STORE_CALL_TIMEOUT_MS).query(
      `SELECT saga, status, count(*)::bigint AS n, (extract(epoch FROM min(updated_at)) * 1000)::bigint AS oldest
         FROM ${t} GROUP BY saga, status ORDER BY saga, status`,
    );
    return rows.map((r) => ({
      saga: r.saga,
      status: r.status,
      count: Number(r.n),
      oldestUpdatedAt: Number(r.oldest),
    }));
  } catch (cause) {
    throw storeFailed("saga counts", "read", cause);
  }
}

/**
 * A page of one saga's instances (`SagaStore.list`): from PostgreSQL (`pool`, `location`) or from
 * any saga store (a {@link NatsKvSagaStore}).
 */
export function listSagaInstances(
  source: PgQueryable | SagaStore,
  query: SagaListQuery,
  location: SagaStoreLocation = {},
): Promise<SagaInstance[]> {
  listLimit(query); // the stores check it too; here before a PostgreSQL store is made for it
  if (isSagaStore(source)) return source.list(query);
  checkArgument("source", source ?? null, withMethods("query"));
  checkLocation(location);
  return new PostgresSagaStore({ pool: source, ...location }).list(query);
}

function checkLocation(location: SagaStoreLocation): void {
  checkOptionsArgument("location", location, { schema: nonEmptyString, table: nonEmptyString });
}

function isSagaStore(source: PgQueryable | SagaStore): source is SagaStore {
  return (
    typeof (source as Partial<SagaStore>).list === "function" &&
    typeof (source as Partial<SagaStore>).get === "function"
  );
}
