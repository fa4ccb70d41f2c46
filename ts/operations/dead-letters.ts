/**
 * `deadLetters(transport | connection)`: list, inspect, replay and purge the dead letters of
 * durable events and durable commands (docs/guides/operations.md). Plain async methods over data, so a
 * CLI, a dashboard route or a script call the same thing.
 */
import {
  checkArgument,
  checkOptionsArgument,
  describe,
  func,
  integer,
  nonEmptyString,
  oneOf,
  token,
} from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import { JetStream } from "../jetstream/jetstream.js";
import { type StoredMessage, StreamMessages } from "../jetstream/stream-messages.js";
import { NatsConnection } from "../nats/connection.js";
import { isPublishSubject } from "../nats/subjects.js";
import { encodeWire, type WireEnvelope } from "../nats/wire.js";
import { REPLAY_FOR_HEADER } from "../transport/durable-events.js";
import { NatsTransport } from "../transport/nats-transport.js";
import { defaultStreamName, subjectPrefix } from "../transport/options.js";
import {
  type DeadLetter,
  type DeadLetterKind,
  type DeadLetterSummary,
  readDeadLetter,
  summaryOf,
} from "./dead-letter.js";

/** Where the dead letters are, when given a connection rather than a transport. */
export interface DeadLettersOptions {
  /**
   * Subject prefix of the transport whose dead letters these are.
   * @default "catga"
   */
  readonly prefix?: string;
  /**
   * The durable events' stream (`durableEvents.stream`); its dead letters are in `<stream>_DLQ`.
   * @default `<PREFIX>_EVENTS`
   */
  readonly eventsStream?: string;
  /**
   * The durable commands' stream (`durableCommands.stream`); its dead letters are in `<stream>_DLQ`.
   * @default `<PREFIX>_COMMANDS`
   */
  readonly commandsStream?: string;
}

/** Which dead letters: every field given must match (an empty filter matches nothing: say `"all"`). */
export interface DeadLetterFilter {
  /** Only events, or only commands. */
  readonly kind?: DeadLetterKind;
  /** The message type, exactly. */
  readonly type?: string;
  /** The error code of the last failure, exactly (`CATGA_HANDLER_FAILED`). */
  readonly code?: string;
  /** The durable consumer that failed it (`<service>-<type>`). */
  readonly consumer?: string;
  /** The original message id, exactly. */
  readonly messageId?: string;
  /** Dead-lettered at or after this time, epoch ms. */
  readonly since?: number;
  /** Dead-lettered before this time, epoch ms. */
  readonly until?: number;
}

/** Dead letters to act on: ids (`event:12`), a filter, or `"all"`. */
export type DeadLetterSelector = string | readonly string[] | DeadLetterFilter | "all";

/** A page of `list`. */
export interface DeadLetterPage {
  /** At most `limit` dead letters, in stream order. */
  readonly items: readonly DeadLetterSummary[];
  /** Pass as `after` for the next page; undefined once the walk reached the end (a full page may be followed by an empty one). */
  readonly next: string | undefined;
}

/** How many dead letters there are, per kind and type. */
export interface DeadLetterCounts {
  /** Dead letters of both kinds. */
  readonly total: number;
  /** Dead letters per kind. */
  readonly byKind: Readonly<Record<DeadLetterKind, number>>;
  /** Per message type, as `<kind>:<type>` → count. */
  readonly byType: readonly {
    readonly kind: DeadLetterKind;
    readonly type: string;
    readonly count: number;
  }[];
}

/** Progress of a `replay` or `purge`, reported after each batch. */
export interface DeadLetterProgress {
  /** Dead letters selected so far (the total once `scanned` is true). */
  readonly selected: number;
  /** Replayed (or purged) so far. */
  readonly done: number;
  /** Not replayed so far (see `ReplayReport.failed`). */
  readonly failed: number;
  /** Whether every selected dead letter is known (the scan is over). */
  readonly scanned: boolean;
}

/** One dead letter a `replay` could not send back (it stays in the dead-letter stream). */
export interface ReplayFailure {
  /** The dead letter's id. */
  readonly id: string;
  /** Why: CATGA_DECODE (not an envelope), or the publish's failure code. */
  readonly code: string;
  /** The reason in words. */
  readonly message: string;
}

/** What `replay` did. */
export interface ReplayReport {
  /** Sent back to their original subject (with their original message id) and removed from the dead letters. */
  readonly replayed: readonly { readonly id: string; readonly messageId: string; readonly type: string }[];
  /** Dead letters not sent back; they stay in the dead-letter stream. */
  readonly failed: readonly ReplayFailure[];
}

/** Options of `replay` and `purge`. */
export interface BulkOptions {
  /** Called after each batch. */
  readonly onProgress?: (progress: DeadLetterProgress) => void;
}

/** Operator actions on dead letters. Bad arguments reject with CATGA_INVALID_ARGUMENT naming the field. */
export interface DeadLetters {
  /** Dead letters in stream order (events, then commands), `limit` (1–1000, default 100) at a time. */
  list(
    query?: DeadLetterFilter & { readonly limit?: number; readonly after?: string },
  ): Promise<DeadLetterPage>;
  /** One dead letter with its payload and headers; undefined when there is none with that id. */
  get(id: string): Promise<DeadLetter | undefined>;
  /** Counts per kind and type (one request per stream). */
  counts(): Promise<DeadLetterCounts>;
  /**
   * Sends dead letters back to their original subject and removes them from the dead letters. The
   * envelope is sent as it was stored: same messageId, correlation and trace headers. An event goes
   * back to the one consumer that failed it (header `catga-replay-for`; other services skip it). A
   * dead letter that cannot be sent back (not a Catga envelope, refused by the server) stays and is
   * listed in `failed`.
   */
  replay(selector: DeadLetterSelector, options?: BulkOptions): Promise<ReplayReport>;
  /** Removes dead letters for good; resolves with how many were removed. */
  purge(selector: DeadLetterSelector, options?: BulkOptions): Promise<{ readonly purged: number }>;
  /** Closes the connection when `deadLetters` opened it (a `servers` URL); otherwise does nothing. */
  close(): Promise<void>;
}

const KINDS: readonly DeadLetterKind[] = ["event", "command"];
/** Dead letters sent back per durable publish (one N-API call each). */
const REPLAY_BATCH = 64;

/**
 * The dead letters of a transport (its prefix and stream names), of a connection (give the
 * prefix and stream names in `options` when they are not the defaults), or of a server URL (the
 * connection is opened here and closed by `close()`).
 */
export async function deadLetters(
  source: NatsTransport | NatsConnection | { readonly servers: string | readonly string[] },
  options: DeadLettersOptions = {},
): Promise<DeadLetters> {
  let connection: NatsConnection;
  let owned = false;
  let prefix = options.prefix ?? "catga";
  let streams: Record<DeadLetterKind, string>;
  if (typeof options !== "object" || options === null)
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `options must be an object, got ${describe(options)}`, {
      details: { field: "options" },
    });
  for (const key of Object.keys(options))
    if (key !== "prefix" && key !== "eventsStream" && key !== "commandsStream")
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `options.${key} is not an option (expected prefix, eventsStream, commandsStream)`,
        { details: { field: `options.${key}` } },
      );
  checkArgument("options.prefix", options.prefix, subjectPrefix);
  checkArgument("options.eventsStream", options.eventsStream, token);
  checkArgument("options.commandsStream", options.commandsStream, token);
  if (source instanceof NatsTransport) {
    connection = source.connection;
    const layout = source.streams;
    prefix = layout.prefix;
    streams = { event: layout.eventDeadLetters, command: layout.commandDeadLetters };
  } else {
    if (source instanceof NatsConnection) connection = source;
    else if (typeof source === "object" && source !== null && "servers" in source) {
      connection = await NatsConnection.connect({ servers: source.servers, whenDisconnected: "reject" });
      owned = true;
    } else
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `source must be a NatsTransport, a NatsConnection or { servers }, got ${describe(source)}`,
        { details: { field: "source" } },
      );
    streams = {
      event: `${options.eventsStream ?? defaultStreamName(prefix, "EVENTS")}_DLQ`,
      command: `${options.commandsStream ?? defaultStreamName(prefix, "COMMANDS")}_DLQ`,
    };
  }
  return new StreamDeadLetters(connection, owned, streams, prefix);
}

class StreamDeadLetters implements DeadLetters {
  private readonly messages: StreamMessages;
  private readonly js: JetStream;

  constructor(
    private readonly connection: NatsConnection,
    private readonly owned: boolean,
    private readonly streams: Record<DeadLetterKind, string>,
    private readonly prefix: string,
  ) {
    this.messages = new StreamMessages(connection);
    this.js = new JetStream(connection, { prefix });
  }

  /** The dead-letter subject of `kind`, for one type or all. */
  private subject(kind: DeadLetterKind, type?: string): string {
    return `${this.prefix}.${kind === "event" ? "dlq" : "dcmd-dlq"}.${type ?? ">"}`;
  }

  async list(
    query: DeadLetterFilter & { readonly limit?: number; readonly after?: string } = {},
  ): Promise<DeadLetterPage> {
    if (typeof query !== "object" || query === null)
      throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `query must be an object, got ${describe(query)}`, {
        details: { field: "query" },
      });
    const { limit = 100, after, ...filter } = query;
    checkArgument("limit", limit, integer(1, 1000));
    checkFilter(filter, "query");
    const start = after === undefined ? { kind: "event" as const, sequence: 0 } : parseId(after, "after");
    const items: DeadLetterSummary[] = [];
    for await (const letter of this.scan(filter, start)) {
      items.push(summaryOf(letter));
      if (items.length === limit) return { items, next: letter.id };
    }
    return { items, next: undefined };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const { kind, sequence } = parseId(id, "id");
    const stored = await this.messages.get(this.streams[kind], sequence);
    return stored === undefined ? undefined : readDeadLetter(kind, stored).letter;
  }

  async counts(): Promise<DeadLetterCounts> {
    const byKind: Record<DeadLetterKind, number> = { event: 0, command: 0 };
    const byType: { kind: DeadLetterKind; type: string; count: number }[] = [];
    for (const kind of KINDS) {
      const subject = this.subject(kind);
      const state = await this.messages.state(this.streams[kind], subject);
      if (state === undefined) continue;
      const head = subject.slice(0, -1); // `<prefix>.dlq.`
      for (const [on, count] of Object.entries(state.subjects)) {
        byKind[kind] += count;
        byType.push({ kind, type: on.startsWith(head) ? on.slice(head.length) : on, count });
      }
    }
    byType.sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
    return { total: byKind.event + byKind.command, byKind, byType };
  }

  async replay(selector: DeadLetterSelector, options: BulkOptions = {}): Promise<ReplayReport> {
    checkBulk(options);
    const replayed: { id: string; messageId: string; type: string }[] = [];
    const failed: ReplayFailure[] = [];
    await this.inBatches(selector, options, replayed, failed, async (batch) => {
      const items: { letter: DeadLetter; subject: string; envelope: Uint8Array }[] = [];
      for (const { letter, envelope, stored } of batch) {
        const problem = replayProblem(letter, envelope);
        if (problem !== undefined) failed.push({ id: letter.id, ...problem });
        else
          items.push({
            letter,
            subject: letter.originalSubject,
            envelope: replayBytes(letter, envelope!, stored),
          });
      }
      if (items.length === 0) return;
      // Nats-Msg-Id is the dead letter's own (not the messageId, which the stream may still hold
      // in its duplicate window): a replay repeated after a lost answer is stored once.
      const outcomes = await this.js.publish(
        items.map((i) => ({
          subject: i.subject,
          messageId: `${i.letter.messageId}~replay~${i.letter.id}`,
          envelope: i.envelope,
        })),
      );
      for (let i = 0; i < items.length; i++) {
        const { letter } = items[i]!;
        const outcome = outcomes[i];
        if (outcome?.ok) {
          await this.messages.delete(this.streams[letter.kind], letter.sequence);
          replayed.push({ id: letter.id, messageId: letter.messageId!, type: letter.type });
        } else
          failed.push({
            id: letter.id,
            code: outcome?.code ?? ErrorCodes.TRANSPORT,
            message: outcome?.message ?? "publish failed",
          });
      }
    });
    return { replayed, failed };
  }

  async purge(selector: DeadLetterSelector, options: BulkOptions = {}): Promise<{ readonly purged: number }> {
    checkBulk(options);
    if (selector === "all") {
      let purged = 0;
      for (const kind of KINDS) purged += await this.messages.purge(this.streams[kind]);
      options.onProgress?.({ selected: purged, done: purged, failed: 0, scanned: true });
      return { purged };
    }
    const done: { id: string; messageId: string; type: string }[] = [];
    await this.inBatches(selector, options, done, [], async (batch) => {
      for (const { letter } of batch)
        if (await this.messages.delete(this.streams[letter.kind], letter.sequence))
          done.push({ id: letter.id, messageId: letter.messageId ?? "", type: letter.type });
    });
    return { purged: done.length };
  }

  async close(): Promise<void> {
    if (this.owned) await this.connection.close();
  }

  /** Runs `act` on the selected dead letters, `REPLAY_BATCH` at a time, reporting progress after each. */
  private async inBatches(
    selector: DeadLetterSelector,
    options: BulkOptions,
    done: readonly unknown[],
    failed: readonly unknown[],
    act: (batch: Selected[]) => Promise<void>,
  ): Promise<void> {
    const selected = this.select(selector);
    let count = 0;
    let batch: Selected[] = [];
    const flush = async (scanned: boolean) => {
      await act(batch);
      batch = [];
      options.onProgress?.({ selected: count, done: done.length, failed: failed.length, scanned });
    };
    for await (const item of selected) {
      count++;
      batch.push(item);
      if (batch.length === REPLAY_BATCH) await flush(false);
    }
    await flush(true);
  }

  /** The dead letters a selector names, with what is needed to send each back. */
  private async *select(selector: DeadLetterSelector): AsyncGenerator<Selected> {
    if (selector === "all") {
      yield* this.scanStored({}, { kind: "event", sequence: 0 });
      return;
    }
    if (typeof selector === "string" || Array.isArray(selector)) {
      const ids = typeof selector === "string" ? [selector] : (selector as readonly string[]);
      if (ids.length === 0)
        throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, "ids must name at least one dead letter", {
          details: { field: "ids" },
        });
      const parsed = ids.map((id, i) => parseId(id, `ids[${i}]`));
      // An id listed twice is one dead letter: acted on once (the second pass found it gone and
      // failed the whole call after the first had replayed it).
      const seen = new Set<string>();
      for (const { kind, sequence } of parsed) {
        if (seen.has(`${kind}:${sequence}`)) continue;
        seen.add(`${kind}:${sequence}`);
        const stored = await this.messages.get(this.streams[kind], sequence);
        if (stored === undefined)
          throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `no dead letter has id ${kind}:${sequence}`, {
            details: { field: "id", id: `${kind}:${sequence}`, unknown: true },
          });
        yield { ...readDeadLetter(kind, stored), stored };
      }
      return;
    }
    checkFilter(selector as DeadLetterFilter, "selector");
    if (Object.values(selector).every((v) => v === undefined))
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        'selector: an empty filter selects nothing; pass "all" to act on every dead letter',
        { details: { field: "selector" } },
      );
    yield* this.scanStored(selector as DeadLetterFilter, { kind: "event", sequence: 0 });
  }

  private async *scan(
    filter: DeadLetterFilter,
    start: { kind: DeadLetterKind; sequence: number },
  ): AsyncGenerator<DeadLetter> {
    for await (const { letter } of this.scanStored(filter, start)) yield letter;
  }

  /** Walks the dead-letter streams from `start` (exclusive), one message per request, keeping the matching ones. */
  private async *scanStored(
    filter: DeadLetterFilter,
    start: { kind: DeadLetterKind; sequence: number },
  ): AsyncGenerator<Selected> {
    for (const kind of KINDS.slice(KINDS.indexOf(start.kind))) {
      if (filter.kind !== undefined && filter.kind !== kind) continue;
      const subject = this.subject(kind, filter.type);
      // Up to the last one stored now: a replayed message that fails again comes back as a new
      // dead letter, which this walk must not meet again.
      const last = (await this.messages.state(this.streams[kind]))?.lastSequence ?? 0;
      let sequence = kind === start.kind ? start.sequence + 1 : 1;
      while (sequence <= last) {
        const stored = await this.messages.next(this.streams[kind], sequence, subject);
        if (stored === undefined || stored.sequence > last) break;
        sequence = stored.sequence + 1;
        const read = readDeadLetter(kind, stored);
        if (matches(read.letter, filter)) yield { ...read, stored };
      }
    }
  }
}

interface Selected {
  readonly letter: DeadLetter;
  readonly envelope: WireEnvelope | undefined;
  readonly stored: StoredMessage;
}

function matches(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.type === undefined || letter.type === filter.type) &&
    (filter.code === undefined || letter.errorCode === filter.code) &&
    (filter.consumer === undefined || letter.consumer === filter.consumer) &&
    (filter.messageId === undefined || letter.messageId === filter.messageId) &&
    (filter.since === undefined || letter.deadLetteredAt >= filter.since) &&
    (filter.until === undefined || letter.deadLetteredAt < filter.until)
  );
}

/** Why a dead letter cannot be sent back, or undefined when it can. */
function replayProblem(
  letter: DeadLetter,
  envelope: WireEnvelope | undefined,
): { code: string; message: string } | undefined {
  if (envelope === undefined)
    return {
      code: ErrorCodes.DECODE,
      message: `${letter.id} is not a Catga envelope (dead-lettered as ${letter.errorCode}); it cannot be replayed`,
    };
  if (!isPublishSubject(letter.originalSubject))
    return {
      code: ErrorCodes.INVALID_ARGUMENT,
      message: `${letter.id} has no original subject to send it back to (header Catga-Original-Subject)`,
    };
  return undefined;
}

/**
 * What a replay publishes: the stored envelope as is, except that an event is marked for the one
 * consumer that failed it (every service's consumer takes the event subject).
 */
function replayBytes(letter: DeadLetter, envelope: WireEnvelope, stored: StoredMessage): Uint8Array {
  if (letter.kind !== "event" || letter.consumer === undefined) return stored.data;
  return encodeWire({ ...envelope, headers: { ...envelope.headers, [REPLAY_FOR_HEADER]: letter.consumer } });
}

/** `event:12` → its kind and sequence; anything else is CATGA_INVALID_ARGUMENT naming `field`. */
function parseId(id: unknown, field: string): { kind: DeadLetterKind; sequence: number } {
  checkArgument(field, id, nonEmptyString);
  const match = typeof id === "string" ? /^(event|command):([1-9]\d{0,15})$/.exec(id) : null;
  if (match === null || !Number.isSafeInteger(Number(match[2])))
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `${field} must be a dead-letter id such as "event:12" or "command:3", got ${describe(id)}`,
      { details: { field } },
    );
  return { kind: match[1] as DeadLetterKind, sequence: Number(match[2]) };
}

/** `replay`/`purge` options: only `onProgress`, a function (it is called after each batch). */
function checkBulk(options: unknown): void {
  checkOptionsArgument("options", options ?? null, { onProgress: func });
}

function checkFilter(filter: DeadLetterFilter, field: string): void {
  if (typeof filter !== "object" || filter === null)
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `${field} must be an object, got ${describe(filter)}`, {
      details: { field },
    });
  const known = ["kind", "type", "code", "consumer", "messageId", "since", "until"];
  for (const key of Object.keys(filter))
    if (!known.includes(key))
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `${field}.${key} is not a dead-letter filter field (${known.join(", ")})`,
        { details: { field: `${field}.${key}` } },
      );
  checkArgument(`${field}.kind`, filter.kind, oneOf(KINDS));
  checkArgument(`${field}.type`, filter.type, nonEmptyString);
  checkArgument(`${field}.code`, filter.code, nonEmptyString);
  checkArgument(`${field}.consumer`, filter.consumer, nonEmptyString);
  checkArgument(`${field}.messageId`, filter.messageId, nonEmptyString);
  checkArgument(`${field}.since`, filter.since, integer(0, Number.MAX_SAFE_INTEGER));
  checkArgument(`${field}.until`, filter.until, integer(0, Number.MAX_SAFE_INTEGER));
}
