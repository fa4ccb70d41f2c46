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

export type BackpressurePolicy = "wait" | "reject";

/** Options of a NATS connection run by the Rust engine. */
export interface NatsConnectionOptions {
  /** One URL or a list, e.g. `nats://127.0.0.1:4222`. */
  servers: string | readonly string[];
  /** Connection name shown by the server (`nats server report connections`). */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** NKey seed (starts with `SU`). */
  nkeySeed?: string;
  /** Path to a `.creds` file (JWT + NKey). */
  credentialsFile?: string;
  tls?: { required?: boolean; caFile?: string; certFile?: string; keyFile?: string };
  /** Reconnect attempts before giving up (at least 1); -1 (default) retries forever. */
  maxReconnects?: number;
  /** First reconnect delay; doubles per attempt with jitter up to `reconnectDelayMaxMs`. */
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
  pingIntervalMs?: number;
  connectTimeoutMs?: number;
  /** Default request timeout (5000). */
  requestTimeoutMs?: number;
  /** Requests awaiting a reply at once (4096); past it `backpressure` applies. */
  maxInFlightRequests?: number;
  /**
   * Bytes accepted for publishing and not yet taken by the client (64 MiB), counted both in the JS
   * batch queue and in the engine. Past it `backpressure` applies: `reject` fails new publishes
   * with CATGA_BACKPRESSURE; `wait` holds their promises until there is room (await them to
   * keep memory bounded).
   */
  maxPendingBytes?: number;
  /** When a bound is reached: wait for room (default) or fail with CATGA_BACKPRESSURE. */
  backpressure?: BackpressurePolicy;
  /** While disconnected: wait for reconnect within the timeout (default) or fail with CATGA_NOT_CONNECTED. */
  whenDisconnected?: BackpressurePolicy;
  /** Don't deliver this connection's publishes to its own subscriptions (default true). */
  noEcho?: boolean;
  /**
   * Outbound batching: a batch closes at `maxMessages` (4096) or `maxBytes` (1 MiB), or after
   * `maxDelayMs` (0 = at the end of the current tick). Frames are also split to fit the server's
   * max_payload.
   */
  batch?: { maxMessages?: number; maxDelayMs?: number; maxBytes?: number };
  /** zstd above this many bytes per frame when it wins (1024); Infinity disables. */
  compressionThreshold?: number;
  compressionLevel?: number;
  limits?: CodecLimits;
  /** Most envelopes per inbound batch handed to JS (4096). */
  inboundBatchMax?: number;
  /**
   * NATS messages buffered per subscription while handlers are busy (1024). Past it the server
   * drops messages for this slow consumer (a `slowConsumer` status event): core NATS is
   * at-most-once, and memory stays bounded.
   */
  subscriptionCapacity?: number;
  /**
   * Requests to one subject that start in the same tick travel as one frame of at most this many
   * (64), and their replies come back as one frame: two NATS messages per group instead of two
   * per request. Responders must be Catga connections; 1 sends every request as its own NATS
   * message (for responders written with another client).
   */
  requestsPerFrame?: number;
  /**
   * Published events leave as frames of about this many bytes before compression (16 KiB); a
   * larger event travels alone. nats-server moves 10–20 KiB messages for less CPU per byte than
   * larger ones, so this is the measured sweet spot (benches/RESULTS.md).
   */
  eventFrameBytes?: number;
}

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
  requestsPerFrame: integer(1, 4096),
  eventFrameBytes: size,
};

const TLS_FIELDS = {
  required: boolean,
  caFile: nonEmptyString,
  certFile: nonEmptyString,
  keyFile: nonEmptyString,
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
  return list.issues;
}

/** Throws one CatgaConfigError listing every bad field. */
export function assertNatsOptions(options: NatsConnectionOptions): void {
  const issues = natsOptionIssues(options);
  if (issues.length > 0) throw new CatgaConfigError(issues);
}
