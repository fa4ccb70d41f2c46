/**
 * Options of the cluster API (membership, leader election, locks), their defaults as named
 * constants, and the checks that turn bad input into one coded error naming the field.
 */
import {
  atMost,
  boolean,
  checkArgument,
  type FieldCheck,
  func,
  IssueList,
  integer,
  MAX_DELAY_MS,
  MAX_SUBJECT_NAME_LENGTH,
  number,
} from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";

/** Defaults of {@link ClusterOptions}, {@link LeaderOptions} and {@link LockOptions}. */
export const CLUSTER_DEFAULTS = Object.freeze({
  version: "0.0.0",
  weight: 1,
  heartbeatMs: 2000,
  bucket: "catga_cluster",
  discovery: true,
  leaderTtlMs: 10_000,
  lockTtlMs: 30_000,
  lockWaitMs: 10_000,
});

/** Options of `cluster(transport, options)`. */
export interface ClusterOptions {
  /**
   * The service this instance belongs to: letters, digits, `-` or `_` (the NATS micro protocol's
   * rule, so discovery tools can list it).
   * @default the transport's `service`
   */
  readonly service?: string;
  /**
   * This instance's id, unique in the cluster (letters, digits, `-`, `_`, `=`).
   * @default a random id (`<service>-<uuid>`)
   */
  readonly instanceId?: string;
  /**
   * The instance's version, a semantic version (reported to discovery tools and in `members()`).
   * @default "0.0.0"
   */
  readonly version?: string;
  /**
   * Relative capacity of this instance (weighted balancing, sharding): a finite number > 0. The
   * shard ring counts it in steps of 1/160, up to 409.6 (a larger weight owns no more keys).
   * @default 1
   */
  readonly weight?: number;
  /**
   * How often this instance announces itself; an instance that stops is dropped by the others
   * within 2 of its intervals. Shorter detects deaths sooner and costs one small message per
   * instance per interval to every other instance.
   * @default 2000
   */
  readonly heartbeatMs?: number;
  /**
   * Called at each heartbeat for the load this instance reports (any finite number ≥ 0, e.g. jobs
   * in flight); `setLoad()` sets it otherwise.
   * @default none: the last `setLoad()` value, 0 at start
   */
  readonly load?: () => number;
  /**
   * The JetStream KV bucket holding leases (leaders and locks). File storage, no max age: its
   * revisions are the fencing tokens, so it must never be deleted while any store holds a token
   * (docs/architecture/cluster.md, "Fencing").
   * @default "catga_cluster"
   */
  readonly bucket?: string;
  /**
   * Answer NATS service discovery (`$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`) as `service`.
   * @default true
   */
  readonly discovery?: boolean;
}

/** Options of `cluster.leader(name, options)`. */
export interface LeaderOptions {
  /**
   * How long leadership lasts without a renewal, in ms (finite, at least 100). The leader renews every
   * third of it; after it dies, another instance takes over within about `ttlMs` plus one poll.
   * @default 10000
   */
  readonly ttlMs?: number;
}

/** Options of `cluster.withLock(key, fn, options)`. */
export interface LockOptions {
  /**
   * How long the lock lasts without a renewal, in ms (finite, at least 100). It is renewed every third of
   * it while `fn` runs; a holder that dies frees it after `ttlMs`.
   * @default 30000
   */
  readonly ttlMs?: number;
  /**
   * How long to wait for the lock before failing with CATGA_TIMEOUT, in ms (finite, ≥ 0; 0 tries once).
   * @default 10000
   */
  readonly waitMs?: number;
  /**
   * Aborts waiting for the lock (CATGA_ABORTED); once held, it is passed on to `fn` through
   * `lock.signal`.
   * @default none
   */
  readonly signal?: AbortSignal;
}

/** A NATS micro service name. */
const SERVICE_NAME = /^[A-Za-z0-9_-]+$/;
/** An instance id: safe in a subject token and a KV value. */
const INSTANCE_ID = /^[A-Za-z0-9_=-]+$/;
/** The longest leader or lock name (well inside the 4 KiB protocol line that carries its subject). */
const MAX_LEASE_NAME_LENGTH = 1024;
/** A JetStream KV key (less the separators at either end). */
const KV_KEY = /^[-/_=.a-zA-Z0-9]+$/;
/** Semantic version, as the micro protocol requires. */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

// Each name ends up in a subject (service, instance, bucket): bounded like the transport's names.
const matches = (pattern: RegExp, what: string): FieldCheck =>
  atMost(MAX_SUBJECT_NAME_LENGTH, (value) =>
    typeof value === "string" && pattern.test(value)
      ? undefined
      : `must be ${what}, got ${typeof value === "string" ? JSON.stringify(value) : typeof value}`,
  );

export const serviceName = matches(SERVICE_NAME, "a non-empty name of letters, digits, - or _");
const instanceId = matches(INSTANCE_ID, "a non-empty id of letters, digits, -, _ or =");
const semver = matches(SEMVER, "a semantic version such as 1.2.3");
const bucketName = matches(SERVICE_NAME, "a non-empty bucket name of letters, digits, - or _");
/**
 * The shortest lease TTL: a lease counts as held only until `ttlMs` after its write was sent, and
 * taking one is two KV round trips, so a TTL of a few ms is never held (a leader never elected,
 * a lock waited on until `waitMs`) without any error saying why.
 */
const MIN_LEASE_TTL_MS = 100;
/** A lease TTL: finite, a timer can honour it, long enough to be held. */
const leaseTtlMs = number(MIN_LEASE_TTL_MS, MAX_DELAY_MS);

/** Checks `cluster()`'s options; every problem is reported in one CatgaConfigError. */
export function assertClusterOptions(options: unknown): void {
  const issues = new IssueList();
  issues.checkObject("cluster", options, {
    service: serviceName,
    instanceId,
    version: semver,
    weight: number(0, Number.POSITIVE_INFINITY, true),
    heartbeatMs: integer(10, MAX_DELAY_MS),
    load: func,
    bucket: bucketName,
    discovery: boolean,
  });
  issues.throwIfAny();
}

/**
 * Checks a leader or lock name: a non-empty KV key (letters, digits, `-`, `_`, `/`, `=`, `.`,
 * not starting or ending with `.`). `field` names the argument in the error.
 */
export function assertLeaseName(field: string, value: unknown): asserts value is string {
  // The key is a subject token of the bucket's (`$KV.<bucket>.lock.<key>`): a longer one would
  // make the server drop the connection, seen by the caller as a KV timeout.
  if (typeof value === "string" && value.length > MAX_LEASE_NAME_LENGTH)
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `${field} must be at most ${MAX_LEASE_NAME_LENGTH} characters, got ${value.length}`,
      { details: { field } },
    );
  const ok =
    typeof value === "string" &&
    KV_KEY.test(value) &&
    !value.startsWith(".") &&
    !value.endsWith(".") &&
    !value.includes(".."); // an empty token: no KV key the server accepts
  if (!ok)
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `${field} must be a non-empty name of letters, digits, -, _, /, = or . (not at either end, never two in a row), got ${
        typeof value === "string" ? JSON.stringify(value) : typeof value
      }`,
      { details: { field } },
    );
}

/** Checks `leader()`'s options (one CatgaConfigError naming each bad field). */
export function assertLeaderOptions(options: unknown): void {
  const issues = new IssueList();
  issues.checkObject("leader", options, { ttlMs: leaseTtlMs });
  issues.throwIfAny();
}

/** Checks `withLock()`'s options and callback (one CatgaConfigError naming each bad field). */
export function assertLockOptions(fn: unknown, options: unknown): void {
  const issues = new IssueList();
  if (typeof fn !== "function") issues.add("withLock.fn", "must be a function");
  issues.checkObject("withLock", options, {
    ttlMs: leaseTtlMs,
    waitMs: number(0, MAX_DELAY_MS),
    signal: (value) =>
      value instanceof AbortSignal ? undefined : `must be an AbortSignal, got ${typeof value}`,
  });
  issues.throwIfAny();
}

/** Checks a load reported with `setLoad`. */
export function assertLoad(value: unknown): void {
  if (value === undefined)
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, "load is required", { details: { field: "load" } });
  checkArgument("load", value, number(0));
}
