/**
 * Strings out of MessagePack bytes for the hand-written readers (envelope-reader.ts,
 * plain-unpacker.ts). Short ASCII strings (keys, names) are built from char codes in JS; longer
 * ones take one native call, Latin-1 when every byte is ASCII (cheaper), UTF-8 otherwise.
 * Measured on the session-12 VM: a 36-char id costs ~100 ns either way, a 4-char key ~15 ns in
 * JS against ~90 ns for a native call.
 */

type Slice = (this: Uint8Array, start: number, end: number) => string;
const bufferMethods = Buffer.prototype as unknown as { latin1Slice: Slice; utf8Slice: Slice };
const latin1Slice = bufferMethods.latin1Slice;
const utf8Slice = bufferMethods.utf8Slice;
const fromCharCode = String.fromCharCode;

/** The string in `data[start, start + length)` (UTF-8). `data` must be a Buffer. */
export function readUtf8(data: Uint8Array, start: number, length: number): string {
  if (length <= 8) {
    const short = shortAscii(data, start, length);
    if (short !== undefined) return short;
    return utf8Slice.call(data, start, start + length);
  }
  const end = start + length;
  for (let i = start; i < end; i++) {
    if (data[i]! >= 0x80) return utf8Slice.call(data, start, end);
  }
  return latin1Slice.call(data, start, end);
}

function shortAscii(data: Uint8Array, at: number, length: number): string | undefined {
  let any = 0;
  for (let i = 0; i < length; i++) any |= data[at + i]!;
  if (any >= 0x80) return undefined;
  switch (length) {
    case 0:
      return "";
    case 1:
      return fromCharCode(data[at]!);
    case 2:
      return fromCharCode(data[at]!, data[at + 1]!);
    case 3:
      return fromCharCode(data[at]!, data[at + 1]!, data[at + 2]!);
    case 4:
      return fromCharCode(data[at]!, data[at + 1]!, data[at + 2]!, data[at + 3]!);
    case 5:
      return fromCharCode(data[at]!, data[at + 1]!, data[at + 2]!, data[at + 3]!, data[at + 4]!);
    case 6:
      return fromCharCode(
        data[at]!,
        data[at + 1]!,
        data[at + 2]!,
        data[at + 3]!,
        data[at + 4]!,
        data[at + 5]!,
      );
    case 7:
      return fromCharCode(
        data[at]!,
        data[at + 1]!,
        data[at + 2]!,
        data[at + 3]!,
        data[at + 4]!,
        data[at + 5]!,
        data[at + 6]!,
      );
    default:
      return fromCharCode(
        data[at]!,
        data[at + 1]!,
        data[at + 2]!,
        data[at + 3]!,
        data[at + 4]!,
        data[at + 5]!,
        data[at + 6]!,
        data[at + 7]!,
      );
  }
}

/** Whether `data[start, start + length)` holds exactly `expected`'s bytes. */
export function bytesEqual(data: Uint8Array, start: number, length: number, expected: Uint8Array): boolean {
  if (length !== expected.length) return false;
  for (let i = 0; i < length; i++) if (data[start + i] !== expected[i]) return false;
  return true;
}
