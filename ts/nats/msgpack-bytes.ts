/**
 * Byte-level MessagePack pieces shared by the hand-written writers and readers (envelope-writer,
 * plain-packer, envelope-reader, plain-unpacker): header sizes and headers, big-endian integers
 * and float64s. Pure functions on a target buffer and an offset; callers check room first.
 */

/**
 * `Uint8Array.prototype.set`, called directly. On a Buffer, `buf.set` is looked up through
 * Buffer.prototype, which V8 (Node 20) keeps in dictionary mode, so optimized code cannot inline
 * it (see `copyInto` in batcher.ts for the measurement).
 */
export const copyInto: (target: Uint8Array, source: Uint8Array, offset: number) => void =
  Function.prototype.call.bind(Uint8Array.prototype.set) as never;

/** Bytes of a `str` header for a string of `length` bytes: fixstr, str8, str16 or str32. */
export function stringHeaderSize(length: number): number {
  return length < 32 ? 1 : length < 256 ? 2 : length < 65536 ? 3 : 5;
}

/** Writes a `str` header of `size` bytes (from {@link stringHeaderSize}) at `at`. */
export function writeStringHeader(target: Uint8Array, at: number, size: number, length: number): void {
  if (size === 1) target[at] = 0xa0 | length;
  else if (size === 2) {
    target[at] = 0xd9;
    target[at + 1] = length;
  } else if (size === 3) {
    target[at] = 0xda;
    target[at + 1] = length >>> 8;
    target[at + 2] = length & 0xff;
  } else {
    target[at] = 0xdb;
    writeU32(target, at + 1, length);
  }
}

/** Bytes of a `bin` header for `length` bytes: bin8, bin16 or bin32. */
export function binHeaderSize(length: number): number {
  return length < 256 ? 2 : length < 65536 ? 3 : 5;
}

/** Writes a `bin` header of `size` bytes (from {@link binHeaderSize}) at `at`. */
export function writeBinHeader(target: Uint8Array, at: number, size: number, length: number): void {
  if (size === 2) {
    target[at] = 0xc4;
    target[at + 1] = length;
  } else if (size === 3) {
    target[at] = 0xc5;
    target[at + 1] = length >>> 8;
    target[at + 2] = length & 0xff;
  } else {
    target[at] = 0xc6;
    writeU32(target, at + 1, length);
  }
}

export function writeU32(target: Uint8Array, at: number, value: number): void {
  target[at] = value >>> 24;
  target[at + 1] = (value >>> 16) & 0xff;
  target[at + 2] = (value >>> 8) & 0xff;
  target[at + 3] = value & 0xff;
}

const float64 = new Float64Array(1);
const float64Bytes = new Uint8Array(float64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes `0xcb` and `value` as a big-endian float64 at `at` (9 bytes). */
export function writeFloat64(target: Uint8Array, at: number, value: number): void {
  target[at] = 0xcb;
  float64[0] = value;
  if (LITTLE_ENDIAN) {
    for (let i = 0; i < 8; i++) target[at + 1 + i] = float64Bytes[7 - i]!;
  } else {
    for (let i = 0; i < 8; i++) target[at + 1 + i] = float64Bytes[i]!;
  }
}

/** Reads the big-endian float64 whose 8 bytes start at `at`. */
export function readFloat64(source: Uint8Array, at: number): number {
  if (LITTLE_ENDIAN) {
    for (let i = 0; i < 8; i++) float64Bytes[7 - i] = source[at + i]!;
  } else {
    for (let i = 0; i < 8; i++) float64Bytes[i] = source[at + i]!;
  }
  return float64[0]!;
}
