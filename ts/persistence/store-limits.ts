import { CatgaError, ErrorCodes } from "../errors.js";
import type { StoredOutcome } from "../mediator/behaviors/idempotency-store.js";
import { OptionChecker } from "./option-checker.js";
import { encodeOutcome, type IdempotencyEntry } from "./outcome.js";
import { invalid } from "./store-errors.js";

/** Size caps every idempotency store checks before bytes reach the backend (CATGA_LIMIT past them). */
export interface StoreLimits {
  /**
   * Longest key in UTF-8 bytes, not counting any store prefix.
   * @default 1024
   */
  readonly maxKeyBytes?: number;
  /**
   * Largest serialized outcome in bytes.
   * @default 1048576 (1 MiB)
   */
  readonly maxValueBytes?: number;
}

export const DEFAULT_MAX_KEY_BYTES = 1024;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/** Owners are ids the idempotency behavior makes (a UUID and a counter); this leaves room for yours. */
export const MAX_OWNER_BYTES = 256;

export class Limits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;

  /**
   * Reads `maxKeyBytes`/`maxValueBytes` through the store's option checker, or straight from
   * `StoreLimits` (then bad values throw a CatgaConfigError at once).
   */
  constructor(
    private readonly store: string,
    source: OptionChecker | StoreLimits | undefined,
  ) {
    const check =
      source instanceof OptionChecker
        ? source
        : new OptionChecker(store, pickLimits(source), ["maxKeyBytes", "maxValueBytes"]);
    this.maxKeyBytes = check.int("maxKeyBytes", DEFAULT_MAX_KEY_BYTES);
    this.maxValueBytes = check.int("maxValueBytes", DEFAULT_MAX_VALUE_BYTES);
    if (check !== source) check.done();
  }

  key(key: unknown): string {
    if (typeof key !== "string" || key.length === 0) {
      throw invalid(`${this.store}: key must be a non-empty string`);
    }
    if (key.length > this.maxKeyBytes / 3 && Buffer.byteLength(key) > this.maxKeyBytes) {
      throw new CatgaError(
        ErrorCodes.LIMIT,
        `${this.store}: key is ${Buffer.byteLength(key)} bytes, more than maxKeyBytes ${this.maxKeyBytes}`,
      );
    }
    return key;
  }

  keys(keys: unknown): readonly string[] {
    if (!Array.isArray(keys)) throw invalid(`${this.store}: keys must be an array of strings`);
    for (const key of keys) this.key(key);
    return keys;
  }

  /**
   * TTL in whole milliseconds (rounded up); `Infinity` means the entry never expires. `max` bounds a
   * finite one where the store's own arithmetic would overflow (PostgreSQL's bigint, Redis's PX):
   * there 1e300 failed as CATGA_STORE_FAILED.
   */
  ttl(ttlMs: unknown, max = Number.POSITIVE_INFINITY): number {
    if (
      typeof ttlMs !== "number" ||
      Number.isNaN(ttlMs) ||
      ttlMs <= 0 ||
      (ttlMs > max && ttlMs !== Infinity)
    ) {
      throw invalid(
        `${this.store}: ttlMs must be a number > 0${max === Number.POSITIVE_INFINITY ? "" : ` and at most ${max}`} (Infinity = never expires), got ${String(ttlMs)}`,
      );
    }
    return ttlMs === Number.POSITIVE_INFINITY ? ttlMs : Math.ceil(ttlMs);
  }

  /** A claim's lease: whole milliseconds (rounded up), finite and > 0. */
  lease(leaseMs: unknown): number {
    if (typeof leaseMs !== "number" || !Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw invalid(`${this.store}: leaseMs must be a finite number > 0, got ${String(leaseMs)}`);
    }
    return Math.ceil(leaseMs);
  }

  /** A claim's owner: a non-empty string of at most MAX_OWNER_BYTES. */
  owner(owner: unknown): string {
    if (typeof owner !== "string" || owner.length === 0 || Buffer.byteLength(owner) > MAX_OWNER_BYTES) {
      throw invalid(`${this.store}: owner must be a non-empty string of at most ${MAX_OWNER_BYTES} bytes`);
    }
    return owner;
  }

  value(outcome: unknown): Buffer {
    if (typeof outcome !== "object" || outcome === null || !("value" in outcome)) {
      throw invalid(`${this.store}: outcome must be an object { value }`);
    }
    let bytes: Buffer;
    try {
      bytes = encodeOutcome(outcome as StoredOutcome);
    } catch (cause) {
      throw new CatgaError(ErrorCodes.ENCODE, `${this.store}: outcome could not be serialized`, { cause });
    }
    if (bytes.length > this.maxValueBytes) {
      throw new CatgaError(
        ErrorCodes.LIMIT,
        `${this.store}: outcome is ${bytes.length} bytes, more than maxValueBytes ${this.maxValueBytes}`,
      );
    }
    return bytes;
  }

  entries(entries: unknown): { keys: string[]; values: Buffer[] } {
    if (!Array.isArray(entries)) throw invalid(`${this.store}: entries must be an array of { key, outcome }`);
    // Last entry wins for a repeated key (one statement cannot update a row twice).
    const byKey = new Map<string, Buffer>();
    for (const entry of entries as IdempotencyEntry[]) {
      if (typeof entry !== "object" || entry === null) {
        throw invalid(`${this.store}: entries must be an array of { key, outcome }`);
      }
      const key = this.key(entry.key);
      byKey.delete(key);
      byKey.set(key, this.value(entry.outcome));
    }
    return { keys: [...byKey.keys()], values: [...byKey.values()] };
  }
}

function pickLimits(limits: StoreLimits | undefined): StoreLimits {
  return { maxKeyBytes: limits?.maxKeyBytes, maxValueBytes: limits?.maxValueBytes } as StoreLimits;
}
