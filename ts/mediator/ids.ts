import { randomFillSync } from "node:crypto";

// UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, version 7, 12-bit sequence (method 1 "fixed-length
// dedicated counter"), variant 10, 62 random bits. The counter makes ids strictly increasing within
// this process even when many are made in the same millisecond.

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

// Random bytes are drawn in blocks: one syscall per 512 ids instead of one per id.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

let lastMs = 0;
let sequence = 0;

/** Timestamp encoded in the latest `uuidv7()` id, so a message's createdAt matches its id. */
export const idClock = { ms: 0 };

function randomBytes8(): number {
  if (poolOffset + 8 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 8;
  return at;
}

/** A new time-ordered UUIDv7 string, e.g. `0192f1c4-7a3e-7c01-9b2d-4f6a0c8e1d23`. */
export function uuidv7(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    // Start below the midpoint so there is room to count up within this millisecond.
    sequence = pool[randomBytes8()]! & 0x7ff;
  } else {
    ms = lastMs;
    sequence++;
    if (sequence > 0xfff) {
      // Counter exhausted: borrow the next millisecond rather than repeat or go backwards.
      lastMs = ++ms;
      sequence = 0;
    }
  }
  idClock.ms = ms;
  const r = randomBytes8();
  const hi = Math.floor(ms / 0x1000000); // top 24 bits of the 48-bit timestamp
  const lo = ms % 0x1000000; // bottom 24 bits
  return (
    HEX[(hi >>> 16) & 0xff]! +
    HEX[(hi >>> 8) & 0xff]! +
    HEX[hi & 0xff]! +
    HEX[(lo >>> 16) & 0xff]! +
    "-" +
    HEX[(lo >>> 8) & 0xff]! +
    HEX[lo & 0xff]! +
    "-" +
    HEX[0x70 | (sequence >>> 8)]! +
    HEX[sequence & 0xff]! +
    "-" +
    HEX[0x80 | (pool[r]! & 0x3f)]! +
    HEX[pool[r + 1]!]! +
    "-" +
    HEX[pool[r + 2]!]! +
    HEX[pool[r + 3]!]! +
    HEX[pool[r + 4]!]! +
    HEX[pool[r + 5]!]! +
    HEX[pool[r + 6]!]! +
    HEX[pool[r + 7]!]!
  );
}

/** Milliseconds since the epoch encoded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
