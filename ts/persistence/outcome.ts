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
 *
 * Objects are written as msgpackr records (each message carries its own record definitions):
 * with plain MessagePack maps (`useRecords: false`, what was written before) msgpackr 2.1 writes
 * a cyclic object that it cannot read back (its placeholder for the cycle is a Map), so a
 * duplicate of that message failed on every delivery. This packr reads both.
 */
const packr = new Packr({ structuredClone: true, mapsAsObjects: true, int64AsType: "bigint" });
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
  if (hasReference(body)) readableOrThrow(body);
  const bytes = Buffer.allocUnsafe(body.length + 1);
  bytes[0] = answered ? FORMAT_ANSWERED_FAILURE : FORMAT_V1;
  body.copy(bytes, 1);
  return bytes;
}

/**
 * Whether msgpackr marked a value that is referenced more than once (a cycle or a shared object):
 * its structured-clone id, fixext 4 of type 0x69. Any such byte pair (also inside a string) only
 * costs the check below.
 */
function hasReference(body: Uint8Array): boolean {
  for (let i = body.indexOf(0xd6); i >= 0 && i < body.length - 1; i = body.indexOf(0xd6, i + 1)) {
    if (body[i + 1] === 0x69) return true;
  }
  return false;
}

/**
 * Refuses to store what could not be read back: msgpackr cannot restore a cycle through a Map or a
 * Set (read as objects), and an outcome that fails to decode would fail every duplicate after it.
 */
function readableOrThrow(body: Uint8Array): void {
  try {
    packr.unpack(body);
  } catch (cause) {
    throw new CatgaError(
      ErrorCodes.ENCODE,
      "outcome has a cycle that cannot be stored (through a Map or a Set): store plain objects and arrays",
      { cause },
    );
  }
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
