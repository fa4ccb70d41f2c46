/** The options of the Fastify plugin, their defaults and their checks. */
import { boolean, describe, type FieldCheck, IssueList, integer, isRecord, MAX_DELAY_MS } from "../checks.js";
import type { AnyContract } from "../mediator/contracts.js";
import type { Catga } from "../mediator/mediator.js";
import { HEALTH_OPTION_FIELDS, type HealthOptions } from "../observability/health.js";
import type { ProblemMapping, ProblemStatuses } from "./problems.js";

/** Health and readiness routes, and what readiness checks. */
export interface HealthRouteOptions extends HealthOptions {
  /**
   * Liveness: 200 while the process answers.
   * @default "/health/live"
   */
  readonly livePath?: string;
  /**
   * Readiness: 200 when every check of `health()` is up, else 503 with the report.
   * @default "/health/ready"
   */
  readonly readyPath?: string;
}

/** Options of `catgaFastify` (`fastify.register(catgaFastify, options)`). */
export interface CatgaFastifyOptions<Handled extends AnyContract = AnyContract> {
  /** The built mediator; `fastify.catga` and `request.catga` call it. */
  readonly catga: Catga<Handled>;
  /**
   * Status and exposure per error code, merged over {@link PROBLEM_STATUSES} code by code: add
   * your domain codes (`{ ORDERS_NOT_FOUND: { status: 404, expose: true } }`) or change a
   * Catga code's answer. A code in neither is a 500 that names neither code nor message.
   * @default PROBLEM_STATUSES
   */
  readonly statuses?: ProblemStatuses;
  /**
   * Health routes ({@link HealthRouteOptions}); `false` adds none.
   * @default liveness at `/health/live`, readiness at `/health/ready` checking the mediator's transport
   */
  readonly health?: HealthRouteOptions | false;
  /**
   * Set an error handler that answers problem+json: a thrown `CatgaError` (e.g. from
   * `result.unwrap()`) by the same table, Fastify's own 4xx (bad JSON, schema validation) with
   * their message, anything else as a 500 without detail. `false` leaves the error handler alone.
   * @default true
   */
  readonly errorHandler?: boolean;
  /**
   * Continue the W3C trace context of each request (`traceparent`, `tracestate`) in the messages
   * its route sends through `request.catga`.
   * @default true
   */
  readonly traceContext?: boolean;
  /**
   * On `fastify.close()`, close the mediator (its transport) once in-flight calls settled.
   * `false` when the mediator outlives this server.
   * @default true
   */
  readonly closeCatga?: boolean;
  /**
   * How long `fastify.close()` waits for the calls routes started through `request.catga` before
   * it closes the mediator anyway (logged with the number left).
   * @default 10000
   */
  readonly drainTimeoutMs?: number;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

const path: FieldCheck = (value) =>
  typeof value === "string" && value.startsWith("/")
    ? undefined
    : `must be a path starting with "/", got ${describe(value)}`;

const mediator: FieldCheck = (value) =>
  isRecord(value) && typeof value.send === "function" && typeof value.close === "function"
    ? undefined
    : `must be a built mediator (createCatga(...).build()), got ${describe(value)}`;

const mapping = (value: unknown): string | undefined => {
  if (!isRecord(value)) return `must be an object { status, expose?, retryAfterSeconds?, type?, title? }`;
  const { status, expose, retryAfterSeconds, type, title, ...rest } = value as Record<
    keyof ProblemMapping,
    unknown
  >;
  const extra = Object.keys(rest);
  if (extra.length > 0) return `has unknown key "${extra[0]}"`;
  return (
    prefixed("status", integer(400, 599)(status)) ??
    (expose === undefined ? undefined : prefixed("expose", boolean(expose))) ??
    (retryAfterSeconds === undefined
      ? undefined
      : prefixed("retryAfterSeconds", integer(0)(retryAfterSeconds))) ??
    (type === undefined || typeof type === "string" ? undefined : "type must be a string") ??
    (title === undefined || typeof title === "string" ? undefined : "title must be a string")
  );
};

function prefixed(field: string, problem: string | undefined): string | undefined {
  return problem === undefined ? undefined : `${field} ${problem}`;
}

/** The table as a whole; its entries are checked one by one in `checkFastifyOptions`, each named. */
const statuses: FieldCheck = (value) =>
  isRecord(value) ? undefined : `must be an object of error code → mapping, got ${describe(value)}`;

// Keys Fastify itself reads from the options of `register`.
const FASTIFY_KEYS = new Set(["prefix", "logLevel", "logSerializers"]);

/** Checks the plugin's options; throws one CatgaConfigError listing every problem. */
export function checkFastifyOptions(options: unknown): CatgaFastifyOptions {
  const issues = new IssueList();
  const own = isRecord(options)
    ? Object.fromEntries(Object.entries(options).filter(([key]) => !FASTIFY_KEYS.has(key)))
    : options;
  const record = issues.checkObject("", own, {
    catga: mediator,
    statuses,
    health: (value) =>
      value === false ? undefined : isRecord(value) ? undefined : "must be an object or false",
    errorHandler: boolean,
    traceContext: boolean,
    closeCatga: boolean,
    drainTimeoutMs: integer(0, MAX_DELAY_MS),
  });
  if (isRecord(record.statuses))
    for (const [code, entry] of Object.entries(record.statuses)) {
      const problem = code.length === 0 ? "is not an error code (empty)" : mapping(entry);
      if (problem !== undefined) issues.add(`statuses.${code}`, problem);
    }
  if (own === undefined || (isRecord(own) && own.catga === undefined))
    issues.add("catga", "is required (the built mediator)");
  if (isRecord(record.health)) {
    issues.checkObject("health", record.health, { livePath: path, readyPath: path, ...HEALTH_OPTION_FIELDS });
    // One path for both routes: Fastify's FST_ERR_DUPLICATED_ROUTE, not a config issue, otherwise.
    const live = record.health.livePath ?? "/health/live";
    const ready = record.health.readyPath ?? "/health/ready";
    if (live === ready)
      issues.add("health.readyPath", `must differ from health.livePath, both ${describe(live)}`);
  }
  issues.throwIfAny();
  return own as CatgaFastifyOptions;
}
