import { CatgaConfigError, type ConfigIssue } from "../errors.js";
import type { DurableConsumerOptions, StreamOptions } from "../jetstream/options.js";
import { type NatsConnectionOptions, natsOptionIssues } from "../nats/options.js";
import type { PayloadCodec } from "../nats/wire.js";

/** Events delivered through JetStream: stored, acked after the handler succeeds, retried, dead-lettered. */
export interface DurableEventsOptions {
  /** Stream for the events (default `<PREFIX>_EVENTS`); its dead letters go to `<stream>_DLQ`. */
  stream?: string;
  /** Event types that travel durably; default: all. The others stay on core NATS. */
  types?: readonly string[];
  /** Create/update the streams at connect (default true), optionally with retention settings. */
  provision?: boolean | Omit<StreamOptions, "name" | "subjects">;
  consumer?: Pick<
    DurableConsumerOptions,
    "ackWaitMs" | "maxDeliver" | "backoffMs" | "maxAckPending" | "batch" | "fetchWaitMs" | "orderBy"
  >;
}

export interface NatsTransportOptions extends NatsConnectionOptions {
  /** Service name: the queue group, so instances of one service share commands and events. */
  service: string;
  /** Subject prefix (default `catga`): commands/queries on `<prefix>.cmd.<type>`, events on `<prefix>.evt.<type>`. */
  prefix?: string;
  /** Payload codec per message type; the default is MessagePack. */
  codecs?: Readonly<Record<string, "json" | "msgpack" | PayloadCodec>>;
  /**
   * Deliver events through JetStream instead of core NATS: each service gets each event once
   * (a durable consumer per service and type), even if it was down when the event was published;
   * failures are retried with backoff and dead-lettered to `<prefix>.dlq.<type>` after `maxDeliver`.
   */
  durableEvents?: DurableEventsOptions;
}

const SUBJECT_TOKEN = /^[^\s.*>]+$/;

/** Checks every transport option at once; throws one CatgaConfigError listing all issues. */
export function assertTransportOptions(options: NatsTransportOptions): void {
  const { service, prefix, codecs, durableEvents, ...connection } = options;
  const issues: ConfigIssue[] = natsOptionIssues(connection);
  if (typeof service !== "string" || !SUBJECT_TOKEN.test(service))
    issues.push({ path: "service", message: "must be a non-empty name without spaces, dots or wildcards" });
  if (prefix !== undefined && (typeof prefix !== "string" || !/^[^\s*>]+$/.test(prefix)))
    issues.push({ path: "prefix", message: "must be a subject prefix without spaces or wildcards" });
  for (const [type, codec] of Object.entries(codecs ?? {})) {
    if (
      codec !== "json" &&
      codec !== "msgpack" &&
      (typeof codec !== "object" || typeof codec.encode !== "function")
    )
      issues.push({ path: `codecs.${type}`, message: 'must be "json", "msgpack" or a PayloadCodec' });
  }
  if (durableEvents !== undefined) {
    if (typeof durableEvents !== "object" || durableEvents === null)
      issues.push({ path: "durableEvents", message: "must be an object" });
    else if (
      durableEvents.types !== undefined &&
      (!Array.isArray(durableEvents.types) || durableEvents.types.some((t) => typeof t !== "string"))
    )
      issues.push({ path: "durableEvents.types", message: "must be a list of event types" });
  }
  if (issues.length > 0) throw new CatgaConfigError(issues);
}
