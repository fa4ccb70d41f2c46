import type { IdempotencyStore, StoredOutcome } from "../mediator/behaviors/idempotency.js";
import type { BatchIdempotencyStore, IdempotencyEntry } from "./outcome.js";

/**
 * Gives any `IdempotencyStore` (e.g. the in-memory one) the batch API by calling `get`/`set` per
 * key. Stores that have native batch operations (PostgreSQL, Redis) should be used directly.
 */
export function withBatchOps(store: IdempotencyStore): BatchIdempotencyStore {
  return {
    get: async (key) => store.get(key),
    set: async (key, outcome, ttlMs) => store.set(key, outcome, ttlMs),
    getMany: (keys) => Promise.all(keys.map(async (key) => store.get(key))),
    async setMany(entries: readonly IdempotencyEntry[], ttlMs: number) {
      await Promise.all(
        entries.map(async ({ key, outcome }) => store.set(key, outcome as StoredOutcome, ttlMs)),
      );
    },
  };
}
