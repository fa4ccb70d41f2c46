/**
 * Writes a version-1 envelope (docs/architecture/overview.md, "Wire format") as MessagePack by hand.
 *
 * The envelope is a fixed 10-field array of strings, small integers, a string map and one `bin`,
 * so its layout is known in advance. msgpackr's generic `pack` spent ~1.5 µs per envelope on it
 * (type dispatch per value, UTF-8 encoding each char of the 36-char ids in a JS loop, a second
 * copy of the already-encoded payload): 28 % of a user-path publisher's CPU in a `--cpu-prof`
 * (benches/RESULTS.md, "Session 12"). Written here, ASCII strings go byte by byte into a slab and
 * the payload is copied once. Any MessagePack reader decodes the result (tests check msgpackr).
 *
 * Envelopes are written into 64 KiB slabs and returned as views. A slab is never written again
 * once a view of it is handed out (the next envelope starts after it), so a caller may keep the
 * view for as long as it likes; a full slab is simply replaced (the views keep it alive).
 */

import { Packr } from "msgpackr/pack";
import { idClock, writeUuidv7 } from "../mediator/ids.js";
import {
  binHeaderSize,
  copyInto,
  stringHeaderSize,
  writeBinHeader,
  writeFloat64,
  writeStringHeader,
  writeU32,
} from "./msgpack-bytes.js";
import { viewAt } from "./pack.js";
import { NO_ROOM, NOT_PLAIN, packPlain } from "./plain-packer.js";

const SLAB_BYTES = 64 * 1024;

const EMPTY_MAP = 0x80;
const NIL = 0xc0;

/** Everything of a wire envelope but its payload; `kindCode` is 0 command … 4 error. */
export interface EnvelopeHead {
  readonly kindCode: number;
  readonly type: string;
  /** Undefined mints a new UUIDv7 straight into the bytes (and `createdAt` is its time). */
  readonly messageId: string | undefined;
  /** nil on the wire when it equals `messageId` (a root message) or is null. */
  readonly correlationId: string | null;
  readonly causationId: string | null;
  readonly createdAt: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly codec: string;
}

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let at = 0;
/** Where the envelope being written starts in `slab`. */
let start = 0;

/** Makes room for `bytes` more, moving the envelope written so far to a fresh slab if needed. */
function ensure(bytes: number): void {
  if (at + bytes <= slab.length) return;
  const written = at - start;
  const next = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, 2 * (written + bytes)));
  copyInto(next, slab.subarray(start, at), 0);
  slab = next;
  start = 0;
  at = written;
}

function writeString(value: string): void {
  const length = value.length;
  // ASCII fast path: one byte per char, the header known from the length.
  ensure(5 + length);
  const header = stringHeaderSize(length);
  const body = at + header;
  const buffer = slab;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) {
      writeUtf8String(value);
      return;
    }
    buffer[body + i] = c;
  }
  writeStringHeader(slab, at, header, length);
  at = body + length;
}

function writeUtf8String(value: string): void {
  const bytes = Buffer.byteLength(value, "utf8");
  ensure(5 + bytes);
  const header = stringHeaderSize(bytes);
  slab.write(value, at + header, bytes, "utf8");
  writeStringHeader(slab, at, header, bytes);
  at += header + bytes;
}

function writeOptionalString(value: string | null | undefined): void {
  if (value === null || value === undefined) {
    ensure(1);
    slab[at++] = NIL;
  } else writeString(asString(value));
}

/** Ids typed as strings may still arrive as numbers from JavaScript callers: as before, their text. */
function asString(value: unknown): string {
  return typeof value === "string" ? value : String(value);
}

/**
 * Epoch milliseconds as a float64, exact for every whole millisecond: what msgpackr wrote before
 * this writer existed, so readers that turn a uint64 into a BigInt still get a number.
 */
function writeTime(value: number): void {
  ensure(9);
  writeFloat64(slab, at, value);
  at += 9;
}

/**
 * The bytes of the last frozen headers object written, by identity. A frozen object cannot change,
 * so its bytes can be reused. Measured when the NATS transport stamped every event with one shared
 * frozen origin header (writing its keys char by char was ~10 % of a publisher's JS time); since
 * that header is gone most events share one frozen empty map, and a caller's frozen headers still
 * hit it.
 */
let cachedHeaders: object | undefined;
let cachedHeaderBytes: Uint8Array = new Uint8Array(0);

function writeHeaders(headers: Readonly<Record<string, string>>): void {
  if (headers === cachedHeaders) {
    const bytes = cachedHeaderBytes;
    ensure(bytes.length);
    copyInto(slab, bytes, at);
    at += bytes.length;
    return;
  }
  // Relative to the envelope: `ensure` may move it to a new slab while the map is written.
  const offset = at - start;
  writeHeaderMap(headers);
  if (Object.isFrozen(headers) && onlyDataProperties(headers)) {
    cachedHeaders = headers;
    cachedHeaderBytes = new Uint8Array(slab.subarray(start + offset, at)); // a copy: the slab is reused
  }
}

/** For header maps with a value that is not a string: msgpackr writes them as it always did. */
const headerPackr = new Packr({ useRecords: false });

/** A getter on a frozen object may still answer differently each time: such maps are not cached. */
function onlyDataProperties(headers: object): boolean {
  for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(headers)))
    if (!("value" in descriptor)) return false;
  return true;
}

function writeHeaderMap(headers: Readonly<Record<string, string>>): void {
  const keys = Object.keys(headers);
  for (let i = 0; i < keys.length; i++) {
    if (typeof headers[keys[i]!] !== "string") {
      const bytes = headerPackr.pack(headers);
      ensure(bytes.length);
      copyInto(slab, bytes, at);
      at += bytes.length;
      return;
    }
  }
  const count = keys.length;
  ensure(5);
  if (count < 16) slab[at++] = EMPTY_MAP | count;
  else if (count < 65536) {
    slab[at] = 0xde;
    slab[at + 1] = count >>> 8;
    slab[at + 2] = count & 0xff;
    at += 3;
  } else {
    slab[at] = 0xdf;
    writeU32(slab, at + 1, count);
    at += 5;
  }
  for (let i = 0; i < count; i++) {
    const key = keys[i]!;
    writeString(key);
    writeString(headers[key]!);
  }
}

function writeBin(bytes: Uint8Array): void {
  // A codec may hand back another view type (a Float32Array, say): its bytes are what travel.
  const payload = bytes instanceof Uint8Array ? bytes : asBytes(bytes);
  const length = payload.length; // not byteLength: see copyInto in batcher.ts
  ensure(5 + length);
  const header = binHeaderSize(length);
  writeBinHeader(slab, at, header, length);
  at += header;
  copyInto(slab, payload, at);
  at += length;
}

function writeHead(head: EnvelopeHead): void {
  ensure(3 + 2 + 36);
  slab[at] = 0x9a; // fixarray of 10
  slab[at + 1] = 1; // version
  slab[at + 2] = head.kindCode;
  at += 3;
  writeString(asString(head.type));
  const id = head.messageId === undefined ? undefined : asString(head.messageId);
  if (id === undefined) {
    // A new id, written as bytes: no string is made for a message nobody reads the id of.
    ensure(38);
    slab[at] = 0xd9;
    slab[at + 1] = 36;
    writeUuidv7(slab, at + 2);
    at += 38;
    // null: a root message, its own correlation (nil on the wire).
    writeOptionalString(head.correlationId);
    writeOptionalString(head.causationId);
    writeTime(idClock.ms);
  } else {
    writeString(id);
    // A root message is its own correlation: nil says so in 1 byte instead of repeating the id.
    writeOptionalString(head.correlationId === id ? null : head.correlationId);
    writeOptionalString(head.causationId);
    writeTime(head.createdAt);
  }
  writeHeaders(head.headers);
  writeString(asString(head.codec));
}

function asBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Encodes one envelope; the view stays valid (see the module comment). */
export function writeEnvelope(head: EnvelopeHead, payload: Uint8Array): Buffer {
  return guarded(writeEnvelopeUnguarded, head, payload);
}

function writeEnvelopeUnguarded(head: EnvelopeHead, payload: Uint8Array): Buffer {
  start = at;
  writeHead(head);
  writeBin(payload);
  return viewAt(slab, start, at - start);
}

/**
 * Encodes one envelope whose payload is `value` packed as MessagePack by {@link packPlain},
 * written straight behind the head (no intermediate buffer). Returns undefined when the value is
 * not plain data: the caller packs it with msgpackr and uses {@link writeEnvelope}.
 */
export function writeEnvelopeOf(head: EnvelopeHead, value: unknown): Buffer | undefined {
  return guarded(writeEnvelopeOfUnguarded, head, value);
}

/**
 * Writing runs user code (payload getters, a header value's `toString`), which may encode another
 * message: that nested write gets a slab of its own, so it never writes over the envelope being
 * written, and the outer write finds its state as it left it.
 */
let writing = false;

function guarded<T, R>(write: (head: EnvelopeHead, value: T) => R, head: EnvelopeHead, value: T): R {
  if (!writing) {
    writing = true;
    try {
      return write(head, value);
    } finally {
      writing = false;
    }
  }
  const saved = { slab, at, start };
  slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  at = 0;
  start = 0;
  try {
    return write(head, value);
  } finally {
    slab = saved.slab;
    at = saved.at;
    start = saved.start;
  }
}

function writeEnvelopeOfUnguarded(head: EnvelopeHead, value: unknown): Buffer | undefined {
  start = at;
  writeHead(head);
  const headEnd = at;
  // Room for the largest bin header; the head moves up to meet the real one.
  let payloadEnd = packPlain(value, slab, headEnd + 5);
  while (payloadEnd === NO_ROOM) {
    ensure(2 * (slab.length - start));
    payloadEnd = packPlain(value, slab, at + 5);
  }
  if (payloadEnd === NOT_PLAIN) {
    at = start;
    return undefined;
  }
  const payloadStart = at + 5;
  const length = payloadEnd - payloadStart;
  const binHeader = binHeaderSize(length);
  const shift = 5 - binHeader;
  if (shift > 0) slab.copyWithin(start + shift, start, at);
  writeBinHeader(slab, payloadStart - binHeader, binHeader, length);
  at = payloadEnd;
  return viewAt(slab, start + shift, payloadEnd - start - shift);
}
