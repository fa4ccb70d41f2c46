/**
 * A MessagePack writer for plain data: objects and arrays of strings, numbers, booleans, null and
 * byte arrays — what payloads almost always are. Anything else (Date, Map, Set, undefined, bigint,
 * class instances, symbols, cycles past {@link MAX_DEPTH}) makes it give up, and the caller packs
 * the value with msgpackr instead, so every value keeps msgpackr's encoding.
 *
 * Why by hand: on the session-12 VM msgpackr took ~900 ns to pack `{ data: <256 bytes> }` and
 * ~650 ns for a four-field object (a subarray and a buffer check per call, a type switch per
 * value); this writer does the same in a fraction of that (benches/RESULTS.md, "Session 12").
 * The bytes are the ones msgpackr reads back to the same value; tests compare both ways.
 *
 * It writes into a caller-given buffer from a position and returns the end, or -1 when the value
 * is not plain data, or -2 when it does not fit (the caller grows the buffer and tries again).
 */

import {
  binHeaderSize,
  copyInto,
  stringHeaderSize,
  writeBinHeader,
  writeFloat64,
  writeStringHeader,
  writeU32,
} from "./msgpack-bytes.js";

/** Deeper nesting than this is left to msgpackr (which also detects what a cycle would do). */
const MAX_DEPTH = 64;

export const NOT_PLAIN = -1;
export const NO_ROOM = -2;

const utf8 = new TextEncoder();

const objectPrototype = Object.prototype;
const arrayPrototype = Array.prototype;
const bufferPrototype = Buffer.prototype;
const uint8ArrayPrototype = Uint8Array.prototype;

let out: Uint8Array = new Uint8Array(0);
let end = 0;

/** Packs `value` into `target` from `offset`; returns the end offset, NOT_PLAIN or NO_ROOM. */
export function packPlain(value: unknown, target: Uint8Array, offset: number): number {
  // A getter in `value` may pack another value: the outer call gets its target back after it.
  const outerTarget = out;
  const outerEnd = end;
  out = target;
  end = target.length;
  try {
    return write(value, offset, 0);
  } finally {
    out = outerTarget;
    end = outerEnd;
  }
}

function write(value: unknown, at: number, depth: number): number {
  switch (typeof value) {
    case "string":
      return writeString(value, at);
    case "number":
      return writeNumber(value, at);
    case "boolean":
      if (at >= end) return NO_ROOM;
      out[at] = value ? 0xc3 : 0xc2;
      return at + 1;
    case "object":
      if (value === null) {
        if (at >= end) return NO_ROOM;
        out[at] = 0xc0;
        return at + 1;
      }
      if (depth >= MAX_DEPTH) return NOT_PLAIN;
      return writeObject(value, at, depth + 1);
    default:
      return NOT_PLAIN;
  }
}

function writeObject(value: object, at: number, depth: number): number {
  const prototype = Object.getPrototypeOf(value);
  if (prototype === objectPrototype) return writeMap(value as Record<string, unknown>, at, depth);
  if (prototype === arrayPrototype) return writeArray(value as unknown[], at, depth);
  if (prototype === bufferPrototype || prototype === uint8ArrayPrototype)
    return writeBin(value as Uint8Array, at);
  return NOT_PLAIN;
}

function writeMap(value: Record<string, unknown>, at: number, depth: number): number {
  // Object.keys uses V8's enum cache for objects of one shape: faster than for-in + hasOwn here.
  const keys = Object.keys(value);
  const count = keys.length;
  let position = writeCollectionHeader(at, count, 0x80, 0xde, 0xdf);
  if (position < 0) return position;
  for (let i = 0; i < count; i++) {
    const key = keys[i]!;
    position = writeString(key, position);
    if (position < 0) return position;
    // An undefined field is not plain data (msgpackr packs it as undefined, not as nothing).
    position = write(value[key], position, depth);
    if (position < 0) return position;
  }
  return position;
}

function writeArray(value: unknown[], at: number, depth: number): number {
  const count = value.length;
  let position = writeCollectionHeader(at, count, 0x90, 0xdc, 0xdd);
  if (position < 0) return position;
  for (let i = 0; i < count; i++) {
    // A hole reads as undefined, which is not plain data.
    position = write(value[i], position, depth);
    if (position < 0) return position;
  }
  return position;
}

/** A map or array header: the fix form below 16 entries, else the 16- or 32-bit count. */
function writeCollectionHeader(at: number, count: number, fix: number, of16: number, of32: number): number {
  if (at + 5 > end) return NO_ROOM;
  if (count < 16) {
    out[at] = fix | count;
    return at + 1;
  }
  if (count < 65536) {
    out[at] = of16;
    out[at + 1] = count >>> 8;
    out[at + 2] = count & 0xff;
    return at + 3;
  }
  out[at] = of32;
  writeU32(out, at + 1, count);
  return at + 5;
}

function writeString(value: string, at: number): number {
  const length = value.length;
  const header = stringHeaderSize(length);
  const body = at + header;
  if (body + length > end) return NO_ROOM;
  const target = out;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) return writeUtf8String(value, at);
    target[body + i] = c;
  }
  writeStringHeader(out, at, header, length);
  return body + length;
}

function writeUtf8String(value: string, at: number): number {
  // At most 3 bytes per UTF-16 unit; encode after the largest header that could be needed, then
  // move the bytes back when the real length needs a shorter one.
  const most = value.length * 3;
  const header = stringHeaderSize(most);
  if (at + header + most > end) return NO_ROOM;
  const { written } = utf8.encodeInto(value, out.subarray(at + header, at + header + most));
  const length = written ?? 0;
  const fitting = stringHeaderSize(length);
  if (fitting !== header) out.copyWithin(at + fitting, at + header, at + header + length);
  writeStringHeader(out, at, fitting, length);
  return at + fitting + length;
}

function writeNumber(value: number, at: number): number {
  if (at + 9 > end) return NO_ROOM;
  const target = out;
  // -0 is an integer here and packs as 0, as msgpackr packs it.
  if (Number.isInteger(value)) {
    if (value >= 0) {
      if (value < 128) {
        target[at] = value;
        return at + 1;
      }
      if (value < 0x100) {
        target[at] = 0xcc;
        target[at + 1] = value;
        return at + 2;
      }
      if (value < 0x10000) {
        target[at] = 0xcd;
        target[at + 1] = value >>> 8;
        target[at + 2] = value & 0xff;
        return at + 3;
      }
      if (value < 0x1_0000_0000) {
        target[at] = 0xce;
        writeU32(out, at + 1, value);
        return at + 5;
      }
    } else {
      if (value >= -32) {
        target[at] = value & 0xff;
        return at + 1;
      }
      if (value >= -128) {
        target[at] = 0xd0;
        target[at + 1] = value & 0xff;
        return at + 2;
      }
      if (value >= -32768) {
        target[at] = 0xd1;
        target[at + 1] = (value >>> 8) & 0xff;
        target[at + 2] = value & 0xff;
        return at + 3;
      }
      if (value >= -0x8000_0000) {
        target[at] = 0xd2;
        writeU32(out, at + 1, value >>> 0);
        return at + 5;
      }
    }
  }
  // Fractions, NaN, infinities and integers beyond 32 bits: a float64 (exact), as msgpackr writes them.
  writeFloat64(target, at, value);
  return at + 9;
}

function writeBin(value: Uint8Array, at: number): number {
  const length = value.length;
  const header = binHeaderSize(length);
  if (at + header + length > end) return NO_ROOM;
  writeBinHeader(out, at, header, length);
  copyInto(out, value, at + header);
  return at + header + length;
}
