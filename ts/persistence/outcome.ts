import { Packr } from "msgpackr/pack";
import { CatgaError, ErrorCodes } from "../errors.js";
import type { IdempotencyStore, StoredOutcome } from "../mediator/behaviors/idempotency-store.js";
import { errFrom, isErr } from "../mediator/result.js";

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
  /** The handler's answer (a value, or a failure it returned), replayed to duplicates. */
  readonly outcome: StoredOutcome;
}

/**
 * Outcomes are MessagePack with msgpackr's structured-clone extension, so Dates, Buffers,
 * typed arrays, Sets, BigInts, `undefined` and cycles survive (Maps come back as plain objects,
 * class instances as plain objects). A leading format byte leaves room for a later encoding.
 */
const packr = new Packr({ useRecords: false, structuredClone: true, int64AsType: "bigint" });
const FORMAT_V1 = 1;
/**
 * A refusal the handler returned (`return err(...)`): its code, message and details, so a replay
 * is the same failure again. Stored as a plain value it would come back as an object that reads as
 * a success (`exactlyOnce` records whatever its work returns).
 */
const FORMAT_ANSWERED_FAILURE = 2;

export function encodeOutcome(outcome: StoredOutcome): Buffer {
  const value = outcome.value;
  const answered = isErr(value);
  const body = answered
    ? packr.pack({ code: value.error.code, message: value.error.message, details: value.error.details })
    : packr.pack(value);
  const bytes = Buffer.allocUnsafe(body.length + 1);
  bytes[0] = answered ? FORMAT_ANSWERED_FAILURE : FORMAT_V1;
  body.copy(bytes, 1);
  return bytes;
}

export function decodeOutcome(bytes: Uint8Array): StoredOutcome {
  const format = bytes[0];
  if (bytes.length < 2 || (format !== FORMAT_V1 && format !== FORMAT_ANSWERED_FAILURE)) {
    throw new CatgaError(ErrorCodes.DECODE, "stored outcome has an unknown format");
  }
  const body = packr.unpack(bytes.subarray(1));
  if (format === FORMAT_V1) return { value: body };
  const info = body as { code?: unknown; message?: unknown; details?: unknown } | null;
  if (typeof info?.code !== "string" || typeof info.message !== "string") {
    throw new CatgaError(ErrorCodes.DECODE, "stored failure has no code or message");
  }
  const details = info.details === undefined ? {} : { details: info.details };
  return { value: errFrom({ code: info.code, message: info.message, ...details }) };
}
