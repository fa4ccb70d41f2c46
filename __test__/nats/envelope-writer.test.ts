import { isDeepStrictEqual } from "node:util";
import { Packr, unpack } from "msgpackr";
import { describe, expect, it } from "vitest";
import { uuidv7, uuidv7Time } from "../../ts/mediator/ids.js";
import { decodeEnvelope } from "../../ts/native/codec.js";
import { writeEnvelope, writeEnvelopeOf } from "../../ts/nats/envelope-writer.js";
import { NO_ROOM, NOT_PLAIN, packPlain } from "../../ts/nats/plain-packer.js";
import { decodeWire, EnvelopeCodec, type PayloadCodec } from "../../ts/nats/wire.js";

const msgpackr = new Packr({ useRecords: false, int64AsType: "number" });

/** A deterministic generator, so a failing value can be reproduced from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
}

const SAMPLE_STRINGS = [
  "",
  "a",
  "orders.placed",
  "é",
  "日本語",
  "emoji 🎉",
  "x".repeat(31),
  "y".repeat(40),
  "z".repeat(300),
];

function plainValue(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 3 ? 6 : 9));
  switch (pick) {
    case 0:
      return SAMPLE_STRINGS[Math.floor(next() * SAMPLE_STRINGS.length)];
    case 1: {
      const magnitudes = [1, 100, 300, 70_000, 5_000_000_000, 2 ** 53];
      const n = Math.floor(next() * magnitudes[Math.floor(next() * magnitudes.length)]!);
      return next() < 0.3 ? -n : n;
    }
    case 2:
      return next() * 1000 - 500;
    case 3:
      return next() < 0.5;
    case 4:
      return null;
    case 5:
      return Buffer.from(Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256)));
    case 6:
      return Array.from({ length: Math.floor(next() * 20) }, () => plainValue(next, depth + 1));
    default: {
      const record: Record<string, unknown> = {};
      const keys = Math.floor(next() * 20);
      for (let i = 0; i < keys; i++) record[`k${i}${SAMPLE_STRINGS[i % 5]}`] = plainValue(next, depth + 1);
      return record;
    }
  }
}

describe("plain-data MessagePack writer", () => {
  it("writes bytes msgpackr reads back to the value msgpackr itself would give, for 2,000 random values", () => {
    const target = Buffer.alloc(1 << 20);
    for (let seed = 1; seed <= 2000; seed++) {
      const value = plainValue(random(seed), 0);
      const end = packPlain(value, target, 0);
      expect(end, `seed ${seed}`).toBeGreaterThan(0);
      expect(unpack(target.subarray(0, end)), `seed ${seed}`).toEqual(unpack(msgpackr.pack(value)));
    }
  });

  it("gives up on what is not plain data, so msgpackr keeps its own encoding of it", () => {
    const target = Buffer.alloc(256);
    for (const value of [
      undefined,
      { note: undefined },
      // biome-ignore lint/suspicious/noSparseArray: a hole is the case under test
      [1, , 3],
      new Date(0),
      new Map([["a", 1]]),
      new Set([1]),
      10n,
      Object.create(null),
      new (class Order {})(),
      () => 1,
      new Uint16Array(2),
    ]) {
      expect(packPlain(value, target, 0)).toBe(NOT_PLAIN);
    }
  });

  it("reports when the value does not fit instead of writing past the end", () => {
    const target = Buffer.alloc(16);
    expect(packPlain({ text: "x".repeat(40) }, target, 0)).toBe(NO_ROOM);
    expect(packPlain(Buffer.alloc(20), target, 0)).toBe(NO_ROOM);
  });

  it("keeps NaN, fractions and integers beyond 32 bits exact, and -0 becomes 0 as in msgpackr", () => {
    const target = Buffer.alloc(64);
    const end = packPlain([-0, Number.NaN, 2 ** 40, -(2 ** 40), 0.1], target, 0);
    const back = unpack(target.subarray(0, end)) as number[];
    expect(Object.is(back[0], 0)).toBe(true);
    expect(back.slice(1)).toEqual([Number.NaN, 2 ** 40, -(2 ** 40), 0.1]);
  });
});

describe("envelope writer", () => {
  const head = {
    kindCode: 2,
    type: "orders.placed",
    messageId: "0193a4c2-7d1a-7b3c-9f00-000000000001",
    correlationId: "0193a4c2-7d1a-7b3c-9f00-000000000001",
    causationId: null,
    createdAt: 1_764_000_000_123,
    headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x-ü": "ß" },
    codec: "msgpack",
  };

  it("writes what msgpackr and the Rust decoder read, nil for a root message's correlation", () => {
    const bytes = writeEnvelope(head, Buffer.from([1, 2, 3]));
    expect(unpack(bytes)).toEqual([
      1,
      2,
      "orders.placed",
      head.messageId,
      null,
      null,
      head.createdAt,
      head.headers,
      "msgpack",
      Buffer.from([1, 2, 3]),
    ]);
    const native = decodeEnvelope(bytes);
    expect(native.messageId).toBe(head.messageId);
    expect(native.createdAtMs).toBe(head.createdAt);
  });

  it("packs a plain payload in place with the smallest bin header, for every payload size class", () => {
    for (const size of [0, 10, 250, 300, 70_000]) {
      const value = { data: Buffer.alloc(size, 7) };
      const bytes = writeEnvelopeOf(head, value)!;
      const fields = unpack(bytes) as unknown[];
      expect(unpack(fields[9] as Buffer)).toEqual(value);
      const packed = Buffer.alloc(size + 64);
      const packedLength = packPlain(value, packed, 0);
      const binHeader = packedLength < 256 ? 2 : packedLength < 65536 ? 3 : 5;
      expect(bytes.length).toBe(writeEnvelope(head, new Uint8Array(packedLength)).length);
      expect(bytes[bytes.length - packedLength - binHeader]).toBe(
        binHeader === 2 ? 0xc4 : binHeader === 3 ? 0xc5 : 0xc6,
      );
    }
  });

  it("leaves earlier envelopes intact while later ones are written (views stay valid)", () => {
    const first = writeEnvelopeOf(head, { n: 1 })!;
    const copy = Buffer.from(first);
    for (let i = 0; i < 5000; i++) writeEnvelopeOf(head, { n: i, pad: "p".repeat(100) });
    expect(Buffer.compare(first, copy)).toBe(0);
  });

  it("mints a time-ordered id into the bytes of a new message", () => {
    const codec = new EnvelopeCodec();
    const a = decodeWire(codec.encodeNew("event", "orders.placed", {}, { n: 1 }));
    const b = decodeWire(codec.encodeNew("event", "orders.placed", {}, { n: 2 }));
    expect(a.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b.messageId > a.messageId).toBe(true);
    expect(a.correlationId).toBe(a.messageId);
    expect(Math.abs(a.createdAt - Date.now())).toBeLessThan(5000);
  });

  it("falls back to msgpackr for payloads that are not plain data", () => {
    const codec = new EnvelopeCodec();
    const value = { when: new Date(1_764_000_000_000), missing: undefined, tags: new Set(["a"]) };
    const decoded = codec.decodeMessage(codec.encodeNew("event", "orders.placed", {}, value));
    expect(decoded.payload).toEqual(unpack(msgpackr.pack(value)));
    expect((decoded.payload as { when: Date }).when).toEqual(value.when);
  });
});

describe("envelope writer: what callers may hand it (found by a reviewer)", () => {
  const codec = new EnvelopeCodec();

  it("keeps both envelopes whole when a payload getter encodes another message mid-write", () => {
    let inner: Buffer | undefined;
    const outer = codec.encodeNew(
      "event",
      "outer",
      {},
      {
        a: "first",
        get b() {
          inner = codec.encodeNew("event", "inner", {}, { x: "in" });
          return "second";
        },
      },
    );
    expect(codec.decodeMessage(outer).payload).toEqual({ a: "first", b: "second" });
    expect(codec.decodeMessage(inner!).payload).toEqual({ x: "in" });
  });

  it("sends header values that are not strings as msgpackr did (undefined stays undefined)", () => {
    const headers = { traceparent: undefined, tenant: null, plain: "v" } as unknown as Record<string, string>;
    const decoded = codec.decodeMessage(
      codec.encodeMessage({
        kind: "event",
        type: "t",
        messageId: "m",
        correlationId: "m",
        causationId: undefined,
        createdAt: 1,
        headers,
        payload: {},
      }),
    );
    expect(decoded.headers).toEqual({ traceparent: undefined, tenant: null, plain: "v" });
  });

  it("writes a numeric id as its text, and the bytes of any typed array a codec returns", () => {
    const floats: PayloadCodec = {
      name: "floats",
      encode: () => new Float32Array([1.5, 2.5]) as unknown as Uint8Array,
      decode: (bytes) => bytes.length,
    };
    const withFloats = new EnvelopeCodec({ t: floats });
    const bytes = withFloats.encodeMessage({
      kind: "event",
      type: "t",
      messageId: 123 as unknown as string,
      correlationId: 123 as unknown as string,
      causationId: undefined,
      createdAt: 1,
      headers: {},
      payload: {},
    });
    const decoded = withFloats.decodeMessage(bytes);
    expect(decoded.messageId).toBe("123");
    expect(decoded.payload).toBe(8);
  });

  it("copies decoded binary fields out of the received bytes, which may then be reused", () => {
    const bytes = codec.encodeNew("event", "t", {}, { image: Buffer.from([1, 2, 3, 4]) });
    const payload = Buffer.from((unpack(bytes) as unknown[])[9] as Buffer);
    const { image } = codec.decodePayload("msgpack", payload, 0, payload.length) as Record<string, Buffer>;
    payload.fill(0);
    expect(Buffer.isBuffer(image)).toBe(true);
    // Still [1, 2, 3, 4] after the received bytes were zeroed: a copy, not a view of them.
    expect([...image!]).toEqual([1, 2, 3, 4]);
    // A plain Buffer, equal to one made any other way.
    expect(Object.getPrototypeOf(image)).toBe(Buffer.prototype);
    expect(isDeepStrictEqual(image, Buffer.from([1, 2, 3, 4]))).toBe(true);
  });

  it("stamps each id with the time it was made, even within one synchronous run", () => {
    uuidv7();
    const until = Date.now() + 30;
    while (Date.now() < until) {
      // a handler busy for 30 ms before it sends
    }
    expect(Math.abs(uuidv7Time(uuidv7()) - Date.now())).toBeLessThanOrEqual(2);
  });
});
