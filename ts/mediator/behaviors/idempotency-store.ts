// The idempotency store contract (get/set, optional claims) and its in-process implementation;
// the behavior that uses a store is idempotency.ts.

/** A remembered answer: a handler's value, or the `err(...)` it returned. Wrapped so an `undefined` result differs from "not stored". */
export interface StoredOutcome {
  readonly value: unknown;
}

/**
 * Where results of already-handled message ids are kept. Implement it over Redis, PostgreSQL or
 * NATS KV to deduplicate across processes; the in-memory default only covers this process.
 */
export interface IdempotencyStore {
  /** The unexpired outcome stored for `key`; `undefined` when there is none (or only a claim). */
  get(key: string): StoredOutcome | undefined | Promise<StoredOutcome | undefined>;
  /** Stores the outcome; on a store with claims this also completes (ends) any claim on `key`. */
  set(key: string, outcome: StoredOutcome, ttlMs: number): void | Promise<void>;
}

/** What {@link IdempotencyClaims.claim} found. */
export type ClaimResult =
  /** `owner` now holds the key for `leaseMs`: run the handler. */
  | { readonly status: "claimed" }
  /** An outcome is stored: replay it. */
  | { readonly status: "done"; readonly outcome: StoredOutcome }
  /** Another owner holds an unexpired claim: wait and ask again. */
  | { readonly status: "held" };

/**
 * Claims with a lease, so that one process at a time runs the handler for a key. Each call is
 * atomic in the store (PostgreSQL row, Redis `SET NX PX` + scripts, NATS KV revisions).
 */
export interface IdempotencyClaims {
  /**
   * Takes `key` for `owner` for `leaseMs` when no outcome is stored and no other owner holds an
   * unexpired claim (an expired or released claim is taken over); else says what is there.
   */
  claim(key: string, owner: string, leaseMs: number): ClaimResult | Promise<ClaimResult>;
  /** Pushes the lease out to `leaseMs` from now; `false` when `owner` no longer holds the claim. */
  extend(key: string, owner: string, leaseMs: number): boolean | Promise<boolean>;
  /** Ends `owner`'s claim without an outcome, so a waiter can take the key at once. */
  release(key: string, owner: string): void | Promise<void>;
}

/** A store that can also lock a key while its handler runs (every store Catga ships). */
export interface ClaimingIdempotencyStore extends IdempotencyStore, IdempotencyClaims {}

interface Entry {
  readonly key: string;
  readonly outcome: StoredOutcome;
  readonly expiresAt: number;
}

/**
 * Map-backed store with TTL and a size cap. Eviction order lives in a separate array queue
 * (oldest first) so expiring and evicting are O(1) amortized; iterating a Map from the front after
 * many deletions is not (it walks the deleted slots).
 */
export class InMemoryIdempotencyStore implements ClaimingIdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  /** Open claims; one ends when its outcome is set or it is released (or expires and is taken). */
  private readonly claims = new Map<string, { readonly owner: string; expiresAt: number }>();
  private order: (Entry | undefined)[] = [];
  private head = 0;

  /** Holds at most `maxEntries` outcomes (default 10 000); past that the oldest are dropped first. */
  constructor(private readonly maxEntries = 10_000) {}

  /** Outcomes held now (expired ones go as new ones are stored). */
  get size(): number {
    return this.entries.size;
  }

  get(key: string): StoredOutcome | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.outcome;
  }

  /** Claims within this process only: share one store between mediators to lock between them. */
  claim(key: string, owner: string, leaseMs: number): ClaimResult {
    const outcome = this.get(key);
    if (outcome !== undefined) return { status: "done", outcome };
    const now = Date.now();
    const held = this.claims.get(key);
    if (held !== undefined && held.owner !== owner && held.expiresAt > now) return { status: "held" };
    this.claims.set(key, { owner, expiresAt: now + leaseMs });
    return { status: "claimed" };
  }

  extend(key: string, owner: string, leaseMs: number): boolean {
    const held = this.claims.get(key);
    if (held?.owner !== owner) return false;
    held.expiresAt = Date.now() + leaseMs;
    return true;
  }

  release(key: string, owner: string): void {
    if (this.claims.get(key)?.owner === owner) this.claims.delete(key);
  }

  set(key: string, outcome: StoredOutcome, ttlMs: number): void {
    this.claims.delete(key);
    const now = Date.now();
    const entry: Entry = { key, outcome, expiresAt: now + ttlMs };
    this.entries.set(key, entry);
    this.order.push(entry);
    // Drop from the old end: anything expired, then whatever exceeds the cap. Queue slots whose
    // entry was replaced or already deleted are skipped.
    while (this.head < this.order.length) {
      const oldest = this.order[this.head]!;
      const current = this.entries.get(oldest.key) === oldest;
      if (current && this.entries.size <= this.maxEntries && oldest.expiresAt > now) break;
      this.order[this.head++] = undefined;
      if (current) this.entries.delete(oldest.key);
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}
