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
  /**
   * Stream for the events (capturing `<prefix>.evt.>`); its dead letters go to `<stream>_DLQ`
   * (capturing `<prefix>.dlq.>`).
   * @default `<PREFIX>_EVENTS`: the prefix upper-cased, other characters as `_` (`CATGA_EVENTS`)
   */
  stream?: string;
  /**
   * Event types that travel durably; the others stay on core NATS (at most once).
   * @default all event types
   */
  types?: readonly string[];
  /**
   * Create/update both streams at connect (`false`: they must exist); an object also sets the
   * event stream's retention ({@link StreamOptions} without `name`/`subjects`). Settings left out,
   * and all of the dead-letter stream's, are the {@link StreamOptions} defaults (`STREAM_DEFAULTS`):
   * file storage, kept forever, 2-minute duplicate window.
   * @default true
   */
  provision?: boolean | Omit<StreamOptions, "name" | "subjects">;
  /**
   * Settings of each service's durable consumer, one per event type (named `<service>-<type>`,
   * filtered to `<prefix>.evt.<type>`); unset fields keep the {@link DurableConsumerOptions} defaults.
   * @default the DurableConsumerOptions defaults (5 deliveries, 30 s ack wait, batches of 256)
   */
  consumer?: Pick<
    DurableConsumerOptions,
    "ackWaitMs" | "maxDeliver" | "backoffMs" | "maxAckPending" | "batch" | "fetchWaitMs" | "orderBy"
  >;
}

/** Options of `natsTransport`: the NATS connection's options plus how messages are named and encoded. */
export interface NatsTransportOptions extends NatsConnectionOptions {
  /**
   * Service name (no spaces, dots or wildcards): the queue group, so instances of one service
   * share commands and events; also names the durable consumers. Required.
   */
  service: string;
  /**
   * Subject prefix: commands/queries on `<prefix>.cmd.<type>`, events on `<prefix>.evt.<type>`.
   * No spaces or wildcards; also used in {@link DurableEventsOptions} stream and subject names.
   * @default "catga"
   */
  prefix?: string;
  /**
   * Payload codec per message type: `"json"`, `"msgpack"` or your own {@link PayloadCodec}.
   * @default MessagePack for every type
   */
  codecs?: Readonly<Record<string, "json" | "msgpack" | PayloadCodec>>;
  /**
   * Deliver events through JetStream instead of core NATS: each service gets each event once
   * (a durable consumer per service and type), even if it was down when the event was published;
   * failures are retried with backoff and dead-lettered to `<prefix>.dlq.<type>` after `maxDeliver`.
   * @default none: every event travels on core NATS (at most once)
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
