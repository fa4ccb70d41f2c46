import type {
  ClaimingIdempotencyStore,
  IdempotencyClaims,
  IdempotencyStore,
  StoredOutcome,
} from "../mediator/behaviors/idempotency-store.js";
import type { BatchIdempotencyStore, IdempotencyEntry } from "./outcome.js";

/**
 * Gives any `IdempotencyStore` (e.g. the in-memory one) the batch API by calling `get`/`set` per
 * key; a store's claim methods (`claim`, `extend`, `release`) are passed through when it has them.
 * Stores that have native batch operations (PostgreSQL, Redis) should be used directly.
 */
export function withBatchOps(store: ClaimingIdempotencyStore): BatchIdempotencyStore & IdempotencyClaims;
export function withBatchOps(store: IdempotencyStore): BatchIdempotencyStore;
export function withBatchOps(store: IdempotencyStore): BatchIdempotencyStore {
  const batch: BatchIdempotencyStore = {
    get: async (key) => store.get(key),
    set: async (key, outcome, ttlMs) => store.set(key, outcome, ttlMs),
    getMany: (keys) => Promise.all(keys.map(async (key) => store.get(key))),
    async setMany(entries: readonly IdempotencyEntry[], ttlMs: number) {
      await Promise.all(
        entries.map(async ({ key, outcome }) => store.set(key, outcome as StoredOutcome, ttlMs)),
      );
    },
  };
  const claims = store as Partial<IdempotencyClaims>;
  if (
    typeof claims.claim !== "function" ||
    typeof claims.extend !== "function" ||
    typeof claims.release !== "function"
  ) {
    return batch;
  }
  const { claim, extend, release } = claims as IdempotencyClaims;
  const claiming: BatchIdempotencyStore & IdempotencyClaims = {
    ...batch,
    claim: async (key, owner, leaseMs) => claim.call(store, key, owner, leaseMs),
    extend: async (key, owner, leaseMs) => extend.call(store, key, owner, leaseMs),
    release: async (key, owner) => release.call(store, key, owner),
  };
  return claiming;
}
