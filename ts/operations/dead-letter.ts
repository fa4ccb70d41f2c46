/**
 * A dead letter as operators see it: read from the message a dead-letter stream stores (its NATS
 * headers say why and where from; its body is the original envelope, unchanged).
 */
import type { StoredMessage } from "../jetstream/stream-messages.js";
import { decodeWire, jsonCodec, msgpackCodec, type WireEnvelope } from "../nats/wire.js";

/** Which dead-letter stream: durable events (`<prefix>.dlq.>`) or durable commands (`<prefix>.dcmd-dlq.>`). */
export type DeadLetterKind = "event" | "command";

/** What `list` shows of a dead letter (no payload). */
export interface DeadLetterSummary {
  /** `<kind>:<sequence>`, e.g. `event:12`: pass it to `get`, `replay` and `purge`. */
  readonly id: string;
  /** Which dead-letter stream holds it. */
  readonly kind: DeadLetterKind;
  /** Its sequence in the dead-letter stream. */
  readonly sequence: number;
  /** The message type; `""` when the body is not a Catga envelope (see `decodable`). */
  readonly type: string;
  /** The original message id, kept by a replay; undefined when the body is not a Catga envelope. */
  readonly messageId: string | undefined;
  /** False for a message that was not a Catga envelope (dead-lettered with `CATGA_DECODE`): it cannot be replayed. */
  readonly decodable: boolean;
  /** The stable code of the last failure (`Catga-Error-Code`). */
  readonly errorCode: string;
  /** The text of the last failure (`Catga-Error-Message`). */
  readonly errorMessage: string;
  /** Attempts made before it was dead-lettered (`Catga-Deliveries`). */
  readonly deliveries: number;
  /** The subject it was published to, where a replay sends it (`Catga-Original-Subject`). */
  readonly originalSubject: string;
  /** The durable consumer that failed it (`Catga-Consumer`, `<service>-<type>`); undefined for dead letters of older versions. */
  readonly consumer: string | undefined;
  /** The W3C trace id of the message's trace (from its `traceparent`), when it carried one. */
  readonly traceId: string | undefined;
  /** When the message was created (its envelope's `createdAt`), epoch ms; 0 when unknown. */
  readonly createdAt: number;
  /**
   * When it was dead-lettered: the last failure, epoch ms. The first failure is not recorded (the
   * server keeps no per-delivery history); it lies between `createdAt` and this.
   */
  readonly deadLetteredAt: number;
  /** Size of the encoded payload in bytes. */
  readonly payloadBytes: number;
}

/** Everything about one dead letter (`get`). */
export interface DeadLetter extends DeadLetterSummary {
  /** The flow it belongs to (envelope `correlationId`), kept by a replay. */
  readonly correlationId: string | undefined;
  /** The message that caused it (envelope `causationId`), kept by a replay. */
  readonly causationId: string | undefined;
  /** The envelope's headers (trace context, the caller's headers), kept by a replay. */
  readonly headers: Readonly<Record<string, string>>;
  /** The dead letter's NATS headers (`Catga-Error-Code`, …). */
  readonly deadLetterHeaders: Readonly<Record<string, string>>;
  /** The payload codec's name (`msgpack`, `json`, or a custom one). */
  readonly codec: string;
  /** The encoded payload (the whole stored body when it is not a Catga envelope). */
  readonly payload: Uint8Array;
  /**
   * The payload decoded, for the built-in codecs (`msgpack`, `json`); undefined for another codec
   * or a payload that does not decode (then read `payload`).
   */
  readonly body: unknown;
  /** Its sequence in the stream it was consumed from (`Catga-Stream-Sequence`). */
  readonly originalSequence: number | undefined;
}

/** Header names the engine writes on a dead letter (crates/catga-core/src/nats/dead_letter.rs). */
export const DEAD_LETTER_HEADERS = {
  code: "Catga-Error-Code",
  message: "Catga-Error-Message",
  deliveries: "Catga-Deliveries",
  originalSubject: "Catga-Original-Subject",
  streamSequence: "Catga-Stream-Sequence",
  consumer: "Catga-Consumer",
} as const;

/** A stored dead-letter message as a {@link DeadLetter}, and the envelope behind it (undefined when not one). */
export function readDeadLetter(
  kind: DeadLetterKind,
  stored: StoredMessage,
): { readonly letter: DeadLetter; readonly envelope: WireEnvelope | undefined } {
  const h = stored.headers;
  let envelope: WireEnvelope | undefined;
  try {
    envelope = decodeWire(stored.data);
  } catch {
    envelope = undefined;
  }
  const payload = envelope?.payload ?? stored.data;
  const count = (value: string | undefined) => {
    const n = Number(value);
    return value !== undefined && Number.isSafeInteger(n) ? n : undefined;
  };
  const letter: DeadLetter = {
    id: `${kind}:${stored.sequence}`,
    kind,
    sequence: stored.sequence,
    type: envelope?.type ?? "",
    messageId: envelope?.messageId,
    decodable: envelope !== undefined,
    errorCode: h[DEAD_LETTER_HEADERS.code] ?? "",
    errorMessage: h[DEAD_LETTER_HEADERS.message] ?? "",
    deliveries: count(h[DEAD_LETTER_HEADERS.deliveries]) ?? 0,
    originalSubject: h[DEAD_LETTER_HEADERS.originalSubject] ?? "",
    consumer: h[DEAD_LETTER_HEADERS.consumer],
    traceId: traceIdOf(envelope?.headers.traceparent),
    createdAt: envelope?.createdAt ?? 0,
    deadLetteredAt: stored.storedAt,
    payloadBytes: payload.byteLength,
    correlationId: envelope?.correlationId ?? undefined,
    causationId: envelope?.causationId ?? undefined,
    headers: envelope?.headers ?? {},
    deadLetterHeaders: h,
    codec: envelope?.codec ?? "",
    payload,
    body: envelope === undefined ? undefined : decodeBody(envelope),
    originalSequence: count(h[DEAD_LETTER_HEADERS.streamSequence]),
  };
  return { letter, envelope };
}

/** The summary fields of a dead letter (what `list` returns). */
export function summaryOf(letter: DeadLetter): DeadLetterSummary {
  return {
    id: letter.id,
    kind: letter.kind,
    sequence: letter.sequence,
    type: letter.type,
    messageId: letter.messageId,
    decodable: letter.decodable,
    errorCode: letter.errorCode,
    errorMessage: letter.errorMessage,
    deliveries: letter.deliveries,
    originalSubject: letter.originalSubject,
    consumer: letter.consumer,
    traceId: letter.traceId,
    createdAt: letter.createdAt,
    deadLetteredAt: letter.deadLetteredAt,
    payloadBytes: letter.payloadBytes,
  };
}

/** The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`). */
function traceIdOf(traceparent: string | undefined): string | undefined {
  const match = traceparent === undefined ? null : /^[0-9a-f]{2}-([0-9a-f]{32})-/.exec(traceparent);
  return match?.[1];
}

function decodeBody(envelope: WireEnvelope): unknown {
  const codec =
    envelope.codec === msgpackCodec.name
      ? msgpackCodec
      : envelope.codec === jsonCodec.name
        ? jsonCodec
        : undefined;
  if (codec === undefined) return undefined;
  try {
    return codec.decode(envelope.payload);
  } catch {
    return undefined;
  }
}
