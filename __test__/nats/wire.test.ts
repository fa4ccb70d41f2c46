import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../ts/mediator/transport.js";
import { decodeEnvelope } from "../../ts/native/codec.js";
import { decodeWire, EnvelopeCodec } from "../../ts/nats/wire.js";

const ROOT_ID = "0193a4c2-7d1a-7b3c-9f00-000000000001";

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    kind: "command",
    type: "orders.place",
    messageId: ROOT_ID,
    correlationId: ROOT_ID,
    causationId: undefined,
    createdAt: 1_764_000_000_000,
    headers: {},
    payload: { orderId: "o-1" },
    ...overrides,
  };
}

describe("wire envelope: correlation of a root message", () => {
  const codec = new EnvelopeCodec();

  it("travels as nil when it equals the messageId, and decodes back to the messageId", () => {
    const root = codec.encodeMessage(envelope());
    const caused = codec.encodeMessage(envelope({ correlationId: "0193a4c2-7d1a-7b3c-9f00-00000000000f" }));
    // Same length ids, so the only difference is the repeated id: str8 header + 36 chars vs nil.
    expect(caused.length - root.length).toBe(37);
    expect(decodeWire(root).correlationId).toBe(ROOT_ID);
    expect(codec.decodeMessage(root).correlationId).toBe(ROOT_ID);
    // The Rust decoder reads the same bytes: nil is a valid (absent) correlation there.
    const native = decodeEnvelope(root);
    expect(native.messageId).toBe(ROOT_ID);
    expect(native.correlationId).toBeUndefined();
  });

  it("keeps a correlation that differs from the messageId", () => {
    const bytes = codec.encodeMessage(envelope({ messageId: "child-1", causationId: ROOT_ID }));
    const decoded = codec.decodeMessage(bytes);
    expect(decoded.correlationId).toBe(ROOT_ID);
    expect(decoded.causationId).toBe(ROOT_ID);
    expect(decodeEnvelope(bytes).correlationId).toBe(ROOT_ID);
  });

  it("reads envelopes of earlier builds that repeated the id", () => {
    // What 0.1.0 wrote for a root message: the id twice.
    const legacy = new Packr({ useRecords: false }).pack([
      1,
      0,
      "orders.place",
      ROOT_ID,
      ROOT_ID,
      null,
      1_764_000_000_000,
      {},
      "json",
      Buffer.from("{}"),
    ]);
    const decoded = codec.decodeMessage(legacy);
    expect(decoded.correlationId).toBe(ROOT_ID);
    expect(decoded.payload).toEqual({});
  });
});

describe("wire envelope: the origin header of earlier builds (issue 14)", () => {
  const codec = new EnvelopeCodec();
  const pack = (headers: unknown) =>
    new Packr({ useRecords: false }).pack([
      1,
      2,
      "orders.placed",
      ROOT_ID,
      null,
      null,
      0,
      headers,
      "json",
      Buffer.from("{}"),
    ]);

  it("is dropped from decoded headers, the others kept", () => {
    const decoded = codec.decodeMessage(pack({ "catga-origin-service": "orders", traceparent: "t" }));
    expect(decoded.headers).toEqual({ traceparent: "t" });
    const plain = { traceparent: "t" };
    expect(codec.decodeMessage(codec.encodeMessage(envelope({ headers: plain }))).headers).toEqual(plain);
  });

  it("headers that are no object (a foreign sender's) decode as before", () => {
    expect(codec.decodeMessage(pack("catga-origin-service")).headers).toBe("catga-origin-service");
    expect(codec.decodeMessage(pack(null)).headers).toEqual({});
  });
});

describe("wire envelope: payload bytes", () => {
  it("a Buffer inside a decoded payload is its own copy, not a view into the batch it came in", () => {
    const codec = new EnvelopeCodec();
    const blob = Buffer.from("attachment bytes");
    const bytes = codec.encodeMessage(envelope({ payload: { blob } }));
    // As delivered: one view into a much larger inbound batch buffer.
    const batch = Buffer.alloc(1 << 20);
    bytes.copy(batch, 4096);
    const view = batch.subarray(4096, 4096 + bytes.length);
    const decoded = codec.decodeMessage(view).payload as { blob: Uint8Array };
    expect(Buffer.from(decoded.blob).toString()).toBe("attachment bytes");
    expect(decoded.blob.buffer).not.toBe(batch.buffer);
    expect(decoded.blob.byteLength).toBe(blob.length);
  });
});
