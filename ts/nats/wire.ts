import { Packr } from "msgpackr/pack";
import { CatgaError, describeThrown, ErrorCodes } from "../errors.js";
import type { ContractKind } from "../mediator/contracts.js";
import { type ErrResult, err } from "../mediator/result.js";
import type { Envelope, WireResult } from "../mediator/transport.js";
import { envelopeRead, type ReadExpectations, readEnvelope } from "./envelope-reader.js";
import { type EnvelopeHead, writeEnvelope, writeEnvelopeOf } from "./envelope-writer.js";
import { withoutLegacyOrigin } from "./legacy-origin.js";
import { NOT_PLAIN, unpackPlain } from "./plain-unpacker.js";

/**
 * Envelope encoding on the JS side of the wire. The envelope is plain MessagePack (see
 * docs/architecture/overview.md), so msgpackr writes and reads it directly; Rust frames, compresses and
 * checks it. Measured in benches/core.bench.mjs: encoding envelopes in JS beats crossing N-API
 * with one object per message.
 */
const packr = new Packr({ useRecords: false, int64AsType: "number" });
/**
 * Payloads get their binary fields copied: a Buffer in a handler's payload (or in a reply's
 * result) would otherwise be a view into the whole inbound batch it arrived in (up to MiBs, and
 * Rust's recycled batch buffer), kept alive for as long as the application holds that field.
 * The envelope itself stays zero-copy: its payload bytes are decoded at once and let go.
 */
const payloadPackr = new Packr({ useRecords: false, int64AsType: "number", copyBuffers: true });

/** How a payload becomes bytes; chosen per message type. */
export interface PayloadCodec {
  /** Written into every envelope (`codec`), so the receiver decodes with the same codec. */
  readonly name: string;
  /** A payload (or a reply's result) to bytes; throws on a value it cannot encode. */
  encode(value: unknown): Uint8Array;
  /** Bytes back to the value; `bytes` may be a view into a larger batch, so copy what you keep. */
  decode(bytes: Uint8Array): unknown;
}

/**
 * MessagePack (msgpackr), the default: compact, and Dates, Buffers and typed arrays survive.
 * Binary fields of a decoded payload are copies, never views into the inbound batch.
 */
export const msgpackCodec: PayloadCodec = {
  name: "msgpack",
  encode: (value) => packr.pack(value),
  decode: (bytes) => payloadPackr.unpack(bytes),
};

/** JSON (UTF-8), for types other languages read or write; `undefined` is sent as `null`. */
export const jsonCodec: PayloadCodec = {
  name: "json",
  encode: (value) => Buffer.from(JSON.stringify(value ?? null)),
  decode: (bytes) =>
    JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")),
};

const EMPTY_HEADERS: Envelope["headers"] = Object.freeze({});

/** Replies have no subscription type to compare with, and their ids are not read. */
const REPLY_EXPECTATIONS: ReadExpectations = {
  type: "",
  typeBytes: new Uint8Array(0),
  // A reply is read for its kind and Result only: its ids would be strings nobody reads.
  metadata: false,
};
const REPLY_KIND = 3;
const ERROR_KIND = 4;

const KIND_CODES = { command: 0, query: 1, event: 2, reply: 3, error: 4 } as const;
type WireKind = keyof typeof KIND_CODES;
const KINDS: readonly WireKind[] = ["command", "query", "event", "reply", "error"];

/**
 * An envelope as it travels (docs/architecture/overview.md): the metadata decoded, the payload still the
 * bytes its codec wrote.
 * @inlineType WireKind
 */
export interface WireEnvelope {
  /** What the message is: `command`, `query`, `event`, or a `reply`/`error` answering a request. */
  kind: WireKind;
  /** The contract's type name. */
  type: string;
  /** The message id (UUIDv7 unless the sender chose one); JetStream's dedupe key. */
  messageId: string;
  /**
   * Travels as nil when it equals `messageId` (a root message); decoding puts the messageId back,
   * so a decoded envelope always has one.
   */
  correlationId: string | null;
  /** The id of the message whose handler sent this one; null for a root message. */
  causationId: string | null;
  /** When the message was made, in epoch milliseconds. */
  createdAt: number;
  /** The message's headers (e.g. W3C `traceparent`). */
  headers: Record<string, string>;
  /** The {@link PayloadCodec.name} that encoded `payload`. */
  codec: string;
  /** The payload bytes, to decode with the codec named by `codec`. */
  payload: Uint8Array;
}

export function encodeWire(envelope: WireEnvelope): Buffer {
  return writeEnvelope(
    {
      kindCode: KIND_CODES[envelope.kind],
      type: envelope.type,
      messageId: envelope.messageId,
      correlationId: envelope.correlationId,
      causationId: envelope.causationId,
      createdAt: envelope.createdAt,
      headers: envelope.headers,
      codec: envelope.codec,
    },
    envelope.payload,
  );
}

/**
 * An envelope whose payload is encoded by `codec`. With the MessagePack codec, plain data is
 * packed right behind the envelope's head (see plain-packer.ts); anything else goes to msgpackr.
 */
function encodeEnvelope(head: EnvelopeHead, codec: PayloadCodec, value: unknown): Buffer {
  try {
    if (codec === msgpackCodec) {
      const bytes = writeEnvelopeOf(head, value);
      if (bytes !== undefined) return bytes;
    }
    return writeEnvelope(head, codec.encode(value));
  } catch (error) {
    throw unencodable(head, codec, error);
  }
}

/** A result that could not be encoded, as the failure its caller gets instead (CATGA_ENCODE). */
export function unencodableResult(type: string, error: unknown): ErrResult {
  if (error instanceof CatgaError && error.code === ErrorCodes.ENCODE)
    return err(error.code, error.message, error.details as never);
  return err(ErrorCodes.ENCODE, `the result of ${type} cannot be encoded: ${describeThrown(error)}`);
}

/**
 * What a codec (or the plain packer) throws for a value it cannot write — a stack overflow on a
 * cycle, "Unknown type: symbol", a BigInt in JSON — as CATGA_ENCODE naming the payload (a
 * CatgaError, e.g. a protobuf codec's, keeps its code).
 */
function unencodable(head: EnvelopeHead, codec: PayloadCodec, error: unknown): CatgaError {
  if (error instanceof CatgaError) return error;
  const result = head.kindCode === REPLY_KIND || head.kindCode === ERROR_KIND;
  // A stack overflow is a RangeError without a message of its own worth showing; msgpackr's own
  // RangeErrors (a BigInt past 64 bits, say) say what is wrong.
  const reason =
    error instanceof RangeError && /call stack/i.test(error.message)
      ? "it has a cycle or is nested too deeply"
      : describeThrown(error);
  const field = result ? "result" : "payload";
  return new CatgaError(
    ErrorCodes.ENCODE,
    `the ${field} of ${head.type} cannot be encoded (${codec.name}): ${reason}`,
    {
      details: { field, codec: codec.name },
      cause: error,
    },
  );
}

function isOptionalString(value: unknown): boolean {
  return value === null || value === undefined || typeof value === "string";
}

/** Decodes an envelope the Rust side already checked; still defensive, since JS may be handed anything. */
export function decodeWire(bytes: Uint8Array): WireEnvelope {
  const fields = packr.unpack(bytes) as unknown[];
  if (!Array.isArray(fields) || fields.length !== 10 || fields[0] !== 1) {
    throw new CatgaError(ErrorCodes.DECODE, "not a version-1 Catga envelope");
  }
  const kind = KINDS[fields[1] as number];
  const payload = fields[9];
  if (kind === undefined || typeof fields[2] !== "string" || !(payload instanceof Uint8Array)) {
    throw new CatgaError(ErrorCodes.DECODE, "envelope has a bad kind, type or payload");
  }
  if (!isOptionalString(fields[4]) || !isOptionalString(fields[5])) {
    throw new CatgaError(ErrorCodes.DECODE, "envelope correlationId and causationId must be strings or nil");
  }
  const messageId = String(fields[3]);
  return {
    kind,
    type: fields[2],
    messageId,
    correlationId: (fields[4] as string | null) ?? messageId,
    causationId: (fields[5] as string | null) ?? null,
    createdAt: Number(fields[6]),
    headers: (fields[7] as Record<string, string>) ?? {},
    codec: String(fields[8]),
    payload,
  };
}

/** Maps mediator envelopes to wire envelopes and back, with the payload codec chosen per type. */
export class EnvelopeCodec {
  private lastType: string | undefined;
  private lastCodec: PayloadCodec = msgpackCodec;
  private readonly byName = new Map<string, PayloadCodec>([
    [msgpackCodec.name, msgpackCodec],
    [jsonCodec.name, jsonCodec],
  ]);

  constructor(
    private readonly perType: Readonly<Record<string, PayloadCodec>> = {},
    private readonly fallback: PayloadCodec = msgpackCodec,
  ) {
    for (const codec of Object.values(perType)) this.byName.set(codec.name, codec);
    this.byName.set(fallback.name, fallback);
  }

  private codecFor(type: string): PayloadCodec {
    // Most traffic repeats one type: skip the keyed lookup when it does.
    if (type === this.lastType) return this.lastCodec;
    const codec = this.perType[type] ?? this.fallback;
    this.lastType = type;
    this.lastCodec = codec;
    return codec;
  }

  private codecNamed(name: string): PayloadCodec {
    const codec = this.byName.get(name);
    if (!codec) throw new CatgaError(ErrorCodes.DECODE, `unknown payload codec "${name}"`);
    return codec;
  }

  encodeMessage(envelope: Envelope): Buffer {
    const codec = this.codecFor(envelope.type);
    return encodeEnvelope(
      {
        kindCode: KIND_CODES[envelope.kind],
        type: envelope.type,
        messageId: envelope.messageId,
        correlationId: envelope.correlationId,
        causationId: envelope.causationId ?? null,
        createdAt: envelope.createdAt,
        headers: envelope.headers,
        codec: codec.name,
      },
      codec,
      envelope.payload,
    );
  }

  /**
   * A new root message of `type` (no cause, no caller options): its id is minted into the bytes
   * and its time is the id's, so no id string is ever made for it.
   */
  encodeNew(kind: ContractKind, type: string, headers: Envelope["headers"], payload: unknown): Buffer {
    const codec = this.codecFor(type);
    return encodeEnvelope(
      {
        kindCode: KIND_CODES[kind],
        type,
        messageId: undefined,
        correlationId: null,
        causationId: null,
        createdAt: 0,
        headers,
        codec: codec.name,
      },
      codec,
      payload,
    );
  }

  /**
   * Decodes the payload in `data[start, end)` with the codec named `codec`; plain MessagePack is
   * read in place (plain-unpacker.ts), anything else by the codec from a view.
   */
  decodePayload(codec: string, data: Buffer, start: number, end: number): unknown {
    if (codec === msgpackCodec.name && this.byName.get(codec) === msgpackCodec) {
      const value = unpackPlain(data, start, end);
      if (value !== NOT_PLAIN) return value;
    }
    // A plain Buffer view (not an EnvelopeView): binary fields msgpackr copies out of it are Buffers.
    return decodeWith(this.codecNamed(codec), data.subarray(start, end));
  }

  decodeMessage(bytes: Uint8Array): Envelope {
    const wire = decodeWire(bytes);
    if (wire.kind === "reply" || wire.kind === "error") {
      throw new CatgaError(ErrorCodes.DECODE, `expected a command, query or event, got a ${wire.kind}`);
    }
    return {
      kind: wire.kind as ContractKind,
      type: wire.type,
      messageId: wire.messageId,
      correlationId: wire.correlationId ?? wire.messageId,
      causationId: wire.causationId ?? undefined,
      createdAt: wire.createdAt,
      headers: withoutLegacyOrigin(wire.headers),
      payload: decodeWith(this.codecNamed(wire.codec), wire.payload),
    };
  }

  /** A reply carries the handler's Result as plain data (code and message, never a stack). */
  encodeReply(request: Envelope, result: WireResult): Buffer {
    return this.encodeReplyTo(request.type, request.messageId, request.correlationId, result);
  }

  /** The reply to request `messageId` of `type`: caused by it, in its correlation. */
  encodeReplyTo(type: string, messageId: string, correlationId: string, result: WireResult): Buffer {
    return encodeEnvelope(
      {
        kindCode: KIND_CODES[result.ok ? "reply" : "error"],
        type,
        messageId: undefined,
        correlationId,
        causationId: messageId,
        createdAt: 0,
        headers: EMPTY_HEADERS,
        codec: msgpackCodec.name,
      },
      msgpackCodec,
      result,
    );
  }

  decodeReply(bytes: Buffer): WireResult {
    // In place when it is in the layout Catga writes (envelope-reader.ts); else the generic way.
    if (readEnvelope(bytes, 0, bytes.length, REPLY_EXPECTATIONS)) {
      const read = envelopeRead;
      if (read.kindCode !== REPLY_KIND && read.kindCode !== ERROR_KIND) {
        throw new CatgaError(ErrorCodes.DECODE, `expected a reply, got a ${KINDS[read.kindCode]}`);
      }
      return asWireResult(this.decodePayload(read.codec, bytes, read.payloadStart, read.payloadEnd));
    }
    const wire = decodeWire(bytes);
    if (wire.kind !== "reply" && wire.kind !== "error") {
      throw new CatgaError(ErrorCodes.DECODE, `expected a reply, got a ${wire.kind}`);
    }
    return asWireResult(decodeWith(this.codecNamed(wire.codec), wire.payload));
  }
}

/**
 * A payload codec's decode. A built-in codec's failure is CATGA_DECODE (bytes no retry can fix);
 * a custom codec's error is left as it is (it may be transient, e.g. a schema registry not
 * reachable yet, and is then retried like a handler failure).
 */
function decodeWith(codec: PayloadCodec, bytes: Uint8Array): unknown {
  try {
    return codec.decode(bytes);
  } catch (error) {
    if (error instanceof CatgaError || (codec !== msgpackCodec && codec !== jsonCodec)) throw error;
    throw new CatgaError(
      ErrorCodes.DECODE,
      `the ${codec.name} payload does not decode: ${describeThrown(error)}`,
      {
        cause: error,
      },
    );
  }
}

function asWireResult(value: unknown): WireResult {
  if (typeof value !== "object" || value === null || typeof (value as WireResult).ok !== "boolean") {
    throw new CatgaError(ErrorCodes.DECODE, "reply payload is not a Result");
  }
  return value as WireResult;
}
