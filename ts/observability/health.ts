import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, type FieldCheck, IssueList, integer, isRecord, MAX_DELAY_MS } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import type { Transport } from "../mediator/transport.js";

/** What a check may return: `true`/`false`, or a status with details. Throwing or rejecting means down. */
// biome-ignore lint/suspicious/noConfusingVoidType: a check that returns nothing (and does not throw) is up
export type CheckOutcome = boolean | void | { readonly status: "up" | "down"; readonly details?: unknown };

/** A check function, or an object probed by its shape (see `health`). */
export type HealthTarget =
  | (() => CheckOutcome | Promise<CheckOutcome>)
  | {
      /** The target's own check: true/void is up, false or a throw is down. */
      health(): CheckOutcome | Promise<CheckOutcome>;
    }
  | object;

/** One check's outcome in a {@link HealthReport}. */
export interface CheckResult {
  /** "down" when the check failed, threw or took longer than `timeoutMs`. */
  readonly status: "up" | "down";
  /** How long the check took, in milliseconds. */
  readonly durationMs: number;
  /** What the check reported beside its status (e.g. a NATS connection's reconnects). */
  readonly details?: unknown;
  /** Why it is down: the Catga code (or the error's name) and message. */
  readonly error?: { readonly code: string; readonly message: string };
}

/** What `health` resolves with (and readiness answers as JSON): the overall status and each check. */
export interface HealthReport {
  /** "up" when every check is up. */
  readonly status: "up" | "down";
  /** `transport`, `cluster`, `stores.<name>`, `consumers.<name>`. */
  readonly checks: Readonly<Record<string, CheckResult>>;
}

/** Options of `health` / `healthHandlers`: which checks run and how long each may take. */
export interface HealthOptions {
  /**
   * Transport to check (reported as `transport`).
   * @default the mediator's transport; none = in process, always up
   */
  readonly transport?: Transport | object;
  /**
   * Idempotency/inbox stores, outboxes, pools, Redis clients, or check functions, by name
   * (reported as `stores.<name>`).
   * @default none
   */
  readonly stores?: Readonly<Record<string, HealthTarget>>;
  /**
   * Consumers (an outbox relay, a JetStream consumer's check...), by name (reported as
   * `consumers.<name>`).
   * @default none
   */
  readonly consumers?: Readonly<Record<string, HealthTarget>>;
  /**
   * A cluster (`@catga/native/cluster`), reported as `cluster`: up while it is open and
   * connected; details list its members in view and who leads each leadership it campaigns for.
   * @default none
   */
  readonly cluster?: HealthTarget;
  /**
   * A check slower than this many ms is down.
   * @default 2000
   */
  readonly timeoutMs?: number;
}

/** The mediator, or anything with its `transport`. */
export interface HealthSubject {
  readonly transport?: Transport | undefined;
}

const PROBE_KEY = "catga:health:probe";

/**
 * Runs one target's check by its shape. `name` is set for stores and consumers: a target of no
 * known shape is down there (nothing was checked); for the transport it is up (in process).
 */
async function probe(target: HealthTarget, name?: string): Promise<CheckOutcome> {
  if (typeof target === "function") return (target as () => CheckOutcome | Promise<CheckOutcome>)();
  if (typeof target !== "object" || target === null) return unrecognised(target, name);
  const t = target as Record<string, unknown>;
  if (typeof t.health === "function") return (t.health as () => CheckOutcome)();
  // A NATS transport or connection: connected right now?
  const connection = (t.connection as Record<string, unknown> | undefined) ?? t;
  if (typeof connection.connected === "boolean" && typeof connection.stats === "function") {
    // A connection that was closed (or is closing) takes no work, whatever the socket says.
    if (typeof connection.assertOpen === "function") (connection.assertOpen as () => void)();
    const stats = (connection.stats as () => { reconnects: number; backpressureWaits: number })();
    return {
      status: connection.connected ? "up" : "down",
      details: { connected: connection.connected, reconnects: stats.reconnects },
    };
  }
  // An outbox relay: running, and its store answers how much is pending.
  if (typeof t.pending === "function" && typeof t.isRunning === "boolean") {
    const pending = await (t.pending as () => Promise<number>)();
    const lastError = t.lastError as CatgaError | undefined;
    return {
      status: t.isRunning ? "up" : "down",
      details: { running: t.isRunning, pending, ...(lastError ? { lastError: lastError.code } : {}) },
    };
  }
  if (typeof t.ping === "function") {
    await (t.ping as () => unknown)();
    return true;
  }
  // A PostgreSQL pool or client.
  if (typeof t.query === "function" && typeof t.connect === "function") {
    await (t.query as (sql: string) => Promise<unknown>)("SELECT 1");
    return true;
  }
  // An idempotency store: one real read.
  if (typeof t.get === "function" && typeof t.set === "function") {
    await (t.get as (key: string) => unknown)(PROBE_KEY);
    return true;
  }
  return unrecognised(target, name);
}

function unrecognised(target: unknown, name: string | undefined): true {
  // An in-process transport (or any transport without a connection) has nothing to ask: up.
  if (name === undefined) return true;
  const keys = typeof target === "object" && target !== null ? Object.keys(target).slice(0, 5) : [];
  const what =
    target === null
      ? "null"
      : typeof target === "object"
        ? `an object${keys.length > 0 ? ` (keys: ${keys.join(", ")})` : ""}`
        : typeof target;
  throw new CatgaError(
    ErrorCodes.CONFIG,
    `health check "${name}": ${what} of no known shape, so nothing was checked (pass a check ` +
      "function, or an object with health(), ping(), pending() + isRunning, query() + connect(), " +
      "get() + set(), or a NATS connection)",
  );
}

async function run(target: HealthTarget, timeoutMs: number, name?: string): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
  try {
    const outcome = await Promise.race([
      probe(target, name),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new CatgaError(ErrorCodes.TIMEOUT, `health check took longer than ${timeoutMs} ms`)),
          timeoutMs,
        );
        timer.unref();
      }),
    ]);
    if (outcome === false) return { status: "down", durationMs: elapsed() };
    if (typeof outcome === "object" && outcome !== null)
      return { status: outcome.status, durationMs: elapsed(), details: outcome.details };
    return { status: "up", durationMs: elapsed() };
  } catch (error) {
    const code =
      error instanceof CatgaError
        ? error.code
        : error instanceof Error
          ? error.name
          : ErrorCodes.HANDLER_FAILED;
    return {
      status: "down",
      durationMs: elapsed(),
      error: { code, message: String((error as Error)?.message ?? error) },
    };
  } finally {
    clearTimeout(timer);
  }
}

const anObject: FieldCheck = (value) =>
  typeof value === "object" && value !== null ? undefined : `must be an object, got ${describe(value)}`;
const byName: FieldCheck = (value) =>
  isRecord(value) ? undefined : `must be an object of checks by name, got ${describe(value)}`;

/**
 * The fields of {@link HealthOptions}, for every entry point (`health`, the handlers, the Fastify
 * plugin's `health` option): a misspelt `stores` would otherwise turn its checks off and leave
 * readiness reporting up for nothing checked.
 */
export const HEALTH_OPTION_FIELDS: Record<keyof HealthOptions, FieldCheck> = {
  transport: anObject,
  stores: byName,
  consumers: byName,
  cluster: (value) =>
    typeof value === "function" || (typeof value === "object" && value !== null)
      ? undefined
      : `must be a cluster or a check, got ${describe(value)}`,
  timeoutMs: integer(1, MAX_DELAY_MS),
};

/** Throws one CatgaConfigError listing what is wrong with `health`'s arguments. */
function assertHealthArguments(catga: unknown, options: unknown): void {
  const issues = new IssueList();
  if (catga !== undefined && (typeof catga !== "object" || catga === null))
    issues.add("catga", `must be the built mediator (or undefined: in process), got ${describe(catga)}`);
  issues.checkObject("health", options, HEALTH_OPTION_FIELDS);
  issues.throwIfAny();
}

/**
 * Checks the transport connection, stores and consumers concurrently (each with a timeout) and
 * reports every check. Status is "up" only when all are up.
 */
export async function health(
  catga: HealthSubject | undefined,
  options: HealthOptions = {},
): Promise<HealthReport> {
  assertHealthArguments(catga, options);
  const timeoutMs = options.timeoutMs ?? 2000;
  const entries: [string, HealthTarget, boolean][] = [];
  const transport = options.transport ?? catga?.transport;
  entries.push([
    "transport",
    transport ?? (() => ({ status: "up", details: { transport: "in-process" } })),
    false,
  ]);
  if (options.cluster !== undefined) entries.push(["cluster", options.cluster, true]);
  for (const [name, target] of Object.entries(options.stores ?? {}))
    entries.push([`stores.${name}`, target, true]);
  for (const [name, target] of Object.entries(options.consumers ?? {}))
    entries.push([`consumers.${name}`, target, true]);
  const results = await Promise.all(
    entries.map(([name, target, strict]) => run(target, timeoutMs, strict ? name : undefined)),
  );
  const checks: Record<string, CheckResult> = {};
  entries.forEach(([name], i) => {
    checks[name] = results[i]!;
  });
  return { status: results.every((r) => r.status === "up") ? "up" : "down", checks };
}

const LIVE = JSON.stringify({ status: "up" });

/** `node:http` handlers: liveness (the process answers) and readiness (200 when `health` is up, else 503). */
export function healthHandlers(
  catga: HealthSubject | undefined,
  options: HealthOptions = {},
): {
  /** Answers 200 `{"status":"up"}` while the process can answer at all. */
  liveness(request: IncomingMessage, response: ServerResponse): void;
  /** Runs `health` and answers its report: 200 when up, 503 when any check is down. */
  readiness(request: IncomingMessage, response: ServerResponse): Promise<void>;
} {
  assertHealthArguments(catga, options); // at set-up, not at the first probe
  const send = (response: ServerResponse, status: number, body: string) => {
    response.statusCode = status;
    response.setHeader("content-type", "application/json; charset=utf-8");
    response.setHeader("cache-control", "no-store");
    response.end(body);
  };
  return {
    liveness(_request, response) {
      send(response, 200, LIVE);
    },
    async readiness(_request, response) {
      const report = await health(catga, options);
      send(response, report.status === "up" ? 200 : 503, JSON.stringify(report));
    },
  };
}

/** The part of a Fastify reply used here (no fastify dependency). */
export interface ReplyLike {
  /** Sets the HTTP status. */
  code(status: number): ReplyLike;
  /** Sets a response header. */
  header(name: string, value: string): ReplyLike;
  /** Sends `body` (serialized as JSON by Fastify). */
  send(body: unknown): unknown;
}

/** Fastify-shaped handlers `(request, reply)`: `fastify.get("/health/ready", handlers.readiness)`. */
export function fastifyHealthHandlers(
  catga: HealthSubject | undefined,
  options: HealthOptions = {},
): {
  /** Answers 200 `{"status":"up"}` while the process can answer at all. */
  liveness(request: unknown, reply: ReplyLike): Promise<unknown>;
  /** Runs `health` and answers its report: 200 when up, 503 when any check is down. */
  readiness(request: unknown, reply: ReplyLike): Promise<unknown>;
} {
  assertHealthArguments(catga, options);
  return {
    async liveness(_request, reply) {
      return reply.code(200).header("cache-control", "no-store").send({ status: "up" });
    },
    async readiness(_request, reply) {
      const report = await health(catga, options);
      return reply
        .code(report.status === "up" ? 200 : 503)
        .header("cache-control", "no-store")
        .send(report);
    },
  };
}
