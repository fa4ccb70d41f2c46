import { copyInto, readFloat64 } from "./msgpack-bytes.js";
import { readUtf8 } from "./msgpack-strings.js";

/**
 * A MessagePack reader for plain data, the counterpart of plain-packer.ts: maps with string keys,
 * arrays, strings, integers, float64, booleans, nil and bin. Anything else (ext types such as
 * Date or undefined, float32, non-string or `__proto__` keys, truncated input) makes it give up
 * and the caller decodes the bytes with msgpackr, so every payload decodes to what msgpackr
 * gives with the codec's options (integers as numbers, bin copied into its own Buffer).
 *
 * Why by hand: per inbound event msgpackr spent ~1 µs on a `{ data: <256 bytes> }` payload on the
 * session-12 VM (its setup per call, its native string extraction for tiny strings, a species
 * Buffer per bin); see benches/RESULTS.md, "Session 12".
 */

/** Returned when the bytes are not plain data (or not well formed): decode them with msgpackr. */
export const NOT_PLAIN: unique symbol = Symbol("not plain");

const MAX_DEPTH = 64;

let source: Uint8Array = new Uint8Array(0);
let end = 0;
let at = 0;

/** Decodes exactly `data[start, stop)` as one value, or returns {@link NOT_PLAIN}. */
export function unpackPlain(data: Uint8Array, start: number, stop: number): unknown {
  source = data;
  end = stop;
  at = start;
  const value = read(0);
  if (at !== stop) return NOT_PLAIN;
  return value;
}

function read(depth: number): unknown {
  if (at >= end) return NOT_PLAIN;
  const byte = source[at++]!;
  if (byte < 0x80) return byte;
  if (byte < 0x90) return readMap(byte & 0x0f, depth);
  if (byte < 0xa0) return readArray(byte & 0x0f, depth);
  if (byte < 0xc0) return readString(byte & 0x1f);
  if (byte >= 0xe0) return byte - 0x100;
  switch (byte) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return readBin(readUint(1));
    case 0xc5:
      return readBin(readUint(2));
    case 0xc6:
      return readBin(readUint(4));
    case 0xcb:
      return readFloat();
    case 0xcc:
      return readUint(1);
    case 0xcd:
      return readUint(2);
    case 0xce:
      return readUint(4);
    case 0xcf: {
      const high = readUint(4);
      const low = readUint(4);
      return high * 0x1_0000_0000 + low;
    }
    case 0xd0:
      return signed(readUint(1), 0x80);
    case 0xd1:
      return signed(readUint(2), 0x8000);
    case 0xd2:
      return readUint(4) | 0;
    case 0xd3: {
      const high = readUint(4) | 0;
      const low = readUint(4);
      return high * 0x1_0000_0000 + low;
    }
    case 0xd9:
      return readString(readUint(1));
    case 0xda:
      return readString(readUint(2));
    case 0xdb:
      return readString(readUint(4));
    case 0xdc:
      return readArray(readUint(2), depth);
    case 0xdd:
      return readArray(readUint(4), depth);
    case 0xde:
      return readMap(readUint(2), depth);
    case 0xdf:
      return readMap(readUint(4), depth);
    default:
      return NOT_PLAIN;
  }
}

function signed(value: number, bound: number): number {
  return value >= bound ? value - 2 * bound : value;
}

/** A big-endian unsigned integer of `bytes` bytes; past the end it yields 0 and `at` runs over. */
function readUint(bytes: number): number {
  if (at + bytes > end) {
    at = end + 1; // makes the caller's final position check fail
    return 0;
  }
  let value = 0;
  for (let i = 0; i < bytes; i++) value = value * 256 + source[at + i]!;
  at += bytes;
  return value;
}

function readFloat(): unknown {
  if (at + 8 > end) return NOT_PLAIN;
  const value = readFloat64(source, at);
  at += 8;
  return value;
}

function readString(length: number): unknown {
  if (at + length > end) return NOT_PLAIN;
  const value = readUtf8(source, at, length);
  at += length;
  return value;
}

/**
 * Binary fields are copied (so they never keep the inbound batch alive) into pooled chunks, the
 * way Node pools small Buffers: `.buffer` is shared, read it with byteOffset and byteLength, as
 * Node's docs say for any pooled Buffer. Ours, not Node's `Buffer.allocUnsafe` (86–130 ns per
 * field before the copy on the session-12 VM): `Buffer.from(chunk, offset, length)` is ~55 ns
 * and copying from a plain Uint8Array view skips the species Buffer `subarray` makes. Memory of
 * its own per field, as msgpackr's copyBuffers made, cost ~600 ns more.
 */
const CHUNK_BYTES = 8192;
let chunk = new ArrayBuffer(CHUNK_BYTES);
let chunkBytes = new Uint8Array(chunk);
let chunkUsed = 0;

function readBin(length: number): unknown {
  if (at + length > end) return NOT_PLAIN;
  const from = new Uint8Array(source.buffer, source.byteOffset + at, length);
  at += length;
  if (length > CHUNK_BYTES >>> 1) {
    const own = Buffer.allocUnsafeSlow(length);
    copyInto(own, from, 0);
    return own;
  }
  if (chunkUsed + length > CHUNK_BYTES) {
    chunk = new ArrayBuffer(CHUNK_BYTES);
    chunkBytes = new Uint8Array(chunk);
    chunkUsed = 0;
  }
  copyInto(chunkBytes, from, chunkUsed);
  const copy = Buffer.from(chunk, chunkUsed, length);
  // Aligned like Node's pool, so a field can be read through wider typed arrays.
  chunkUsed = (chunkUsed + length + 7) & ~7;
  return copy;
}

function readArray(count: number, depth: number): unknown {
  if (depth >= MAX_DEPTH || count > end - at) return NOT_PLAIN;
  const array = new Array<unknown>(count);
  for (let i = 0; i < count; i++) {
    const value = read(depth + 1);
    if (value === NOT_PLAIN) return NOT_PLAIN;
    array[i] = value;
  }
  return array;
}

function readMap(count: number, depth: number): unknown {
  if (depth >= MAX_DEPTH || count > end - at) return NOT_PLAIN;
  const object: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const key = readKey();
    if (key === undefined) return NOT_PLAIN;
    const value = read(depth + 1);
    if (value === NOT_PLAIN) return NOT_PLAIN;
    object[key] = value;
  }
  return object;
}

/** A string key, or undefined for anything else (and for `__proto__`, left to msgpackr). */
function readKey(): string | undefined {
  if (at >= end) return undefined;
  const byte = source[at++]!;
  let length: number;
  if (byte >= 0xa0 && byte < 0xc0) length = byte & 0x1f;
  else if (byte === 0xd9) length = readUint(1);
  else if (byte === 0xda) length = readUint(2);
  else return undefined;
  if (at + length > end) return undefined;
  const key = readUtf8(source, at, length);
  at += length;
  return key === "__proto__" ? undefined : key;
}
