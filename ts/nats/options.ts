import { CatgaConfigError, type ConfigIssue } from "../errors.js";
import { U32_MAX } from "../native/arguments.js";
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

const KNOWN = new Set([
  "servers",
  "name",
  "user",
  "pass",
  "token",
  "nkeySeed",
  "credentialsFile",
  "tls",
  "maxReconnects",
  "reconnectDelayMs",
  "reconnectDelayMaxMs",
  "pingIntervalMs",
  "connectTimeoutMs",
  "requestTimeoutMs",
  "maxInFlightRequests",
  "maxPendingBytes",
  "backpressure",
  "whenDisconnected",
  "noEcho",
  "batch",
  "compressionThreshold",
  "compressionLevel",
  "limits",
  "inboundBatchMax",
  "subscriptionCapacity",
  "requestsPerFrame",
  "eventFrameBytes",
]);

/** Every problem with the options, each naming its field; empty when they are valid. */
export function natsOptionIssues(options: NatsConnectionOptions): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const bad = (path: string, message: string) => issues.push({ path, message });
  if (typeof options !== "object" || options === null)
    return [{ path: "options", message: "must be an object" }];
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) bad(key, "is not a known option");

  const servers = typeof options.servers === "string" ? [options.servers] : options.servers;
  if (!Array.isArray(servers) || servers.length === 0)
    bad("servers", "must be a URL or a non-empty list of URLs");
  else
    servers.forEach((s, i) => {
      if (typeof s !== "string" || !/^(nats|tls|ws|wss):\/\/[^\s]+$|^[^\s:/]+(:\d+)?$/.test(s))
        bad(`servers[${i}]`, `must be a NATS URL like nats://host:4222, got ${JSON.stringify(s)}`);
    });

  const int = (path: string, value: unknown, min: number, max = U32_MAX) => {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
      bad(path, `must be a whole number between ${min} and ${max}, got ${JSON.stringify(value)}`);
  };
  const str = (path: string, value: unknown) => {
    if (value !== undefined && (typeof value !== "string" || value.length === 0))
      bad(path, "must be a non-empty string");
  };
  for (const key of ["name", "user", "pass", "token", "nkeySeed", "credentialsFile"] as const)
    str(key, options[key]);
  if ((options.user === undefined) !== (options.pass === undefined))
    bad("user", "user and pass must be given together");
  if (options.tls !== undefined) {
    if (typeof options.tls !== "object" || options.tls === null) bad("tls", "must be an object");
    else {
      for (const key of ["caFile", "certFile", "keyFile"] as const) str(`tls.${key}`, options.tls[key]);
      if ((options.tls.certFile === undefined) !== (options.tls.keyFile === undefined))
        bad("tls.certFile", "certFile and keyFile must be given together");
    }
  }
  int("maxReconnects", options.maxReconnects, -1, 2_147_483_647);
  // async-nats reads 0 as "no limit": refuse it rather than reconnect forever when told not to.
  if (options.maxReconnects === 0) bad("maxReconnects", "must be -1 (forever) or at least 1, got 0");
  int("reconnectDelayMs", options.reconnectDelayMs, 0);
  int("reconnectDelayMaxMs", options.reconnectDelayMaxMs, 0);
  int("pingIntervalMs", options.pingIntervalMs, 1);
  int("connectTimeoutMs", options.connectTimeoutMs, 1);
  int("requestTimeoutMs", options.requestTimeoutMs, 1);
  int("maxInFlightRequests", options.maxInFlightRequests, 1);
  int("maxPendingBytes", options.maxPendingBytes, 1);
  int("inboundBatchMax", options.inboundBatchMax, 1);
  int("subscriptionCapacity", options.subscriptionCapacity, 1);
  int("requestsPerFrame", options.requestsPerFrame, 1, 4096);
  int("eventFrameBytes", options.eventFrameBytes, 1, U32_MAX);
  int("compressionLevel", options.compressionLevel, -7, 22);
  if (options.compressionThreshold !== undefined && options.compressionThreshold !== Number.POSITIVE_INFINITY)
    int("compressionThreshold", options.compressionThreshold, 0);
  for (const key of ["backpressure", "whenDisconnected"] as const) {
    const v = options[key];
    if (v !== undefined && v !== "wait" && v !== "reject")
      bad(key, `must be "wait" or "reject", got ${JSON.stringify(v)}`);
  }
  if (options.noEcho !== undefined && typeof options.noEcho !== "boolean") bad("noEcho", "must be a boolean");
  if (options.batch !== undefined) {
    int("batch.maxMessages", options.batch.maxMessages, 1, 4096);
    int("batch.maxDelayMs", options.batch.maxDelayMs, 0, 60_000);
    int("batch.maxBytes", options.batch.maxBytes, 1);
  }
  return issues;
}

/** Throws one CatgaConfigError listing every bad field. */
export function assertNatsOptions(options: NatsConnectionOptions): void {
  const issues = natsOptionIssues(options);
  if (issues.length > 0) throw new CatgaConfigError(issues);
}
