import {
  alsoExpected,
  atMost,
  describe,
  type FieldCheck,
  IssueList,
  integer,
  isRecord,
  MAX_SUBJECT_NAME_LENGTH,
  stringList,
  token,
} from "../checks.js";
import {
  DURABLE_CONSUMER_FIELDS,
  type DurableConsumerOptions,
  STREAM_SETTING_FIELDS,
  type StreamOptions,
} from "../jetstream/options.js";
import { contractNameProblem } from "../mediator/contracts.js";
import { U32_MAX } from "../native/arguments.js";
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
   * event stream's retention ({@link StreamOptions} without `name`/`subjects`); its `replicas` and
   * `storage` apply to the dead-letter stream too (losing a server must not lose dead letters).
   * Settings left out, and the dead-letter stream's limits, are the {@link StreamOptions} defaults
   * (`STREAM_DEFAULTS`): file storage, kept forever, 2-minute duplicate window.
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

/**
 * Where `.durable()` commands are stored and how each service takes them (docs/architecture/durable-commands.md).
 * Which commands are durable is the contracts' choice, not the transport's: callers and handlers
 * share the contract, so they cannot disagree.
 */
export interface DurableCommandsOptions {
  /**
   * Work-queue stream for the commands (capturing `<prefix>.dcmd.>`); their dead letters go to
   * `<stream>_DLQ` (capturing `<prefix>.dcmd-dlq.>`).
   * @default `<PREFIX>_COMMANDS`: the prefix upper-cased, other characters as `_` (`CATGA_COMMANDS`)
   */
  readonly stream?: string;
  /**
   * Create/update both streams at connect (`false`: they must exist). A service not given
   * `durableCommands` never creates or changes them: it uses them as they are, and its durable
   * sends and handlers fail with a coded error while they are missing. Give the same settings to
   * every service that provisions. An object also sets the command stream's limits
   * ({@link StreamOptions} without `name`, `subjects` and `retention`, which is always
   * `"workqueue"`); its `replicas` and `storage` apply to the dead-letter and results streams too.
   * The rest, and the dead-letter stream's limits, are the `STREAM_DEFAULTS`: file storage, kept
   * until handled, 2-minute duplicate window (the span of `messageId` dedupe).
   * @default true
   */
  readonly provision?: boolean | Omit<StreamOptions, "name" | "subjects" | "retention">;
  /**
   * Settings of the durable consumer each handling service shares across its instances, one per
   * command type (named `<service>-<type>`, filtered to `<prefix>.dcmd.<type>`). `ackWaitMs` is
   * also how long a command taken by a process that died waits before another instance gets it.
   * @default the DurableConsumerOptions defaults (5 deliveries, 30 s ack wait, batches of 256)
   */
  readonly consumer?: Pick<
    DurableConsumerOptions,
    "ackWaitMs" | "maxDeliver" | "backoffMs" | "maxAckPending" | "batch" | "fetchWaitMs" | "orderBy"
  >;
}

/**
 * Scheduled and delayed messages (`deliverAt` / `delayMs` on `publish` and durable `send`;
 * docs/architecture/scheduling.md). Every instance given it delivers due timers; give it to at least one.
 */
export interface SchedulingOptions {
  /**
   * The schedule stream's name; it captures `<prefix>.sched.>` (one message per pending timer) and
   * `<prefix>.sched-dlq.>`.
   * @default `<PREFIX>_SCHEDULE` (the prefix upper-cased, other characters as `_`)
   */
  readonly stream?: string;
  /**
   * Create or update the schedule stream at connect. An object also sets its limits
   * ({@link StreamOptions} without `name`, `subjects` and `retention`, always `"workqueue"`).
   * @default true
   */
  readonly provision?: boolean | Omit<StreamOptions, "name" | "subjects" | "retention">;
  /**
   * The shared durable consumer `catga-scheduler`: `ackWaitMs` is how long a timer taken by an
   * instance that died waits before another delivers it; `batch` timers per fetch.
   * @default ackWaitMs 30 000, batch 1024, fetchWaitMs 1000
   */
  readonly consumer?: Pick<DurableConsumerOptions, "ackWaitMs" | "batch" | "fetchWaitMs">;
}

/**
 * Options of `natsTransport`: the NATS connection's options plus how messages are named and
 * encoded. Not `noEcho`: the transport's connection always receives its own publishes, as a
 * service gets its own events through its own subscriptions (issue 14).
 */
export interface NatsTransportOptions extends Omit<NatsConnectionOptions, "noEcho"> {
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
  /**
   * Streams and consumer settings of commands declared `.durable()` (which commands are durable is
   * the contracts' choice). Given, this service creates/updates the streams at connect; left out,
   * it uses the streams another service set up, with the default consumer settings.
   * @default none: streams not provisioned by this service; DurableCommandsOptions defaults
   */
  durableCommands?: DurableCommandsOptions;
  /**
   * Enables scheduled and delayed messages: creates the schedule stream at connect and delivers
   * due timers from this process. Without it, `deliverAt`/`delayMs` fail with CATGA_CONFIG.
   * @default none: scheduling disabled
   */
  scheduling?: SchedulingOptions;
  /**
   * Requests of one subscription (one command or query type) whose handlers may run at once in
   * this process. A request answered synchronously takes no slot; the others hold theirs until
   * their handler settles, and each is answered as soon as it does, so a slow handler holds up no
   * other request. With every slot taken the subscription takes no more requests until one is
   * free; those arriving meanwhile wait in its buffer
   * ({@link NatsConnectionOptions.subscriptionBufferBytes}), as the engine's backpressure.
   * @default 1024
   */
  maxConcurrentRequests?: number;
}

/** Defaults of the transport's own options (the connection's are `NATS_DEFAULTS`). */
export const TRANSPORT_DEFAULTS = {
  prefix: "catga",
  maxConcurrentRequests: 1024,
} as const;

/** A subject prefix: what `prefix` takes here, and what tools reading a transport's subjects take. */
export const subjectPrefix: FieldCheck = atMost(MAX_SUBJECT_NAME_LENGTH, (value) =>
  // Dot-separated tokens, none empty: "a..b", ".a" or "a." is no subject the server accepts.
  typeof value === "string" && /^[^\s*>.]+(\.[^\s*>.]+)*$/.test(value)
    ? undefined
    : `must be a subject prefix (dot-separated tokens, none empty) without spaces or wildcards, got ${describe(value)}`,
);
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
  prefix: subjectPrefix,
  codecs: CHECKED_BELOW,
  durableEvents: CHECKED_BELOW,
  durableCommands: CHECKED_BELOW,
  scheduling: CHECKED_BELOW,
  maxConcurrentRequests: integer(1, U32_MAX),
};
const SCHEDULING_FIELDS: Record<keyof SchedulingOptions, FieldCheck> = {
  stream: token,
  provision,
  consumer: CHECKED_BELOW,
};
const DURABLE_FIELDS: Record<keyof DurableEventsOptions, FieldCheck> = {
  stream: token,
  types: stringList,
  provision,
  consumer: CHECKED_BELOW,
};

const DURABLE_COMMAND_FIELDS: Record<keyof DurableCommandsOptions, FieldCheck> = {
  stream: token,
  provision,
  consumer: CHECKED_BELOW,
};
/** A work queue is what makes each command go to one instance: its retention is not a choice. */
const { retention: _retention, ...COMMAND_STREAM_FIELDS } = STREAM_SETTING_FIELDS;
const SCHEDULING_CONSUMER_FIELDS: Record<keyof NonNullable<SchedulingOptions["consumer"]>, FieldCheck> = {
  ackWaitMs: DURABLE_CONSUMER_FIELDS.ackWaitMs,
  batch: DURABLE_CONSUMER_FIELDS.batch,
  fetchWaitMs: DURABLE_CONSUMER_FIELDS.fetchWaitMs,
};

/**
 * The default name of a durable stream of `prefix`: the prefix upper-cased, other characters as
 * `_`, then `_EVENTS`, `_COMMANDS` or `_SCHEDULE`.
 */
export function defaultStreamName(prefix: string, of: "EVENTS" | "COMMANDS" | "SCHEDULE"): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_${of}`;
}

/**
 * Durable events and commands each need their stream and `<stream>_DLQ`: a name shared between
 * them would make one service's provisioning rewrite the other's subjects.
 */
function streamClash(
  prefix: unknown,
  events: Record<string, unknown>,
  commands: Record<string, unknown>,
): string | undefined {
  const at = typeof prefix === "string" ? prefix : "catga";
  const eventStream = typeof events.stream === "string" ? events.stream : defaultStreamName(at, "EVENTS");
  const commandStream =
    typeof commands.stream === "string" ? commands.stream : defaultStreamName(at, "COMMANDS");
  const eventNames = [eventStream, `${eventStream}_DLQ`];
  const shared = [commandStream, `${commandStream}_DLQ`].find((name) => eventNames.includes(name));
  return shared === undefined
    ? undefined
    : `the stream "${shared}" would be shared with durableEvents; give durable commands a stream of their own`;
}

/** Checks every transport option at once; throws one CatgaConfigError listing all issues. */
export function assertTransportOptions(options: NatsTransportOptions): void {
  const list = new IssueList();
  if (!isRecord(options)) list.add("options", `must be an object, got ${describe(options)}`);
  else {
    const {
      service,
      prefix,
      codecs,
      durableEvents,
      durableCommands,
      scheduling,
      maxConcurrentRequests,
      ...connection
    } = options;
    const { noEcho, ...rest } = connection as NatsConnectionOptions; // a JavaScript caller may pass it
    if (noEcho !== undefined && noEcho !== false)
      list.add(
        "noEcho",
        `must be left out: a service gets its own events through its own subscriptions, got ${describe(noEcho)}`,
      );
    list.issues.push(
      ...natsOptionIssues(rest).map((issue) =>
        issue.path.includes(".") ? issue : alsoExpected(issue, Object.keys(TRANSPORT_FIELDS)),
      ),
    );
    list.checkObject(
      "",
      { service, prefix, codecs, durableEvents, durableCommands, scheduling, maxConcurrentRequests },
      TRANSPORT_FIELDS,
    );
    const schedule = list.checkObject("scheduling", scheduling, SCHEDULING_FIELDS);
    if (isRecord(schedule.provision))
      list.checkObject("scheduling.provision", schedule.provision, COMMAND_STREAM_FIELDS);
    list.checkObject("scheduling.consumer", schedule.consumer, SCHEDULING_CONSUMER_FIELDS);
    if (service === undefined) list.add("service", "is required");
    if (codecs !== undefined && !isRecord(codecs))
      list.add("codecs", `must be an object of message type → codec, got ${describe(codecs)}`);
    else
      for (const [type, each] of Object.entries(codecs ?? {})) {
        // A key that is no contract name can never match a message: the codec would never apply.
        const problem = contractNameProblem(type);
        if (problem !== undefined) list.add(`codecs.${type}`, `is not a message type name: it ${problem}`);
        else list.checkValue(`codecs.${type}`, each, codec);
      }
    const durable = list.checkObject("durableEvents", durableEvents, DURABLE_FIELDS);
    list.checkObject("durableEvents.consumer", durable.consumer, DURABLE_CONSUMER_FIELDS);
    const commands = list.checkObject("durableCommands", durableCommands, DURABLE_COMMAND_FIELDS);
    if (isRecord(commands.provision))
      list.checkObject("durableCommands.provision", commands.provision, COMMAND_STREAM_FIELDS);
    list.checkObject("durableCommands.consumer", commands.consumer, DURABLE_CONSUMER_FIELDS);
    const clash =
      durableEvents !== undefined && durableCommands !== undefined
        ? streamClash(prefix, durable, commands)
        : undefined;
    if (clash !== undefined) list.add("durableCommands.stream", clash);
  }
  list.throwIfAny();
}
