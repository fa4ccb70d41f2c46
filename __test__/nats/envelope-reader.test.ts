import { Packr, unpack } from "msgpackr";
import { describe, expect, it } from "vitest";
import { envelopeRead, type ReadExpectations, readEnvelope } from "../../ts/nats/envelope-reader.js";
import { writeEnvelope } from "../../ts/nats/envelope-writer.js";
import { packPlain } from "../../ts/nats/plain-packer.js";
import { NOT_PLAIN, unpackPlain } from "../../ts/nats/plain-unpacker.js";

const msgpackr = new Packr({ useRecords: false, int64AsType: "number" });
/** The header older publishers stamped to make their own service skip an event (issue 14). */
const OLD_ORIGIN = "catga-origin-service";

function expecting(type: string): ReadExpectations {
  return { type, typeBytes: Buffer.from(type) };
}

const head = {
  kindCode: 2,
  type: "orders.placed",
  messageId: "0193a4c2-7d1a-7b3c-9f00-000000000002",
  correlationId: "0193a4c2-7d1a-7b3c-9f00-000000000001",
  causationId: "0193a4c2-7d1a-7b3c-9f00-000000000001",
  createdAt: 1_764_000_000_123,
  headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
  codec: "msgpack",
};

/** Copies `bytes` into a larger buffer at an offset, as envelopes sit inside an inbound batch. */
function inBatch(bytes: Uint8Array): { data: Buffer; start: number } {
  const data = Buffer.alloc(bytes.length + 20, 0xee);
  data.set(bytes, 7);
  return { data, start: 7 };
}

describe("envelope reader", () => {
  it("reads every field in place", () => {
    const { data, start } = inBatch(writeEnvelope(head, Buffer.from([0x81, 0xa1, 0x61, 0x01])));
    expect(readEnvelope(data, start, data.length - 20, expecting("orders.placed"))).toBe(true);
    expect({ ...envelopeRead }).toEqual({
      kindCode: 2,
      type: "orders.placed",
      typeMatches: true,
      messageId: head.messageId,
      correlationId: head.correlationId,
      causationId: head.causationId,
      createdAt: head.createdAt,
      headers: { traceparent: head.headers.traceparent },
      codec: "msgpack",
      payloadStart: envelopeRead.payloadEnd - 4,
      payloadEnd: start + data.length - 20,
    });
    expect(unpackPlain(data, envelopeRead.payloadStart, envelopeRead.payloadEnd)).toEqual({ a: 1 });
  });

  it("tells a type other than the subscription's", () => {
    const bytes = writeEnvelope(head, Buffer.alloc(0));
    expect(readEnvelope(bytes, 0, bytes.length, expecting("orders.shipped"))).toBe(true);
    expect(envelopeRead.typeMatches).toBe(false);
    expect(envelopeRead.type).toBe("orders.placed");
  });

  it("drops an old publisher's origin header, whatever service it names, and keeps the rest", () => {
    const cases: Record<string, string>[] = [
      { [OLD_ORIGIN]: "orders" },
      { a: "1", [OLD_ORIGIN]: "billing", b: "2" },
    ];
    for (const headers of cases) {
      const bytes = writeEnvelope({ ...head, headers }, Buffer.from([0xc0]));
      expect(readEnvelope(bytes, 0, bytes.length, expecting("orders.placed"))).toBe(true);
      const { [OLD_ORIGIN]: _dropped, ...rest } = headers;
      expect(envelopeRead.headers).toEqual(rest);
      expect(envelopeRead.payloadEnd - envelopeRead.payloadStart).toBe(1);
    }
  });

  it("reads non-ASCII strings and a nil correlation", () => {
    const bytes = writeEnvelope(
      { ...head, type: "commandes.passées", correlationId: head.messageId, headers: { "x-é": "ü" } },
      Buffer.alloc(3),
    );
    expect(readEnvelope(bytes, 0, bytes.length, expecting("commandes.passées"))).toBe(true);
    expect(envelopeRead.typeMatches).toBe(true);
    expect(envelopeRead.correlationId).toBeNull();
    expect(envelopeRead.headers).toEqual({ "x-é": "ü" });
  });

  it("with metadata off, skips the ids but still checks the layout and finds the payload", () => {
    const bytes = writeEnvelope({ ...head, messageId: "x-skipped-id" }, Buffer.from([7, 8]));
    const skipping = { ...expecting("orders.placed"), metadata: false };
    envelopeRead.messageId = "before";
    expect(readEnvelope(bytes, 0, bytes.length, skipping)).toBe(true);
    expect(envelopeRead.messageId).toBe("before");
    expect([...bytes.subarray(envelopeRead.payloadStart, envelopeRead.payloadEnd)]).toEqual([7, 8]);
    expect(readEnvelope(bytes.subarray(0, bytes.length - 1), 0, bytes.length - 1, skipping)).toBe(false);
  });

  it("declines what it does not read, so the generic decoder decides (and reports) instead", () => {
    const good = writeEnvelope(head, Buffer.alloc(2));
    const cases: Uint8Array[] = [
      good.subarray(0, good.length - 1), // truncated
      Buffer.concat([good, Buffer.from([0xc0])]), // trailing bytes
      msgpackr.pack([1, 2, "orders.placed", 7, null, null, 0, {}, "msgpack", Buffer.alloc(1)]), // numeric id
      msgpackr.pack([1, 2, "orders.placed", "id", null, null, 0, { a: 1 }, "msgpack", Buffer.alloc(1)]), // header value
      msgpackr.pack([2, 2, "orders.placed", "id", null, null, 0, {}, "msgpack", Buffer.alloc(1)]), // version
      msgpackr.pack([1, 9, "orders.placed", "id", null, null, 0, {}, "msgpack", Buffer.alloc(1)]), // kind
      msgpackr.pack([1, 2, "orders.placed", "id", null, null, 0, {}, "msgpack", "not bin"]), // payload
    ];
    for (const bytes of cases)
      expect(readEnvelope(bytes, 0, bytes.length, expecting("orders.placed"))).toBe(false);
    // Random bytes never throw.
    for (let i = 0; i < 2000; i++) {
      const noise = Buffer.from(Array.from({ length: 1 + (i % 60) }, (_, j) => (i * 31 + j * 17) & 0xff));
      noise[0] = 0x9a;
      noise[1] = 1;
      expect(typeof readEnvelope(noise, 0, noise.length, expecting("orders.placed"))).toBe("boolean");
    }
  });
});

describe("plain-data MessagePack reader", () => {
  it("decodes what the plain writer and msgpackr write to the value msgpackr decodes", () => {
    const target = Buffer.alloc(1 << 16);
    const values = [
      { orderId: "o-1", qty: 3, price: 12.5, tags: ["a", "ü"], nested: { deep: [null, true, false] } },
      { data: Buffer.from([1, 2, 3]) },
      [0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -1, -32, -33, -128, -129, -32768],
      [-32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53), 0.5, -0.25, Number.MAX_VALUE],
      "x".repeat(300),
      Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, i])),
    ];
    for (const value of values) {
      const end = packPlain(value, target, 0);
      expect(unpackPlain(target, 0, end)).toEqual(unpack(target.subarray(0, end)));
      const packed = msgpackr.pack(value);
      expect(unpackPlain(packed, 0, packed.length)).toEqual(msgpackr.unpack(packed));
    }
  });

  it("copies bin values so they do not keep the batch buffer alive", () => {
    const packed = msgpackr.pack({ data: Buffer.from([9, 9]) });
    const value = unpackPlain(packed, 0, packed.length) as { data: Buffer };
    expect(value.data.buffer).not.toBe(packed.buffer);
    expect(Buffer.isBuffer(value.data)).toBe(true);
  });

  it("leaves ext types, float32, __proto__ keys and malformed input to msgpackr", () => {
    const cases = [
      msgpackr.pack(new Date(0)),
      msgpackr.pack({ missing: undefined }),
      Buffer.from([0xca, 0x3f, 0x80, 0x00, 0x00]), // float32 1.0
      Buffer.from([0x81, 0xa9, ...Buffer.from("__proto__"), 0x01]),
      Buffer.from([0x81, 0x01, 0x02]), // integer key
      Buffer.from([0x92, 0x01]), // truncated array
      Buffer.from([0x01, 0x02]), // trailing bytes
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // count beyond the input
    ];
    for (const bytes of cases) expect(unpackPlain(bytes, 0, bytes.length)).toBe(NOT_PLAIN);
  });
});
