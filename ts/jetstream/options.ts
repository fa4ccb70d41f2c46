import {
  describe,
  type FieldCheck,
  func,
  IssueList,
  integer,
  isRecord,
  listOf,
  oneOf,
  or,
  token,
} from "../checks.js";
import { I32_MAX } from "../native/arguments.js";
import type { DurableMessage } from "./jetstream.js";

/**
 * A JetStream stream to create or update (`JetStream.ensureStream`). Each optional field's
 * `@default` is the engine's own default (a test checks the two agree).
 */
export interface StreamOptions {
  /** Stream name: no spaces, dots or wildcards. Required. */
  name: string;
  /** Subjects it captures, e.g. `["catga.evt.orders.>"]`. Required, at least one. */
  subjects: readonly string[];
  /**
   * When stored messages are removed: `limits` by age/count/size only, `interest` once every
   * consumer acked them, `workqueue` once any consumer acked them.
   * @default "limits"
   */
  retention?: "limits" | "interest" | "workqueue";
  /**
   * Oldest message kept, in ms; 0 keeps messages until another limit applies. Also caps the
   * default {@link StreamOptions.duplicateWindowMs}.
   * @default 0 (no age limit)
   */
  maxAgeMs?: number;
  /**
   * Most messages kept; past it the oldest go. -1 = no limit.
   * @default -1
   */
  maxMessages?: number;
  /**
   * Most bytes kept; past it the oldest messages go. -1 = no limit.
   * @default -1
   */
  maxBytes?: number;
  /**
   * Copies of each message in a cluster (1–5); 1 on a single server.
   * @default 1
   */
  replicas?: number;
  /**
   * Window in ms (at least 1) in which a repeated message id (`Nats-Msg-Id`) is dropped by the
   * server; deduplication cannot be turned off.
   * @default 120000 (2 minutes), or {@link StreamOptions.maxAgeMs} when that is shorter
   */
  duplicateWindowMs?: number;
  /**
   * Where messages are kept: on disk, or in memory (lost when the server restarts).
   * @default "file"
   */
  storage?: "file" | "memory";
}

/**
 * What a stream gets for each optional field of {@link StreamOptions} left out, in one table: the
 * engine applies the same values (`__test__/native/defaults.test.ts` checks them against the
 * addon's `streamDefaults()` and against a stream the server created). One field depends on
 * another: a stream whose `maxAgeMs` is shorter than 2 minutes gets it as its `duplicateWindowMs`.
 */
export const STREAM_DEFAULTS = {
  retention: "limits",
  maxAgeMs: 0,
  maxMessages: -1,
  maxBytes: -1,
  replicas: 1,
  duplicateWindowMs: 120_000,
  storage: "file",
} as const satisfies Required<Omit<StreamOptions, "name" | "subjects">>;

/** A durable pull consumer (`JetStream.consume`): acked after the handler succeeds, retried, dead-lettered. */
export interface DurableConsumerOptions {
  /** Stream to consume from. Required. */
  stream: string;
  /** Durable name: the consumer resumes from its last ack after any restart. Required. */
  durable: string;
  /**
   * Only messages on this subject (wildcards allowed) are delivered.
   * @default none: every subject of the stream
   */
  filterSubject?: string;
  /**
   * A delivered message not acked within this many ms is redelivered.
   * @default 30000
   */
  ackWaitMs?: number;
  /**
   * Deliveries before a failing message goes to the dead-letter subject (see `deadLetterSubject`);
   * -1 retries forever. CATGA_DECODE and CATGA_VALIDATION failures go there at once.
   * @default 5
   */
  maxDeliver?: number;
  /**
   * Delay in ms before redelivery after the n-th failed delivery: entry n-1, the last repeating.
   * An empty list uses the default.
   * @default [250, 500, 1000, 2000, 5000, 10000, 30000]
   */
  backoffMs?: readonly number[];
  /**
   * Messages delivered and not yet acked at once; the server pauses delivery past it. -1 = no limit.
   * With {@link DurableConsumerOptions.orderBy}, held messages count, so a key held long enough
   * can fill it and pause the consumer until the key moves on.
   * @default 1000
   */
  maxAckPending?: number;
  /**
   * Messages per fetch (1–4096), handed to JS together; at most
   * {@link DurableConsumerOptions.maxAckPending} are outstanding.
   * @default 256
   */
  batch?: number;
  /**
   * How long one fetch waits for up to {@link DurableConsumerOptions.batch} messages, in ms.
   * @default 1000
   */
  fetchWaitMs?: number;
  /**
   * Handles messages with the same key one after another in stream order (e.g. by aggregate id);
   * other keys run concurrently, and `undefined` means no order with anything. A failed message
   * is retried in place after `backoffMs` while its key's later messages wait (unacked, kept from
   * redelivery by in-progress acks); after `maxDeliver` attempts it is dead-lettered and the key
   * moves on. A consumer that starts while an earlier instance's messages are unacked (it was
   * killed) holds newer messages until those are redelivered and acked, up to `ackWaitMs`.
   * Order holds with one consumer instance per durable; see docs/architecture/jetstream.md, "Per-key order".
   * @default none: every message of a batch runs concurrently
   */
  orderBy?: (message: DurableMessage) => string | undefined;
  /**
   * Dead-letter subject for a failed message of `type`; if it throws, the default is used.
   * @default `<prefix>.dlq.<type>` (the JetStream's prefix, `catga` unless set)
   */
  deadLetterSubject?: (type: string) => string;
}

/**
 * What a durable consumer gets for each field left out, in one table: the engine applies the same
 * values (`__test__/native/defaults.test.ts` checks them against the addon's `consumerDefaults()`);
 * `maxDeliver` and `backoffMs` are also read here, by the JS side that decides retries.
 */
export const CONSUMER_DEFAULTS = {
  ackWaitMs: 30_000,
  maxDeliver: 5,
  maxAckPending: 1000,
  batch: 256,
  fetchWaitMs: 1000,
  backoffMs: [250, 500, 1000, 2000, 5000, 10_000, 30_000],
} as const;

const subject: FieldCheck = (value) =>
  typeof value === "string" && value.length > 0 && !/\s/.test(value)
    ? undefined
    : `must be a subject without spaces, got ${describe(value)}`;
const NONE = -1; // "no limit" for the counts that allow it

const STREAM_FIELDS: Record<keyof StreamOptions, FieldCheck> = {
  name: token,
  subjects: listOf(subject, { nonEmpty: true }),
  retention: oneOf(["limits", "interest", "workqueue"]),
  maxAgeMs: integer(0),
  maxMessages: integer(NONE),
  maxBytes: integer(NONE),
  replicas: integer(1, 5),
  // 0 is no "off": the server would silently apply its 2-minute default (found by a helper).
  duplicateWindowMs: integer(1),
  storage: oneOf(["file", "memory"]),
};

/**
 * The checks of a stream's settings other than its name and subjects, for options that provision a
 * stream on a caller's behalf (durable commands), checked when the options are given.
 */
export const STREAM_SETTING_FIELDS = {
  retention: STREAM_FIELDS.retention,
  maxAgeMs: STREAM_FIELDS.maxAgeMs,
  maxMessages: STREAM_FIELDS.maxMessages,
  maxBytes: STREAM_FIELDS.maxBytes,
  replicas: STREAM_FIELDS.replicas,
  duplicateWindowMs: STREAM_FIELDS.duplicateWindowMs,
  storage: STREAM_FIELDS.storage,
} satisfies Record<Exclude<keyof StreamOptions, "name" | "subjects">, FieldCheck>;

const CONSUMER_FIELDS: Record<keyof DurableConsumerOptions, FieldCheck> = {
  stream: token,
  durable: token,
  filterSubject: subject,
  ackWaitMs: integer(1, I32_MAX),
  maxDeliver: or(integer(1, I32_MAX), NONE),
  backoffMs: listOf(integer(0, I32_MAX)),
  maxAckPending: or(integer(1, I32_MAX), NONE),
  batch: integer(1, 4096),
  fetchWaitMs: integer(1, I32_MAX),
  orderBy: func,
  deadLetterSubject: func,
};

/** The consumer settings a service may choose for its durable events (the rest are set for it). */
export const DURABLE_CONSUMER_FIELDS = {
  ackWaitMs: CONSUMER_FIELDS.ackWaitMs,
  maxDeliver: CONSUMER_FIELDS.maxDeliver,
  backoffMs: CONSUMER_FIELDS.backoffMs,
  maxAckPending: CONSUMER_FIELDS.maxAckPending,
  batch: CONSUMER_FIELDS.batch,
  fetchWaitMs: CONSUMER_FIELDS.fetchWaitMs,
  orderBy: CONSUMER_FIELDS.orderBy,
} satisfies Record<string, FieldCheck>;

/** Throws one CatgaConfigError listing every bad or unknown field of a stream's options. */
export function assertStreamOptions(options: StreamOptions): void {
  const list = new IssueList();
  if (!isRecord(options)) list.add("stream", `must be an object, got ${describe(options)}`);
  else {
    list.checkObject("stream", options, STREAM_FIELDS);
    for (const key of ["name", "subjects"] as const)
      if (options[key] === undefined) list.add(`stream.${key}`, "is required");
  }
  list.throwIfAny();
}

/** Throws one CatgaConfigError listing every bad or unknown field of a durable consumer's options. */
export function assertConsumerOptions(options: DurableConsumerOptions): void {
  const list = new IssueList();
  if (!isRecord(options)) list.add("consumer", `must be an object, got ${describe(options)}`);
  else {
    list.checkObject("consumer", options, CONSUMER_FIELDS);
    for (const key of ["stream", "durable"] as const)
      if (options[key] === undefined) list.add(`consumer.${key}`, "is required");
  }
  list.throwIfAny();
}
