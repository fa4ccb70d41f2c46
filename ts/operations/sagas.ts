/**
 * Saga instances across every saga of a PostgreSQL saga store, for tools that have no saga
 * definitions at hand (the CLI, a dashboard). With the definition, `sagaOperations` also resumes,
 * aborts and wakes instances.
 */
import { checkArgument, nonEmptyString } from "../checks.js";
import { bounded, type PgQueryable, qualified, STORE_CALL_TIMEOUT_MS } from "../persistence/pg.js";
import { PostgresSagaStore } from "../persistence/saga-store.js";
import { storeFailed } from "../persistence/store-errors.js";
import type { SagaInstance, SagaListQuery } from "../saga/instance.js";

/** Where the saga store is. */
export interface SagaStoreLocation {
  /** Schema holding the table (as given to `migrate`). @default the connection's search_path */
  readonly schema?: string;
  /** @default "catga_saga" */
  readonly table?: string;
}

/** How many instances of one saga are in one status. */
export interface SagaCount {
  readonly saga: string;
  readonly status: SagaInstance["status"];
  readonly count: number;
  /** The least recently written instance's `updatedAt`, epoch ms: a stuck one shows here. */
  readonly oldestUpdatedAt: number;
}

/** Instance counts per saga and status (one query). Failures are CATGA_STORE_FAILED. */
export async function sagaCounts(pool: PgQueryable, location: SagaStoreLocation = {}): Promise<SagaCount[]> {
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

/** A page of one saga's instances (`SagaStore.list`). */
export function listSagaInstances(
  pool: PgQueryable,
  query: SagaListQuery,
  location: SagaStoreLocation = {},
): Promise<SagaInstance[]> {
  checkArgument("saga", query.saga, nonEmptyString);
  if (query.saga === undefined) checkArgument("saga", "", nonEmptyString); // required
  return new PostgresSagaStore({ pool, ...location }).list(query);
}
