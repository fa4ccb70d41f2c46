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

export interface StreamOptions {
  /** Stream name: no spaces, dots or wildcards. */
  name: string;
  /** Subjects it captures, e.g. `["catga.evt.orders.>"]`. */
  subjects: readonly string[];
  retention?: "limits" | "interest" | "workqueue";
  /** 0 (default) keeps messages until other limits apply. */
  maxAgeMs?: number;
  maxMessages?: number;
  maxBytes?: number;
  /** Passed through for clusters; 1 on a single server. */
  replicas?: number;
  /** Window in which a repeated message id is dropped by the server (default 2 minutes). */
  duplicateWindowMs?: number;
  storage?: "file" | "memory";
}

export interface DurableConsumerOptions {
  stream: string;
  /** Durable name: the consumer resumes from its last ack after any restart. */
  durable: string;
  filterSubject?: string;
  /** Redelivery after this long without an ack (30 s). */
  ackWaitMs?: number;
  /** Deliveries before a failing message goes to the dead-letter subject (5); -1 retries forever. */
  maxDeliver?: number;
  /** Nak delays per delivery attempt; the last repeats (default 250 ms doubling to 30 s). */
  backoffMs?: readonly number[];
  maxAckPending?: number;
  /** Messages per fetch, handed to JS together (256). */
  batch?: number;
  fetchWaitMs?: number;
  /** Process messages with the same key in order (e.g. by aggregate id); others run concurrently. */
  orderBy?: (message: DurableMessage) => string | undefined;
  /** Dead-letter subject for a failed message (default `<prefix>.dlq.<type>`). */
  deadLetterSubject?: (type: string) => string;
}

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
  duplicateWindowMs: integer(0),
  storage: oneOf(["file", "memory"]),
};

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
