import { Packr } from "msgpackr/pack";
import { CatgaError, ErrorCodes } from "../errors.js";
import type { IdempotencyStore, StoredOutcome } from "../mediator/behaviors/idempotency-store.js";

/** An idempotency (inbox) store with batch operations; every method returns a promise. */
export interface BatchIdempotencyStore extends IdempotencyStore {
  get(key: string): Promise<StoredOutcome | undefined>;
  set(key: string, outcome: StoredOutcome, ttlMs: number): Promise<void>;
  /** Outcomes in the order of `keys`; `undefined` where nothing (unexpired) is stored. */
  getMany(keys: readonly string[]): Promise<(StoredOutcome | undefined)[]>;
  /** Stores every entry with the same TTL; for a key given twice, the last entry wins. */
  setMany(entries: readonly IdempotencyEntry[], ttlMs: number): Promise<void>;
}

/** One outcome to store with `setMany`. */
export interface IdempotencyEntry {
  /** The idempotency key (by default the message id). */
  readonly key: string;
  /** The handler's successful outcome, replayed to duplicates. */
  readonly outcome: StoredOutcome;
}

/**
 * Outcomes are MessagePack with msgpackr's structured-clone extension, so Dates, Buffers,
 * typed arrays, Sets, BigInts, `undefined` and cycles survive (Maps come back as plain objects,
 * class instances as plain objects). A leading format byte leaves room for a later encoding.
 */
const packr = new Packr({ useRecords: false, structuredClone: true, int64AsType: "bigint" });
const FORMAT_V1 = 1;

export function encodeOutcome(outcome: StoredOutcome): Buffer {
  const body = packr.pack(outcome.value);
  const bytes = Buffer.allocUnsafe(body.length + 1);
  bytes[0] = FORMAT_V1;
  body.copy(bytes, 1);
  return bytes;
}

export function decodeOutcome(bytes: Uint8Array): StoredOutcome {
  if (bytes.length < 2 || bytes[0] !== FORMAT_V1) {
    throw new CatgaError(ErrorCodes.DECODE, "stored outcome has an unknown format");
  }
  return { value: packr.unpack(bytes.subarray(1)) };
}
