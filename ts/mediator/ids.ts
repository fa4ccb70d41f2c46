import { randomFillSync } from "node:crypto";

// UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, version 7, 12-bit sequence (method 1 "fixed-length
// dedicated counter"), variant 10, 62 random bits. The counter makes ids strictly increasing within
// this process even when many are made in the same millisecond.
//
// Cost, measured on the session-12 VM (benches/RESULTS.md): building the id from 20 hex pieces
// took ~380 ns, and V8 flattened the resulting rope again (~160 ns) when the envelope writer read
// it. So the id is kept as 36 ASCII bytes in `template`:
// the timestamp is written once per millisecond, the sequence and 62 random bits (from a pooled
// `randomFillSync`) per id. A wire writer copies the bytes (`writeUuidv7`, no string at all);
// `uuidv7()` makes a flat string from them in one native call.

const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const hex = i.toString(16).padStart(2, "0");
  HEX_CODES[2 * i] = hex.charCodeAt(0);
  HEX_CODES[2 * i + 1] = hex.charCodeAt(1);
}
const DASH = 45;

// Random bytes are drawn in blocks: one syscall per ~500 ids, not one per id.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

function randomByteOffset(count: number): number {
  if (poolOffset + count > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += count;
  return at;
}

/** The current id as ASCII: `tttttttt-tttt-7sss-vrrr-rrrrrrrrrrrr`. */
const template = Buffer.alloc(36);
let lastMs = 0;
let sequence = 0;

/** Timestamp encoded in the latest id, so a message's createdAt matches its id. */
export const idClock = { ms: 0 };

function writeHexByte(offset: number, value: number): void {
  template[offset] = HEX_CODES[2 * value]!;
  template[offset + 1] = HEX_CODES[2 * value + 1]!;
}

/** Writes the timestamp for millisecond `ms` and a starting sequence. */
function startMillisecond(ms: number, startSequence: number): void {
  lastMs = ms;
  sequence = startSequence;
  const hi = Math.floor(ms / 0x1000000); // top 24 bits of the 48-bit timestamp
  const lo = ms % 0x1000000; // bottom 24 bits
  writeHexByte(0, (hi >>> 16) & 0xff);
  writeHexByte(2, (hi >>> 8) & 0xff);
  writeHexByte(4, hi & 0xff);
  writeHexByte(6, (lo >>> 16) & 0xff);
  template[8] = DASH;
  writeHexByte(9, (lo >>> 8) & 0xff);
  writeHexByte(11, lo & 0xff);
  template[13] = DASH;
  template[18] = DASH;
  template[23] = DASH;
}

/** Advances to the next id: its sequence and its own 62 random bits go into `template`. */
function advance(): void {
  const ms = Date.now();
  if (ms > lastMs) {
    // Start below the midpoint so there is room to count up within this millisecond.
    startMillisecond(ms, pool[randomByteOffset(1)]! & 0x7ff);
  } else {
    sequence++;
    // Counter exhausted: borrow the next millisecond rather than repeat or go backwards.
    if (sequence > 0xfff) startMillisecond(lastMs + 1, 0);
  }
  idClock.ms = lastMs;
  writeHexByte(14, 0x70 | (sequence >>> 8));
  writeHexByte(16, sequence & 0xff);
  // Random per id, not per millisecond: ids of one millisecond sharing their tail made a frame of
  // envelopes ~30 % compressible, and the engine then spent ~0.9 µs per envelope on zstd.
  const r = randomByteOffset(8);
  writeHexByte(19, 0x80 | (pool[r]! & 0x3f));
  writeHexByte(21, pool[r + 1]!);
  for (let i = 0; i < 6; i++) writeHexByte(24 + 2 * i, pool[r + 2 + i]!);
}

const latin1Slice: (this: Buffer, start: number, end: number) => string = (
  Buffer.prototype as unknown as { latin1Slice: (start: number, end: number) => string }
).latin1Slice;

/** A new time-ordered UUIDv7 string, e.g. `0192f1c4-7a3e-7c01-9b2d-4f6a0c8e1d23`. */
export function uuidv7(): string {
  advance();
  return latin1Slice.call(template, 0, 36);
}

/** `Uint8Array.prototype.set`, called directly (see `copyInto` in ts/nats/batcher.ts). */
const copyInto: (target: Uint8Array, source: Uint8Array, offset: number) => void =
  Function.prototype.call.bind(Uint8Array.prototype.set) as never;

/** Writes a new UUIDv7 as 36 ASCII bytes at `offset` (for wire writers: no string is made). */
export function writeUuidv7(target: Uint8Array, offset: number): void {
  advance();
  copyInto(target, template, offset);
}

/** Milliseconds since the epoch encoded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
