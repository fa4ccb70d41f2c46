import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import {
  decodeBatch,
  decodeEnvelope,
  type EnvelopeInit,
  encodeBatch,
  encodeEnvelope,
  frameEncoded,
  zstdCompress,
  zstdDecompress,
} from "../../ts/entries/wire.js";
import { CatgaError } from "../../ts/index.js";

function envelope(i: number, payloadSize = 32): EnvelopeInit {
  return {
    kind: "command",
    type: "orders.place",
    messageId: `0193-${i}`,
    correlationId: "corr-1",
    causationId: i > 0 ? `0193-${i - 1}` : undefined,
    createdAtMs: 1_764_000_000_000 + i,
    headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    codec: "json",
    payload: Buffer.from(JSON.stringify({ orderId: `o-${i}`, note: "x".repeat(payloadSize) })),
  };
}

function expectCode(fn: () => unknown, code: string, messagePart?: RegExp): CatgaError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CatgaError);
    const e = error as CatgaError;
    expect(e.code).toBe(code);
    if (messagePart) expect(e.message).toMatch(messagePart);
    return e;
  }
  throw new Error(`expected ${code} to be thrown`);
}

describe("envelope codec", () => {
  it("round-trips every field", () => {
    const input = envelope(1);
    const decoded = decodeEnvelope(encodeEnvelope(input));
    expect(decoded).toEqual({ ...input, payload: Buffer.from(input.payload) });
  });

  it("accepts a plain Uint8Array payload", () => {
    const payload = new Uint8Array([1, 2, 3]);
    const decoded = decodeEnvelope(encodeEnvelope({ ...envelope(0), payload }));
    expect([...decoded.payload]).toEqual([1, 2, 3]);
  });

  it("interoperates with a JS MessagePack encoder (the wire format is plain MessagePack)", () => {
    const packr = new Packr({ useRecords: false });
    const bytes = packr.pack([
      1,
      2,
      "orders.placed",
      "m-1",
      "c-1",
      null,
      Date.now(),
      { a: "b" },
      "msgpack",
      Buffer.from([9]),
    ]);
    const decoded = decodeEnvelope(bytes);
    expect(decoded.kind).toBe("event");
    expect(decoded.headers).toEqual({ a: "b" });
    const back = packr.unpack(encodeEnvelope(envelope(2))) as unknown[];
    expect(back.slice(0, 4)).toEqual([1, 0, "orders.place", "0193-2"]);
  });
});

describe("batch frames", () => {
  it("round-trips a batch with zero-copy payload views into the frame", () => {
    const inputs = Array.from({ length: 5 }, (_, i) => envelope(i, 4));
    const frame = encodeBatch(inputs);
    expect(frame.subarray(0, 4).toString()).toBe("CTG1");
    const decoded = decodeBatch(frame);
    expect(decoded.map((d) => d.messageId)).toEqual(inputs.map((i) => i.messageId));
    expect(decoded[3]!.payload.toString()).toBe(Buffer.from(inputs[3]!.payload).toString());
    // Views share the frame's memory: no copy was made.
    expect(decoded[0]!.payload.buffer).toBe(frame.buffer);
  });

  it("compresses above the threshold only, and decodes compressed frames", () => {
    const inputs = Array.from({ length: 128 }, (_, i) => envelope(i, 256));
    const compressed = encodeBatch(inputs);
    expect(compressed[5]).toBe(1);
    const raw = encodeBatch(inputs, { compressionThreshold: Number.POSITIVE_INFINITY });
    expect(raw[5]).toBe(0);
    expect(compressed.length).toBeLessThan(raw.length / 3);
    expect(decodeBatch(compressed).map((d) => d.payload.toString())).toEqual(
      decodeBatch(raw).map((d) => d.payload.toString()),
    );
  });

  it("frames pre-encoded envelopes", () => {
    const frame = frameEncoded([encodeEnvelope(envelope(0)), encodeEnvelope(envelope(1))]);
    expect(decodeBatch(frame).map((d) => d.messageId)).toEqual(["0193-0", "0193-1"]);
  });
});

describe("bad input gets a typed error", () => {
  const frame = encodeBatch([envelope(0), envelope(1)]);

  it("wrong magic → CATGA_DECODE", () => {
    const bad = Buffer.from(frame);
    bad[0] = 0x58;
    expectCode(() => decodeBatch(bad), "CATGA_DECODE", /magic/);
  });

  it("every truncation → CATGA_DECODE", () => {
    for (let cut = 0; cut < frame.length; cut++) {
      expectCode(() => decodeBatch(frame.subarray(0, cut)), "CATGA_DECODE");
    }
  });

  it("unknown frame version → CATGA_UNSUPPORTED_VERSION", () => {
    const bad = Buffer.from(frame);
    bad[4] = 2;
    expectCode(() => decodeBatch(bad), "CATGA_UNSUPPORTED_VERSION", /version 2/);
  });

  it("oversized frame and too many messages → CATGA_LIMIT", () => {
    expectCode(() => decodeBatch(frame, { maxBatchBytes: 16 }), "CATGA_LIMIT", /batch size/);
    expectCode(() => decodeBatch(frame, { maxBatchCount: 1 }), "CATGA_LIMIT", /message count/);
    expectCode(() => encodeBatch([envelope(0, 2000)], { limits: { maxEnvelopeBytes: 512 } }), "CATGA_LIMIT");
  });

  it("zip bomb → CATGA_LIMIT or CATGA_COMPRESSION, never an allocation past the cap", () => {
    const bomb = zstdCompress(Buffer.alloc(8 * 1024 * 1024));
    const header = Buffer.from([0x43, 0x54, 0x47, 0x31, 1, 1, 1, 0, 0, 0]);
    const declared = Buffer.alloc(4);
    declared.writeUInt32LE(8 * 1024 * 1024);
    const frameBomb = Buffer.concat([header, declared, bomb]);
    expectCode(
      () => decodeBatch(frameBomb, { maxDecompressedBytes: 1024 * 1024 }),
      "CATGA_LIMIT",
      /decompressed/,
    );
    declared.writeUInt32LE(1024);
    expectCode(() => decodeBatch(Buffer.concat([header, declared, bomb])), "CATGA_COMPRESSION");
    expectCode(() => zstdDecompress(bomb, 1024), "CATGA_COMPRESSION");
  });

  it("invalid options and fields name what was wrong", () => {
    expectCode(
      () => encodeBatch([envelope(0)], { compressionLevel: 99 }),
      "CATGA_INVALID_ARGUMENT",
      /compressionLevel/,
    );
    expectCode(() => decodeBatch(frame, { maxBatchCount: 0 }), "CATGA_INVALID_ARGUMENT", /maxBatchCount/);
    expectCode(() => decodeBatch(frame, { maxBatchBytes: -1 }), "CATGA_INVALID_ARGUMENT", /maxBatchBytes/);
    expectCode(
      () => encodeBatch([envelope(0), { ...envelope(1), createdAtMs: -5 }]),
      "CATGA_INVALID_ARGUMENT",
      /envelopes\[1\]\.createdAtMs/,
    );
    const wrongType = { ...envelope(0), type: 42 } as unknown as EnvelopeInit;
    expectCode(() => encodeBatch([wrongType]), "CATGA_INVALID_ARGUMENT", /type/);
    const wrongKind = { ...envelope(0), kind: "shout" } as unknown as EnvelopeInit;
    expectCode(() => encodeEnvelope(wrongKind), "CATGA_INVALID_ARGUMENT", /kind/);
    // Numbers napi would wrap (NaN → 0, 2**32 + 1 → 1) and bytes that are not bytes.
    for (const level of [Number.NaN, 2 ** 32 + 1, 1.5]) {
      expectCode(
        () => encodeBatch([envelope(0)], { compressionLevel: level }),
        "CATGA_INVALID_ARGUMENT",
        /compressionLevel/,
      );
      expectCode(() => zstdCompress(Buffer.from("x"), level), "CATGA_INVALID_ARGUMENT", /level/);
    }
    const noPayload = { ...envelope(0), payload: undefined } as unknown as EnvelopeInit;
    expectCode(() => encodeEnvelope(noPayload), "CATGA_INVALID_ARGUMENT", /payload/);
    const textPayload = { ...envelope(0), payload: "text" } as unknown as EnvelopeInit;
    expectCode(() => encodeEnvelope(textPayload), "CATGA_INVALID_ARGUMENT", /payload/);
    expectCode(() => decodeEnvelope("abc" as unknown as Uint8Array), "CATGA_INVALID_ARGUMENT", /bytes/);
    // A misspelt option or field would keep its default silently (a limit not applied).
    expectCode(
      () => decodeBatch(frame, { maxBatchCont: 1 } as never),
      "CATGA_INVALID_ARGUMENT",
      /limits\.maxBatchCont is not an option/,
    );
    expectCode(
      () => encodeBatch([envelope(0)], { compressionTreshold: 10 } as never),
      "CATGA_INVALID_ARGUMENT",
      /options\.compressionTreshold/,
    );
    expectCode(
      () => encodeBatch([envelope(0)], { limits: { maxEnvelopBytes: 10 } } as never),
      "CATGA_INVALID_ARGUMENT",
      /options\.limits\.maxEnvelopBytes/,
    );
    expectCode(
      () => encodeBatch([envelope(0), { ...envelope(1), mesageId: "x" } as never]),
      "CATGA_INVALID_ARGUMENT",
      /envelopes\[1\]\.mesageId/,
    );
    for (const field of ["type", "messageId"] as const)
      expectCode(
        () => encodeBatch([envelope(0), { ...envelope(1), [field]: "" }]),
        "CATGA_INVALID_ARGUMENT",
        new RegExp(`envelopes\\[1\\]\\.${field} must be a non-empty string`),
      );
  });

  it("random bytes never crash the process", () => {
    let seed = 42;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.alloc(next() % 300);
      for (let j = 0; j < bytes.length; j++) bytes[j] = next() & 0xff;
      if (i % 2 === 0 && bytes.length >= 4) bytes.write("CTG1", 0);
      for (const decode of [decodeBatch, decodeEnvelope]) {
        try {
          decode(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(CatgaError);
        }
      }
    }
  });
});
