import { checkArgument, integer } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import { asBuffer, I32_MAX, I32_MIN } from "./arguments.js";
import type { FrameOptionsInput, LimitsInput } from "./binding.generated.js";
import { callNative } from "./errors.js";
import { native } from "./loader.js";

/** What a message is for; travels in the envelope. */
export type MessageKind = "command" | "query" | "event" | "reply" | "error";

/**
 * Size and count caps for decoding (and encoding), all in bytes or envelopes; unset fields keep
 * the defaults: `maxEnvelopeBytes` 1 MiB, `maxBatchCount` 4096, `maxBatchBytes` 16 MiB,
 * `maxDecompressedBytes` 16 MiB. Past a cap the call fails with CATGA_LIMIT.
 * @interface
 */
export type CodecLimits = LimitsInput;
/**
 * How batches are framed: bodies above `compressionThreshold` bytes (default 1024; `Infinity`
 * disables) are zstd-compressed at `compressionLevel` (default 1) when that makes them smaller;
 * `limits` as in {@link CodecLimits}.
 * @interface
 */
export type FrameOptions = FrameOptionsInput;

/** An envelope to encode. `payload` is already encoded by the message type's codec. */
export interface EnvelopeInit {
  kind: MessageKind;
  type: string;
  messageId: string;
  correlationId?: string;
  causationId?: string;
  /** Milliseconds since the Unix epoch. */
  createdAtMs?: number;
  headers?: Record<string, string>;
  /** Payload codec name, `msgpack` by default. */
  codec?: string;
  payload: Uint8Array;
}

/** A decoded envelope. From `decodeBatch`, `payload` is a view into the frame, not a copy. */
export interface DecodedEnvelope {
  kind: MessageKind;
  type: string;
  messageId: string;
  /** Absent when the wire carries nil: for a root message the correlation is its messageId. */
  correlationId?: string;
  causationId?: string;
  createdAtMs: number;
  headers: Record<string, string>;
  codec: string;
  payload: Buffer;
}

const FRAME_OPTION_KEYS = new Set(["compressionThreshold", "compressionLevel", "limits"]);
const LIMIT_KEYS = new Set(["maxEnvelopeBytes", "maxBatchCount", "maxBatchBytes", "maxDecompressedBytes"]);
const ENVELOPE_KEYS = new Set([
  "kind",
  "type",
  "messageId",
  "correlationId",
  "causationId",
  "createdAtMs",
  "headers",
  "codec",
  "payload",
]);
const KINDS = new Set(["command", "query", "event", "reply", "error"]);

/** A misspelt option would silently keep its default (a limit not applied): refused by name. */
function knownKeys(what: string, value: unknown, known: ReadonlySet<string>): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "object") throw invalid(what, `${what} must be an object, got ${typeof value}`);
  for (const key of Object.keys(value))
    if (!known.has(key))
      throw invalid(
        `${what}.${key}`,
        `${what}.${key} is not an option (expected one of: ${[...known].join(", ")})`,
      );
}

function checkFrameOptions(options: FrameOptions | undefined): void {
  knownKeys("options", options, FRAME_OPTION_KEYS);
  knownKeys("options.limits", options?.limits, LIMIT_KEYS);
  checkArgument(
    "options.compressionLevel",
    options?.compressionLevel ?? undefined,
    integer(I32_MIN, I32_MAX),
  );
}

function invalid(field: string, message: string): CatgaError {
  return new CatgaError(ErrorCodes.INVALID_ARGUMENT, message, { details: { field } });
}

type NativeEnvelope = Parameters<ReturnType<typeof native>["encodeEnvelopeNative"]>[0];

function toNative(envelope: EnvelopeInit, at = "envelope"): NativeEnvelope {
  if (typeof envelope !== "object" || envelope === null) {
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `${at} must be an object`, { details: { field: at } });
  }
  knownKeys(at, envelope, ENVELOPE_KEYS);
  if (!KINDS.has(envelope.kind))
    throw invalid(
      `${at}.kind`,
      `${at}.kind must be one of ${[...KINDS].join(", ")}, got ${String(envelope.kind).slice(0, 100)}`,
    );
  for (const field of ["type", "messageId"] as const)
    if (typeof envelope[field] !== "string" || envelope[field].length === 0)
      throw invalid(`${at}.${field}`, `${at}.${field} must be a non-empty string`);
  if (Buffer.isBuffer(envelope.payload)) return envelope as unknown as NativeEnvelope;
  return { ...envelope, payload: asBuffer("payload", envelope.payload) } as unknown as NativeEnvelope;
}

/** Encodes one envelope to MessagePack bytes. */
export function encodeEnvelope(envelope: EnvelopeInit, limits?: CodecLimits): Buffer {
  knownKeys("limits", limits, LIMIT_KEYS);
  return callNative(() => native().encodeEnvelopeNative(toNative(envelope), limits));
}

/** Decodes one envelope (its payload is copied). */
export function decodeEnvelope(bytes: Uint8Array, limits?: CodecLimits): DecodedEnvelope {
  knownKeys("limits", limits, LIMIT_KEYS);
  return callNative(() => native().decodeEnvelopeNative(asBuffer("bytes", bytes), limits)) as DecodedEnvelope;
}

/**
 * Encodes many envelopes into one `CTG1` batch frame in a single N-API call; the body is
 * zstd-compressed above the threshold (default 1 KiB) when that makes it smaller.
 */
export function encodeBatch(envelopes: readonly EnvelopeInit[], options?: FrameOptions): Buffer {
  if (!Array.isArray(envelopes)) throw invalid("envelopes", "envelopes must be an array of envelopes");
  checkFrameOptions(options);
  return callNative(() =>
    native().encodeBatchNative(
      envelopes.map((each, i) => toNative(each, `envelopes[${i}]`)),
      options,
    ),
  );
}

/** Frames envelopes that are already MessagePack-encoded. */
export function frameEncoded(envelopes: readonly Uint8Array[], options?: FrameOptions): Buffer {
  checkFrameOptions(options);
  return callNative(() =>
    native().frameEncodedNative(
      envelopes.map((e, i) => asBuffer(`envelopes[${i}]`, e)),
      options,
    ),
  );
}

/**
 * Decodes a batch frame in one N-API call. Payloads are zero-copy views: into `frame` itself
 * when it was not compressed, else into the one decompressed body.
 */
export function decodeBatch(frame: Uint8Array, limits?: CodecLimits): DecodedEnvelope[] {
  knownKeys("limits", limits, LIMIT_KEYS);
  const input = asBuffer("frame", frame);
  const batch = callNative(() => native().decodeBatchNative(input, limits));
  const body = batch.body ?? input;
  const out = new Array<DecodedEnvelope>(batch.messages.length);
  for (let i = 0; i < batch.messages.length; i++) {
    const m = batch.messages[i]!;
    out[i] = {
      kind: m.kind as MessageKind,
      type: m.type,
      messageId: m.messageId,
      ...(m.correlationId === undefined ? {} : { correlationId: m.correlationId }),
      ...(m.causationId === undefined ? {} : { causationId: m.causationId }),
      createdAtMs: m.createdAtMs,
      headers: m.headers,
      codec: m.codec,
      payload: body.subarray(m.payloadOffset, m.payloadOffset + m.payloadLength),
    };
  }
  return out;
}

/** zstd-compresses bytes (level 1 by default). */
export function zstdCompress(data: Uint8Array, level?: number): Buffer {
  checkArgument("level", level, integer(I32_MIN, I32_MAX));
  return callNative(() => native().zstdCompressNative(asBuffer("data", data), level));
}

/** Decompresses zstd bytes; output larger than `maxBytes` is an error, never an allocation. */
export function zstdDecompress(data: Uint8Array, maxBytes: number): Buffer {
  return callNative(() => native().zstdDecompressNative(asBuffer("data", data), maxBytes));
}
