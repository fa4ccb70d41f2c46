import { CatgaConfigError, type ConfigIssue } from "../errors.js";
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

const NAME = /^[^\s.*>]+$/;

function checkInt(
  issues: ConfigIssue[],
  path: string,
  value: unknown,
  min: number,
  max = 2_147_483_647,
): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    issues.push({
      path,
      message: `must be a whole number between ${min} and ${max}, got ${JSON.stringify(value)}`,
    });
}

export function assertStreamOptions(options: StreamOptions): void {
  const issues: ConfigIssue[] = [];
  if (typeof options.name !== "string" || !NAME.test(options.name))
    issues.push({ path: "stream.name", message: "must be non-empty without spaces, dots or wildcards" });
  if (!Array.isArray(options.subjects) || options.subjects.length === 0)
    issues.push({ path: "stream.subjects", message: "must list at least one subject" });
  else
    options.subjects.forEach((s, i) => {
      if (typeof s !== "string" || s.length === 0 || /\s/.test(s))
        issues.push({ path: `stream.subjects[${i}]`, message: "must be a subject without spaces" });
    });
  if (options.retention !== undefined && !["limits", "interest", "workqueue"].includes(options.retention))
    issues.push({ path: "stream.retention", message: "must be limits, interest or workqueue" });
  if (options.storage !== undefined && !["file", "memory"].includes(options.storage))
    issues.push({ path: "stream.storage", message: "must be file or memory" });
  checkInt(issues, "stream.maxAgeMs", options.maxAgeMs, 0, Number.MAX_SAFE_INTEGER);
  checkInt(issues, "stream.maxMessages", options.maxMessages, -1, Number.MAX_SAFE_INTEGER);
  checkInt(issues, "stream.maxBytes", options.maxBytes, -1, Number.MAX_SAFE_INTEGER);
  checkInt(issues, "stream.replicas", options.replicas, 1, 5);
  checkInt(issues, "stream.duplicateWindowMs", options.duplicateWindowMs, 0, Number.MAX_SAFE_INTEGER);
  if (issues.length > 0) throw new CatgaConfigError(issues);
}

export function assertConsumerOptions(options: DurableConsumerOptions): void {
  const issues: ConfigIssue[] = [];
  if (typeof options.stream !== "string" || !NAME.test(options.stream))
    issues.push({ path: "consumer.stream", message: "must name a stream" });
  if (typeof options.durable !== "string" || !NAME.test(options.durable))
    issues.push({ path: "consumer.durable", message: "must be non-empty without spaces, dots or wildcards" });
  checkInt(issues, "consumer.ackWaitMs", options.ackWaitMs, 1);
  if (options.maxDeliver !== undefined && options.maxDeliver !== -1)
    checkInt(issues, "consumer.maxDeliver", options.maxDeliver, 1);
  if (options.maxAckPending !== undefined && options.maxAckPending !== -1)
    checkInt(issues, "consumer.maxAckPending", options.maxAckPending, 1);
  checkInt(issues, "consumer.batch", options.batch, 1, 4096);
  checkInt(issues, "consumer.fetchWaitMs", options.fetchWaitMs, 1);
  options.backoffMs?.forEach((v, i) => {
    checkInt(issues, `consumer.backoffMs[${i}]`, v, 0);
  });
  for (const key of ["orderBy", "deadLetterSubject"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "function")
      issues.push({ path: `consumer.${key}`, message: "must be a function" });
  }
  if (issues.length > 0) throw new CatgaConfigError(issues);
}
