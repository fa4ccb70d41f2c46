import { statSync } from "node:fs";
import {
  boolean,
  describe,
  type FieldCheck,
  IssueList,
  integer,
  isRecord,
  nonEmptyString,
  oneOf,
  or,
} from "../checks.js";
import { CatgaConfigError, type ConfigIssue } from "../errors.js";
import { I32_MAX, U32_MAX } from "../native/arguments.js";
import type { CodecLimits } from "../native/codec.js";

/**
 * What happens when a bound is reached: `"wait"` holds the call until there is room (or the
 * connection is back); `"reject"` fails it at once with a coded error.
 */
export type BackpressurePolicy = "wait" | "reject";

/**
 * Options of a NATS connection run by the Rust engine. Only `servers` is required; every other
 * field falls back to the default shown, applied by the engine (crates/catga-core nats/options.rs)
 * or, for `batch`, by the JS batcher.
 */
export interface NatsConnectionOptions {
  /**
   * One server URL or a list (`nats://`, `tls://`, `ws://`, `wss://` or `host:port`), e.g.
   * `nats://127.0.0.1:4222`. Required; the client reconnects to any of them.
   */
  servers: string | readonly string[];
  /**
   * Connection name shown by the server (`nats server report connections`).
   * @default none
   */
  name?: string;
  /**
   * User for user/password auth; give it together with {@link NatsConnectionOptions.pass}.
   * @default none
   */
  user?: string;
  /**
   * Password for {@link NatsConnectionOptions.user}; the two must be given together.
   * @default none
   */
  pass?: string;
  /**
   * Token for token auth.
   * @default none
   */
  token?: string;
  /**
   * NKey seed (starts with `SU`) for NKey auth.
   * @default none
   */
  nkeySeed?: string;
  /**
   * Path to a `.creds` file (JWT + NKey), read at connect; an unreadable file fails the connect.
   * @default none
   */
  credentialsFile?: string;
  /** TLS settings; each field is optional. */
  tls?: {
    /**
     * Refuse to connect unless the connection uses TLS.
     * @default false
     */
    required?: boolean;
    /**
     * Path to a PEM file of CA certificates to trust (e.g. a private CA).
     * @default none
     */
    caFile?: string;
    /**
     * Path to the client certificate (PEM) for mutual TLS; needs `keyFile` too.
     * @default none
     */
    certFile?: string;
    /**
     * Path to the private key (PEM) of `certFile`; the two must be given together.
     * @default none
     */
    keyFile?: string;
  };
  /**
   * Reconnect attempts before giving up (at least 1); -1 retries forever. 0 is refused, since
   * async-nats would read it as "no limit". Delays: {@link NatsConnectionOptions.reconnectDelayMs}.
   * @default -1
   */
  maxReconnects?: number;
  /**
   * Base reconnect delay in ms: attempt n waits `reconnectDelayMs × 2^n`, capped at
   * {@link NatsConnectionOptions.reconnectDelayMaxMs}, jittered down to 50–100 % of that.
   * @default 100
   */
  reconnectDelayMs?: number;
  /**
   * Longest wait between reconnect attempts in ms, before jitter; see `reconnectDelayMs`.
   * @default 5000
   */
  reconnectDelayMaxMs?: number;
  /**
   * How often the client pings the server to detect a dead connection, in ms.
   * @default 30000
   */
  pingIntervalMs?: number;
  /**
   * How long opening the connection to a server may take, in ms; past it the server counts as
   * unreachable (connect fails with CATGA_NOT_CONNECTED).
   * @default 5000
   */
  connectTimeoutMs?: number;
  /**
   * Reply deadline in ms for requests that give no timeout of their own (waiting out a disconnect
   * included, see {@link NatsConnectionOptions.whenDisconnected}); also bounds the flush at close.
   * @default 5000
   */
  requestTimeoutMs?: number;
  /**
   * Deadline in ms of a durable publish call (`JetStream.publish`, `publishOne`), counted
   * from the call: admission, sends, re-sends and acks included. Within it a publish that meets a
   * stream-leader election, a lost ack or a reconnect is re-sent with the same message id (the
   * server deduplicates); an item not acked by then is CATGA_TIMEOUT. Longer than
   * {@link NatsConnectionOptions.requestTimeoutMs} by default, to cover an election (4.3–6.8 s
   * measured on a 3-node cluster, docs/architecture/jetstream.md).
   * @default 15000
   */
  durablePublishTimeoutMs?: number;
  /**
   * Requests awaiting a reply at once; past it {@link NatsConnectionOptions.backpressure}
   * applies. Also caps {@link NatsConnectionOptions.requestsPerFrame}.
   * @default 4096
   */
  maxInFlightRequests?: number;
  /**
   * Bytes accepted for publishing and not yet taken by the client, counted both in the JS
   * batch queue and in the engine. Past it {@link NatsConnectionOptions.backpressure} applies:
   * `reject` fails new publishes with CATGA_BACKPRESSURE; `wait` holds their promises until
   * there is room (await them to keep memory bounded).
   * @default 67108864 (64 MiB)
   */
  maxPendingBytes?: number;
  /**
   * When {@link NatsConnectionOptions.maxInFlightRequests} or
   * {@link NatsConnectionOptions.maxPendingBytes} is reached: wait for room, or fail with
   * CATGA_BACKPRESSURE.
   * @default "wait"
   */
  backpressure?: BackpressurePolicy;
  /**
   * While disconnected: wait for the reconnect (requests within their timeout, see
   * `requestTimeoutMs`), or fail new work at once with CATGA_NOT_CONNECTED.
   * @default "wait"
   */
  whenDisconnected?: BackpressurePolicy;
  /**
   * Don't deliver this connection's publishes to its own subscriptions.
   * @default true
   */
  noEcho?: boolean;
  /**
   * Outbound batching in JS: envelopes published in one tick go to the engine in one call. A
   * batch closes at `maxMessages` or `maxBytes`, or after `maxDelayMs`; on the wire it is cut
   * into frames of about {@link NatsConnectionOptions.eventFrameBytes}.
   */
  batch?: {
    /**
     * Most envelopes per batch (1–4096).
     * @default 4096
     */
    maxMessages?: number;
    /**
     * How long an open batch waits for more envelopes, in ms (0–60000); 0 closes it at the end
     * of the current tick, so batching adds no latency.
     * @default 0
     */
    maxDelayMs?: number;
    /**
     * Bytes per batch; a single larger envelope travels alone. The queue as a whole is bounded
     * by {@link NatsConnectionOptions.maxPendingBytes}.
     * @default 1048576 (1 MiB)
     */
    maxBytes?: number;
  };
  /**
   * Frames whose body is larger than this many bytes are zstd-compressed, when that makes them
   * smaller; `Infinity` disables compression. Level: {@link NatsConnectionOptions.compressionLevel}.
   * @default 1024
   */
  compressionThreshold?: number;
  /**
   * zstd level (-7 to 22): higher packs smaller for more CPU. Used above
   * {@link NatsConnectionOptions.compressionThreshold}.
   * @default 1
   */
  compressionLevel?: number;
  /**
   * Size and count caps on frames sent and received ({@link CodecLimits}); unset fields keep
   * their defaults: 1 MiB per envelope, 4096 envelopes and 16 MiB per frame, 16 MiB decompressed.
   * Outbound frames are further capped at the server's `max_payload`.
   * @default the CodecLimits defaults
   */
  limits?: CodecLimits;
  /**
   * Most envelopes per inbound batch handed to JS (one handler call per batch).
   * @default 4096
   */
  inboundBatchMax?: number;
  /**
   * NATS messages the underlying client queues per subscription before the engine takes them.
   * The engine takes them continuously (also while handlers are busy), so this only fills when
   * its threads are starved; past it messages are dropped with a `slowConsumer` status event.
   * @default 1024
   */
  subscriptionCapacity?: number;
  /**
   * Bytes of NATS messages held per subscription while handlers work on the previous batch.
   * Past it this client (not the server) drops the newest messages and counts them
   * (`stats().framesDropped`, per subscription in `subscriptionStats()`): core NATS is
   * at-most-once, and memory stays bounded. Bytes, not a message count, so single envelopes
   * (after a reconnect, or from clients that do not frame) are held as readily as full frames.
   * @default 67108864 (64 MiB)
   */
  subscriptionBufferBytes?: number;
  /**
   * Requests to one subject that start in the same tick travel as one frame of at most this many
   * (1–4096, and at most {@link NatsConnectionOptions.maxInFlightRequests}); their replies come
   * back as one frame. Responders must be Catga connections; 1 sends every request as its own
   * NATS message (for responders written with another client).
   * @default 64
   */
  requestsPerFrame?: number;
  /**
   * Published events leave as frames of about this many bytes before compression; a larger
   * event travels alone. nats-server moves 10–20 KiB messages for less CPU per byte than
   * larger ones, so this is the measured sweet spot (benches/RESULTS.md).
   * @default 16384 (16 KiB)
   */
  eventFrameBytes?: number;
}

/**
 * Every default of {@link NatsConnectionOptions} in one table. The engine applies the same values
 * to fields left out (`__test__/native/defaults.test.ts` checks them against the addon's
 * `natsDefaults()`); `batch` is applied in JS by the connection's batcher.
 */
export const NATS_DEFAULTS = {
  maxReconnects: -1,
  reconnectDelayMs: 100,
  reconnectDelayMaxMs: 5000,
  pingIntervalMs: 30_000,
  connectTimeoutMs: 5000,
  requestTimeoutMs: 5000,
  durablePublishTimeoutMs: 15_000,
  maxInFlightRequests: 4096,
  maxPendingBytes: 64 * 1024 * 1024,
  backpressure: "wait",
  whenDisconnected: "wait",
  noEcho: true,
  compressionThreshold: 1024,
  compressionLevel: 1,
  limits: {
    maxEnvelopeBytes: 1024 * 1024,
    maxBatchCount: 4096,
    maxBatchBytes: 16 * 1024 * 1024,
    maxDecompressedBytes: 16 * 1024 * 1024,
  },
  inboundBatchMax: 4096,
  subscriptionCapacity: 1024,
  subscriptionBufferBytes: 64 * 1024 * 1024,
  requestsPerFrame: 64,
  eventFrameBytes: 16 * 1024,
  batch: { maxMessages: 4096, maxBytes: 1024 * 1024, maxDelayMs: 0 },
} as const;

const SERVER_URL = /^(nats|tls|ws|wss):\/\/[^\s]+$|^[^\s:/]+(:\d+)?$/;
const serverUrl: FieldCheck = (value) =>
  typeof value === "string" && SERVER_URL.test(value)
    ? undefined
    : `must be a NATS URL like nats://host:4222, got ${describe(value)}`;
const object: FieldCheck = (value) =>
  isRecord(value) ? undefined : `must be an object, got ${describe(value)}`;
const size = integer(1, U32_MAX);
const policy = oneOf(["wait", "reject"]);

/** Checked one by one below (each URL with its index, nested fields with their own path). */
const CHECKED_BELOW: FieldCheck = () => undefined;

const FIELDS: Record<keyof NatsConnectionOptions, FieldCheck> = {
  servers: CHECKED_BELOW,
  name: nonEmptyString,
  user: nonEmptyString,
  pass: nonEmptyString,
  token: nonEmptyString,
  nkeySeed: nonEmptyString,
  credentialsFile: nonEmptyString,
  tls: CHECKED_BELOW,
  // async-nats reads 0 as "no limit": refuse it rather than reconnect forever when told not to.
  maxReconnects: or(integer(1, I32_MAX), -1),
  reconnectDelayMs: integer(0, U32_MAX),
  reconnectDelayMaxMs: integer(0, U32_MAX),
  pingIntervalMs: size,
  connectTimeoutMs: size,
  requestTimeoutMs: size,
  durablePublishTimeoutMs: size,
  maxInFlightRequests: size,
  maxPendingBytes: size,
  backpressure: policy,
  whenDisconnected: policy,
  noEcho: boolean,
  batch: CHECKED_BELOW,
  compressionThreshold: or(integer(0, U32_MAX), Number.POSITIVE_INFINITY),
  compressionLevel: integer(-7, 22),
  limits: object,
  inboundBatchMax: size,
  subscriptionCapacity: size,
  subscriptionBufferBytes: size,
  requestsPerFrame: integer(1, 4096),
  eventFrameBytes: size,
};

/**
 * A PEM file that exists. The engine reads TLS files only once the server offers TLS, so a
 * misspelt path would pass unnoticed on a plain server and fail the day TLS is turned on.
 */
const readableFile: FieldCheck = (value) => {
  const problem = nonEmptyString(value);
  if (problem !== undefined) return problem;
  try {
    return statSync(value as string).isFile() ? undefined : `must be a file, got ${JSON.stringify(value)}`;
  } catch {
    return `names no readable file: ${JSON.stringify(value)}`;
  }
};

const TLS_FIELDS = {
  required: boolean,
  caFile: readableFile,
  certFile: readableFile,
  keyFile: readableFile,
};
const BATCH_FIELDS = { maxMessages: integer(1, 4096), maxDelayMs: integer(0, 60_000), maxBytes: size };

/** Every problem with the options, each naming its field; empty when they are valid. */
export function natsOptionIssues(options: NatsConnectionOptions): ConfigIssue[] {
  const list = new IssueList();
  if (!isRecord(options))
    return [{ path: "options", message: `must be an object, got ${describe(options)}` }];
  list.checkObject("", options, FIELDS);
  const servers = typeof options.servers === "string" ? [options.servers] : options.servers;
  if (!Array.isArray(servers) || servers.length === 0)
    list.add("servers", "must be a URL or a non-empty list of URLs");
  else
    servers.forEach((server, i) => {
      const problem = serverUrl(server);
      if (problem !== undefined) list.add(`servers[${i}]`, problem);
    });
  if ((options.user === undefined) !== (options.pass === undefined))
    list.add("user", "user and pass must be given together");
  const tls = list.checkObject("tls", options.tls, TLS_FIELDS);
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined))
    list.add("tls.certFile", "certFile and keyFile must be given together");
  list.checkObject("batch", options.batch, BATCH_FIELDS);
  const reconnectDelayMs = options.reconnectDelayMs;
  const reconnectDelayMaxMs = options.reconnectDelayMaxMs ?? NATS_DEFAULTS.reconnectDelayMaxMs;
  if (
    Number.isInteger(reconnectDelayMs) &&
    Number.isInteger(reconnectDelayMaxMs) &&
    reconnectDelayMs! > reconnectDelayMaxMs
  )
    list.add(
      "reconnectDelayMs",
      `must not exceed reconnectDelayMaxMs (${reconnectDelayMaxMs}), got ${reconnectDelayMs}: the cap would make every wait the same`,
    );
  return list.issues;
}

/** Throws one CatgaConfigError listing every bad field. */
export function assertNatsOptions(options: NatsConnectionOptions): void {
  const issues = natsOptionIssues(options);
  if (issues.length > 0) throw new CatgaConfigError(issues);
}
