import { describe, type FieldCheck, IssueList, isRecord, stringList, token } from "../checks.js";
import {
  DURABLE_CONSUMER_FIELDS,
  type DurableConsumerOptions,
  type StreamOptions,
} from "../jetstream/options.js";
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

const prefix: FieldCheck = (value) =>
  typeof value === "string" && /^[^\s*>]+$/.test(value)
    ? undefined
    : `must be a subject prefix without spaces or wildcards, got ${describe(value)}`;
const codec: FieldCheck = (value) =>
  value === "json" || value === "msgpack" || (isRecord(value) && typeof value.encode === "function")
    ? undefined
    : `must be "json", "msgpack" or a PayloadCodec, got ${describe(value)}`;
const provision: FieldCheck = (value) =>
  typeof value === "boolean" || isRecord(value)
    ? undefined
    : `must be a boolean or stream settings, got ${describe(value)}`;
/** Checked one by one below, with their own paths. */
const CHECKED_BELOW: FieldCheck = () => undefined;

const TRANSPORT_FIELDS: Record<
  Exclude<keyof NatsTransportOptions, keyof NatsConnectionOptions>,
  FieldCheck
> = {
  service: token,
  prefix,
  codecs: CHECKED_BELOW,
  durableEvents: CHECKED_BELOW,
};
const DURABLE_FIELDS: Record<keyof DurableEventsOptions, FieldCheck> = {
  stream: token,
  types: stringList,
  provision,
  consumer: CHECKED_BELOW,
};

/** Checks every transport option at once; throws one CatgaConfigError listing all issues. */
export function assertTransportOptions(options: NatsTransportOptions): void {
  const list = new IssueList();
  if (!isRecord(options)) list.add("options", `must be an object, got ${describe(options)}`);
  else {
    const { service, prefix, codecs, durableEvents, ...connection } = options;
    list.issues.push(...natsOptionIssues(connection));
    list.checkObject("", { service, prefix, codecs, durableEvents }, TRANSPORT_FIELDS);
    if (service === undefined) list.add("service", "is required");
    if (codecs !== undefined && !isRecord(codecs))
      list.add("codecs", `must be an object of message type → codec, got ${describe(codecs)}`);
    else
      for (const [type, each] of Object.entries(codecs ?? {})) list.checkValue(`codecs.${type}`, each, codec);
    const durable = list.checkObject("durableEvents", durableEvents, DURABLE_FIELDS);
    list.checkObject("durableEvents.consumer", durable.consumer, DURABLE_CONSUMER_FIELDS);
  }
  list.throwIfAny();
}
