import { CatgaError, ErrorCodes } from "../errors.js";
import type {
  ClaimingIdempotencyStore,
  ClaimResult,
  StoredOutcome,
} from "../mediator/behaviors/idempotency-store.js";
import type { NatsKv } from "../native/binding.generated.js";
import { fromNativeError } from "../native/errors.js";
import type { NatsConnection } from "../nats/connection.js";
import { OptionChecker } from "./option-checker.js";
import { type BatchIdempotencyStore, decodeOutcome, type IdempotencyEntry } from "./outcome.js";
import { invalid, storeFailed } from "./store-errors.js";
import { Limits, type StoreLimits } from "./store-limits.js";

/** Options of `NatsKvIdempotencyStore`, plus the {@link StoreLimits} size caps. */
export interface NatsKvIdempotencyStoreOptions extends StoreLimits {
  /** The NATS connection whose engine reads and writes the bucket. Required. */
  readonly connection: NatsConnection;
  /**
   * KV bucket name (letters, digits, - and _); created when missing.
   * @default "catga_inbox"
   */
  readonly bucket?: string;
  /**
   * How long the bucket keeps any entry: whole ms, 100 ms to ~292 years, or `0` / `Infinity` for
   * no limit. Each entry's own TTL is enforced on read, so a shorter TTL expires on time; a TTL
   * the bucket cannot keep (longer than this, or `Infinity` on a limited bucket) is rejected with
   * CATGA_INVALID_ARGUMENT. An existing bucket must have this limit (and `storage`): a store
   * given other settings fails with CATGA_STORE_FAILED instead of rewriting the bucket.
   * @default 86400000 (24 h)
   */
  readonly maxAgeMs?: number;
  /**
   * Where a new bucket stores entries. Must match an existing bucket's (see `maxAgeMs`).
   * @default "file"
   */
  readonly storage?: "file" | "memory";
}

const NAME = "NATS KV idempotency store";
const PREFIX = "natsKvIdempotencyStore";
const KNOWN = ["connection", "bucket", "maxAgeMs", "storage", "maxKeyBytes", "maxValueBytes"];
const BUCKET = /^[-_a-zA-Z0-9]+$/;
const DEFAULT_MAX_AGE_MS = 86_400_000;
/** JetStream's shortest max age. */
const MIN_MAX_AGE_MS = 100;
/** JetStream keeps max age as int64 nanoseconds; anything longer wraps around. */
const MAX_MAX_AGE_MS = 9_223_372_036_854;
/** A finite TTL on an unlimited bucket: at most the range of a JS Date, so expiry stays exact. */
const MAX_TTL_MS = 8_640_000_000_000_000;
const NEVER = 0;
/** First body byte of a claim (outcomes start with their format byte, 1); the owner follows. */
const CLAIM = 0;
/** How often `claim` and `extend` read again after losing a revision race. */
const CLAIM_ATTEMPTS = 5;

/**
 * Inbox / idempotency store on a NATS KV bucket, through the Rust engine: one crossing per batch
 * of keys. KV keys allow only `[-/_=.a-zA-Z0-9]`, so keys are stored base64url-encoded; each value
 * carries its own expiry (8 bytes, ms since epoch, 0 = never) ahead of the outcome. A claim is a
 * value whose body is a 0 byte and the owner, its expiry the end of the lease; claims change
 * only by revision-checked writes (`swap`), so of two racing writers one wins.
 */
export class NatsKvIdempotencyStore implements BatchIdempotencyStore, ClaimingIdempotencyStore {
  private readonly limits: Limits;
  private readonly connection: NatsConnection;
  private readonly name: string;
  /** 0 = entries are kept until overwritten. */
  private readonly maxAgeMs: number;
  private readonly memory: boolean;
  private bucket: Promise<NatsKv> | undefined;

  /** Bad options throw one CatgaConfigError listing every bad or unknown field. */
  constructor(options: NatsKvIdempotencyStoreOptions) {
    const check = new OptionChecker(PREFIX, options, KNOWN);
    this.limits = new Limits(NAME, check);
    check.field("connection", isNatsConnection, "must be a NatsConnection", true);
    check.field(
      "bucket",
      (bucket) => typeof bucket === "string" && BUCKET.test(bucket),
      "must be a non-empty string of letters, digits, - and _",
    );
    check.field(
      "maxAgeMs",
      (maxAge) =>
        maxAge === 0 ||
        maxAge === Number.POSITIVE_INFINITY ||
        (typeof maxAge === "number" &&
          Number.isInteger(maxAge) &&
          maxAge >= MIN_MAX_AGE_MS &&
          maxAge <= MAX_MAX_AGE_MS),
      `must be 0 or Infinity (no limit), or a whole number from ${MIN_MAX_AGE_MS} to ${MAX_MAX_AGE_MS}`,
    );
    check.field(
      "storage",
      (storage) => storage === "file" || storage === "memory",
      'must be "file" or "memory"',
    );
    check.done();

    this.connection = options.connection;
    this.name = options.bucket ?? "catga_inbox";
    this.maxAgeMs =
      options.maxAgeMs === undefined
        ? DEFAULT_MAX_AGE_MS
        : options.maxAgeMs === Number.POSITIVE_INFINITY
          ? 0
          : options.maxAgeMs;
    this.memory = options.storage === "memory";
  }

  private open(): Promise<NatsKv> {
    this.bucket ??= this.connection.native
      .keyValue(this.name, this.maxAgeMs, this.memory)
      .catch((error: unknown) => {
        this.bucket = undefined;
        throw unavailable("open bucket", error);
      });
    return this.bucket;
  }

  async get(key: string): Promise<StoredOutcome | undefined> {
    this.limits.key(key);
    const [value] = await this.read([key], "get");
    return value;
  }

  async getMany(keys: readonly string[]): Promise<(StoredOutcome | undefined)[]> {
    this.limits.keys(keys);
    if (keys.length === 0) return [];
    return this.read(keys, "getMany");
  }

  async set(key: string, outcome: StoredOutcome, ttlMs: number): Promise<void> {
    this.limits.key(key);
    const ttl = this.ttl(ttlMs);
    await this.write([key], [this.limits.value(outcome)], ttl, "set");
  }

  async setMany(entries: readonly IdempotencyEntry[], ttlMs: number): Promise<void> {
    const ttl = this.ttl(ttlMs);
    const { keys, values } = this.limits.entries(entries);
    if (keys.length === 0) return;
    await this.write(keys, values, ttl, "setMany");
  }

  /** Claims `key` for `owner`: a write checked against the revision just read. */
  async claim(key: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    this.limits.key(key);
    this.limits.owner(owner);
    const lease = this.limits.lease(leaseMs);
    const kvKey = encodeKey(key);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const seen = await this.entry(kvKey, "claim");
      if (seen.live && seen.owner === undefined) {
        return { status: "done", outcome: this.decode(seen.body, "claim") };
      }
      if (seen.live && seen.owner !== owner) return { status: "held" };
      if (await this.swap(kvKey, claimValue(owner, Date.now() + lease), seen.revision, "claim")) {
        return { status: "claimed" };
      }
    }
    return { status: "held" }; // the key keeps changing under us: the caller asks again later
  }

  async extend(key: string, owner: string, leaseMs: number): Promise<boolean> {
    this.limits.key(key);
    this.limits.owner(owner);
    const lease = this.limits.lease(leaseMs);
    return this.changeClaim(encodeKey(key), owner, () => Date.now() + lease, "extend");
  }

  async release(key: string, owner: string): Promise<void> {
    this.limits.key(key);
    this.limits.owner(owner);
    // An expired claim with no owner (owners are never empty): free to take, nobody's to extend.
    await this.changeClaim(encodeKey(key), owner, () => 1, "release", "");
  }

  /** Rewrites `owner`'s claim with a new expiry; false when it is not (or no longer) theirs. */
  private async changeClaim(
    kvKey: string,
    owner: string,
    expiresAt: () => number,
    operation: string,
    newOwner = owner,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const seen = await this.entry(kvKey, operation);
      if (seen.owner !== owner) return false;
      if (await this.swap(kvKey, claimValue(newOwner, expiresAt()), seen.revision, operation)) return true;
    }
    return false;
  }

  /** What a key holds: its revision (0 = never written), whether it is unexpired, a claim's owner. */
  private async entry(
    kvKey: string,
    operation: string,
  ): Promise<{ revision: number; live: boolean; owner?: string; body: Buffer }> {
    let entry: { value: Buffer; revision: number } | null;
    try {
      entry = await (await this.open()).entry(kvKey);
    } catch (cause) {
      throw unavailable(operation, cause);
    }
    if (entry === null) return { revision: 0, live: false, body: Buffer.alloc(0) };
    const bytes = entry.value;
    if (bytes.length < 9) return { revision: entry.revision, live: false, body: Buffer.alloc(0) };
    const expiresAt = Number(bytes.readBigUInt64BE(0));
    const body = bytes.subarray(8);
    return {
      revision: entry.revision,
      live: expiresAt === NEVER || expiresAt > Date.now(),
      ...(body[0] === CLAIM ? { owner: body.subarray(1).toString("utf8") } : {}),
      body,
    };
  }

  private async swap(kvKey: string, value: Buffer, revision: number, operation: string): Promise<boolean> {
    try {
      return (await (await this.open()).swap(kvKey, value, revision)) !== null;
    } catch (cause) {
      throw unavailable(operation, cause);
    }
  }

  private decode(body: Buffer, operation: string): StoredOutcome {
    try {
      return decodeOutcome(body);
    } catch (cause) {
      throw storeFailed(NAME, `${operation} (decoding a stored outcome)`, cause);
    }
  }

  /**
   * A TTL the bucket can keep: the bucket deletes every entry after its max age, so a longer TTL
   * (or `Infinity` on a limited bucket) would silently expire early; it is refused instead.
   */
  private ttl(ttlMs: unknown): number {
    const ttl = this.limits.ttl(ttlMs);
    const details = { store: NAME, bucket: this.name, ttlMs: ttl, maxAgeMs: this.maxAgeMs };
    if (this.maxAgeMs !== 0 && ttl > this.maxAgeMs) {
      throw invalid(
        `${NAME}: ttlMs ${ttl} is longer than bucket "${this.name}" keeps entries (maxAgeMs ${this.maxAgeMs}); ` +
          "use a TTL <= maxAgeMs, or a bucket created with maxAgeMs 0 (no limit)",
        details,
      );
    }
    if (ttl !== Number.POSITIVE_INFINITY && ttl > MAX_TTL_MS) {
      throw invalid(`${NAME}: ttlMs ${ttl} is more than ${MAX_TTL_MS}; use Infinity for no expiry`, details);
    }
    return ttl;
  }

  private async read(keys: readonly string[], operation: string): Promise<(StoredOutcome | undefined)[]> {
    let values: (Buffer | null)[];
    try {
      values = (await (await this.open()).getMany(keys.map(encodeKey))).map((v) => v ?? null);
    } catch (cause) {
      throw unavailable(operation, cause);
    }
    const now = Date.now();
    return values.map((bytes) => {
      if (bytes === null || bytes.length < 9 || bytes[8] === CLAIM) return undefined;
      const expiresAt = Number(bytes.readBigUInt64BE(0));
      if (expiresAt !== NEVER && expiresAt <= now) return undefined;
      return this.decode(bytes.subarray(8), operation);
    });
  }

  private async write(
    keys: readonly string[],
    values: readonly Buffer[],
    ttl: number,
    operation: string,
  ): Promise<void> {
    const expiresAt = ttl === Number.POSITIVE_INFINITY ? NEVER : Date.now() + ttl;
    const offsets = new Uint32Array(values.length * 2);
    const chunks: Buffer[] = [];
    let at = 0;
    values.forEach((value, i) => {
      const header = Buffer.alloc(8);
      header.writeBigUInt64BE(BigInt(expiresAt));
      chunks.push(header, value);
      offsets[2 * i] = at;
      offsets[2 * i + 1] = 8 + value.length;
      at += 8 + value.length;
    });
    try {
      await (await this.open()).putMany(keys.map(encodeKey), Buffer.concat(chunks, at), offsets);
    } catch (cause) {
      throw unavailable(operation, cause);
    }
  }
}

/** A transport failure (server down, timeout) is a store failure to the caller, with the transport code kept in details. */
function unavailable(operation: string, cause: unknown): CatgaError {
  const error = fromNativeError(cause);
  return new CatgaError(ErrorCodes.STORE_FAILED, `${NAME}: ${operation} failed: ${error.message}`, {
    cause: error,
    details: { store: NAME, operation, transportCode: error.code },
  });
}

/** Something whose `native.keyValue` this store can call (a getter that throws counts as no). */
function isNatsConnection(value: unknown): boolean {
  try {
    return typeof (value as { native?: { keyValue?: unknown } } | undefined)?.native?.keyValue === "function";
  } catch {
    return false;
  }
}

/** A claim's value: expiry header, the CLAIM byte, the owner. */
function claimValue(owner: string, expiresAt: number): Buffer {
  const value = Buffer.alloc(9 + Buffer.byteLength(owner));
  value.writeBigUInt64BE(BigInt(expiresAt));
  value[8] = CLAIM;
  value.write(owner, 9, "utf8");
  return value;
}

function encodeKey(key: string): string {
  return Buffer.from(key, "utf8").toString("base64url");
}
