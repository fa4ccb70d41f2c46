/**
 * Stored messages of a stream read, deleted and purged one by one through the JetStream API
 * (`$JS.API.STREAM.*`): what operator tools need (dead letters), never a hot path.
 */
import { CatgaError, ErrorCodes } from "../errors.js";
import type { NatsConnection } from "../nats/connection.js";

/** A message as the stream stores it. */
export interface StoredMessage {
  readonly stream: string;
  readonly sequence: number;
  readonly subject: string;
  /** NATS headers (first value of each name, names as sent). */
  readonly headers: Readonly<Record<string, string>>;
  readonly data: Buffer;
  /** When the stream stored it, epoch ms. */
  readonly storedAt: number;
}

/** A stream's size, and its message count per subject when asked for. */
export interface StreamState {
  readonly messages: number;
  readonly bytes: number;
  readonly firstSequence: number;
  readonly lastSequence: number;
  /** Messages per subject (only with `subjects` given to `state`). */
  readonly subjects: Readonly<Record<string, number>>;
}

/** JetStream API error codes this module expects (JSStreamNotFoundErr, JSNoMessageFoundErr). */
const STREAM_NOT_FOUND = 10059;
const NO_MESSAGE_FOUND = 10037;

interface ApiError {
  readonly code?: number;
  readonly err_code?: number;
  readonly description?: string;
}

interface RawMessage {
  readonly subject: string;
  readonly seq: number;
  readonly hdrs?: string;
  readonly data?: string;
  readonly time: string;
}

/** Reads and removes stored messages of streams on one connection, one API request at a time. */
export class StreamMessages {
  // Requests made in one tick to one subject travel as one Catga request frame, which the
  // JetStream API does not read: every call waits for the one before it.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly connection: NatsConnection,
    private readonly timeoutMs = 5000,
  ) {}

  /** The stream's state, or undefined when there is no such stream. `subjects` filters the per-subject counts. */
  async state(stream: string, subjects?: string): Promise<StreamState | undefined> {
    const reply = await this.api<{
      state?: {
        messages: number;
        bytes: number;
        first_seq: number;
        last_seq: number;
        subjects?: Record<string, number>;
      };
    }>(
      `STREAM.INFO.${stream}`,
      subjects === undefined ? {} : { subjects_filter: subjects },
      STREAM_NOT_FOUND,
    );
    const state = reply.state;
    if (state === undefined) return undefined;
    return {
      messages: state.messages,
      bytes: state.bytes,
      firstSequence: state.first_seq,
      lastSequence: state.last_seq,
      subjects: state.subjects ?? {},
    };
  }

  /**
   * The first message at or after `sequence` (on a subject matching `subject`, wildcards allowed);
   * undefined when there is none, or no such stream.
   */
  async next(stream: string, sequence: number, subject = ">"): Promise<StoredMessage | undefined> {
    return this.read(stream, { seq: Math.max(1, sequence), next_by_subj: subject });
  }

  /** The message at `sequence`; undefined when there is none (deleted, never stored) or no such stream. */
  async get(stream: string, sequence: number): Promise<StoredMessage | undefined> {
    return this.read(stream, { seq: sequence });
  }

  /** Removes the message at `sequence`; resolves with whether it was there. */
  async delete(stream: string, sequence: number): Promise<boolean> {
    const reply = await this.api<{ success?: boolean }>(
      `STREAM.MSG.DELETE.${stream}`,
      { seq: sequence, no_erase: true },
      NO_MESSAGE_FOUND,
      STREAM_NOT_FOUND,
    );
    return reply.success === true;
  }

  /** Removes every message of the stream, or those on `subject`; resolves with how many. */
  async purge(stream: string, subject?: string): Promise<number> {
    const reply = await this.api<{ purged?: number }>(
      `STREAM.PURGE.${stream}`,
      subject === undefined ? {} : { filter: subject },
      STREAM_NOT_FOUND,
    );
    return reply.purged ?? 0;
  }

  private async read(stream: string, body: object): Promise<StoredMessage | undefined> {
    const reply = await this.api<{ message?: RawMessage }>(
      `STREAM.MSG.GET.${stream}`,
      body,
      NO_MESSAGE_FOUND,
      STREAM_NOT_FOUND,
    );
    const raw = reply.message;
    if (raw === undefined) return undefined;
    return {
      stream,
      sequence: raw.seq,
      subject: raw.subject,
      headers: raw.hdrs === undefined ? {} : parseHeaders(Buffer.from(raw.hdrs, "base64").toString("utf8")),
      data: Buffer.from(raw.data ?? "", "base64"),
      storedAt: parseTime(raw.time),
    };
  }

  /** One API request, after the ones before it; a server error other than `allowed` is CATGA_TRANSPORT. */
  private api<Reply>(name: string, body: object, ...allowed: number[]): Promise<Reply> {
    const call = this.queue.then(async () => {
      const bytes = await this.connection.request(
        `$JS.API.${name}`,
        Buffer.from(JSON.stringify(body)),
        this.timeoutMs,
      );
      const reply = JSON.parse(bytes.toString("utf8")) as Reply & { error?: ApiError };
      const code = reply.error?.err_code;
      if (reply.error !== undefined && (code === undefined || !allowed.includes(code)))
        throw new CatgaError(
          ErrorCodes.TRANSPORT,
          `JetStream ${name.split(".").slice(0, 3).join(".")}: ${reply.error.description ?? "failed"}`,
          { details: { api: name, code: code ?? null } },
        );
      return reply;
    });
    this.queue = call.catch(() => undefined);
    return call;
  }
}

/** NATS headers block (`NATS/1.0\r\nName: value\r\n…`) as a record; the first value of a name wins. */
export function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    if (!Object.hasOwn(headers, name)) headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The server's RFC 3339 time with nanoseconds, as epoch ms (Date.parse reads at most ms). */
function parseTime(time: string): number {
  const ms = Date.parse(time.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) ? ms : 0;
}
