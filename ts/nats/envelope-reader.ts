import { LEGACY_ORIGIN_KEY_BYTES } from "./legacy-origin.js";
import { readFloat64 } from "./msgpack-bytes.js";
import { bytesEqual, readUtf8 } from "./msgpack-strings.js";

/**
 * Reads a version-1 envelope (docs/architecture/overview.md, "Wire format") by hand, in place in the
 * inbound batch buffer: no view object, no intermediate array, the type compared as bytes. It reads only the layout Catga writers produce (a 10-array with string ids,
 * a string map of headers and a `bin` payload); anything else returns false and the caller falls
 * back to the generic msgpackr decoder, which keeps today's acceptance and errors.
 *
 * Why: msgpackr's decode of the envelope, its header map and a view per envelope cost ~1.5 µs per
 * inbound event on the session-12 VM (benches/RESULTS.md, "Session 12").
 *
 * The result lands in one reused {@link ReadEnvelope} (no allocation per envelope); read what is
 * needed before the next call.
 */
export interface ReadEnvelope {
  kindCode: number;
  /** The envelope's type; only decoded when it differs from the expected one (else that string). */
  type: string;
  typeMatches: boolean;
  messageId: string;
  /** Null when nil on the wire (a root message: the readers use the messageId). */
  correlationId: string | null;
  causationId: string | null;
  createdAt: number;
  /** The headers, without a legacy origin header (legacy-origin.ts); a shared empty object when none are left. */
  headers: Record<string, string>;
  codec: string;
  payloadStart: number;
  payloadEnd: number;
}

/** What a subscription knows before reading: its type. */
export interface ReadExpectations {
  readonly type: string;
  readonly typeBytes: Uint8Array;
  /**
   * False when the reader needs none of the ids nor the type's text (a reply: only its kind and
   * payload matter), so no string is made for them. Default true.
   */
  readonly metadata?: boolean;
}

const EMPTY: Record<string, string> = Object.freeze({}) as Record<string, string>;
const MSGPACK_BYTES = Buffer.from("msgpack");

export const envelopeRead: ReadEnvelope = {
  kindCode: 0,
  type: "",
  typeMatches: false,
  messageId: "",
  correlationId: null,
  causationId: null,
  createdAt: 0,
  headers: EMPTY,
  codec: "",
  payloadStart: 0,
  payloadEnd: 0,
};

let source: Uint8Array = new Uint8Array(0);
let at = 0;
let end = 0;

/**
 * Reads the envelope in `data[start, start + length)` into {@link envelopeRead}; false when it is
 * not in the layout read here (the caller then decodes it generically).
 */
export function readEnvelope(
  data: Uint8Array,
  start: number,
  length: number,
  expect: ReadExpectations,
): boolean {
  source = data;
  at = start;
  end = start + length;
  if (length < 3 || data[at] !== 0x9a || data[at + 1] !== 1) return false;
  const kind = data[at + 2]!;
  if (kind > 4) return false;
  at += 3;
  const out = envelopeRead;
  out.kindCode = kind;
  const typeLength = stringLength();
  if (typeLength < 0) return false;
  out.typeMatches = bytesEqual(data, at, typeLength, expect.typeBytes);
  const metadata = expect.metadata !== false;
  out.type = out.typeMatches || !metadata ? expect.type : readUtf8(data, at, typeLength);
  at += typeLength;
  if (metadata) {
    const id = readString();
    if (id === undefined) return false;
    out.messageId = id;
    const correlation = readOptionalString();
    if (correlation === undefined) return false;
    out.correlationId = correlation;
    const causation = readOptionalString();
    if (causation === undefined) return false;
    out.causationId = causation;
  } else if (!skipString() || !skipOptionalString() || !skipOptionalString()) return false;
  const createdAt = readTime();
  if (createdAt === undefined) return false;
  out.createdAt = createdAt;
  if (!readHeaders(out)) return false;
  const codecLength = stringLength();
  if (codecLength < 0) return false;
  out.codec = bytesEqual(data, at, codecLength, MSGPACK_BYTES) ? "msgpack" : readUtf8(data, at, codecLength);
  at += codecLength;
  const payloadLength = binLength();
  if (payloadLength < 0 || at + payloadLength !== end) return false;
  out.payloadStart = at;
  out.payloadEnd = end;
  return true;
}

/** Length of the string whose header is at `at` (moved past the header), or -1. */
function stringLength(): number {
  if (at >= end) return -1;
  const byte = source[at]!;
  let length: number;
  if (byte >= 0xa0 && byte < 0xc0) {
    length = byte & 0x1f;
    at += 1;
  } else if (byte === 0xd9 && at + 2 <= end) {
    length = source[at + 1]!;
    at += 2;
  } else if (byte === 0xda && at + 3 <= end) {
    length = (source[at + 1]! << 8) | source[at + 2]!;
    at += 3;
  } else return -1;
  return at + length <= end ? length : -1;
}

function readString(): string | undefined {
  const length = stringLength();
  if (length < 0) return undefined;
  const value = readUtf8(source, at, length);
  at += length;
  return value;
}

/** Moves past a string without making it; false when there is none. */
function skipString(): boolean {
  const length = stringLength();
  if (length < 0) return false;
  at += length;
  return true;
}

/** Moves past a string or nil; false when neither. */
function skipOptionalString(): boolean {
  if (at < end && source[at] === 0xc0) {
    at++;
    return true;
  }
  return skipString();
}

/** A string, null for nil, undefined when neither. */
function readOptionalString(): string | null | undefined {
  if (at < end && source[at] === 0xc0) {
    at++;
    return null;
  }
  return readString();
}

function readTime(): number | undefined {
  if (at >= end) return undefined;
  const byte = source[at]!;
  if (byte === 0xcb && at + 9 <= end) {
    const value = readFloat64(source, at + 1);
    at += 9;
    return value;
  }
  if (byte === 0xcf && at + 9 <= end) {
    let value = 0;
    for (let i = 1; i <= 8; i++) value = value * 256 + source[at + i]!;
    at += 9;
    return value;
  }
  if (byte === 0xce && at + 5 <= end) {
    const value =
      ((source[at + 1]! << 24) >>> 0) + ((source[at + 2]! << 16) | (source[at + 3]! << 8) | source[at + 4]!);
    at += 5;
    return value;
  }
  if (byte < 0x80) {
    at++;
    return byte;
  }
  return undefined;
}

function readHeaders(out: ReadEnvelope): boolean {
  if (at >= end) return false;
  const byte = source[at]!;
  let count: number;
  if (byte >= 0x80 && byte < 0x90) {
    count = byte & 0x0f;
    at += 1;
  } else if (byte === 0xde && at + 3 <= end) {
    count = (source[at + 1]! << 8) | source[at + 2]!;
    at += 3;
  } else return false;
  let headers = EMPTY;
  for (let i = 0; i < count; i++) {
    const keyLength = stringLength();
    if (keyLength < 0) return false;
    if (bytesEqual(source, at, keyLength, LEGACY_ORIGIN_KEY_BYTES)) {
      at += keyLength;
      if (!skipString()) return false;
      continue;
    }
    const key = readUtf8(source, at, keyLength);
    at += keyLength;
    const value = readString();
    if (value === undefined || key === "__proto__") return false;
    if (headers === EMPTY) headers = {};
    headers[key] = value;
  }
  out.headers = headers;
  return true;
}

function binLength(): number {
  if (at >= end) return -1;
  const byte = source[at]!;
  if (byte === 0xc4 && at + 2 <= end) {
    at += 2;
    return source[at - 1]!;
  }
  if (byte === 0xc5 && at + 3 <= end) {
    at += 3;
    return (source[at - 2]! << 8) | source[at - 1]!;
  }
  if (byte === 0xc6 && at + 5 <= end) {
    at += 5;
    return (
      ((source[at - 4]! << 24) >>> 0) + ((source[at - 3]! << 16) | (source[at - 2]! << 8) | source[at - 1]!)
    );
  }
  return -1;
}
