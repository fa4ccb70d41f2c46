import type {
  ClaimingIdempotencyStore,
  ClaimResult,
  StoredOutcome,
} from "../mediator/behaviors/idempotency-store.js";
import { OptionChecker } from "./option-checker.js";
import { type BatchIdempotencyStore, decodeOutcome, type IdempotencyEntry } from "./outcome.js";
import { storeFailed } from "./store-errors.js";
import { Limits, type StoreLimits } from "./store-limits.js";

/** The slice of an ioredis pipeline the store uses. */
export interface RedisPipelineLike {
  /** Queues `SET key value` (no expiry). */
  set(key: string, value: Buffer): unknown;
  /** Queues `SET key value PX milliseconds` (expires after `milliseconds`). */
  set(key: string, value: Buffer, px: "PX", milliseconds: number): unknown;
  /** Sends the queued commands; one `[error, result]` pair per command. */
  exec(): Promise<[Error | null, unknown][] | null>;
}

/**
 * The slice of an `ioredis` client (`Redis` or `Cluster`) the store uses. Typed structurally so
 * `ioredis` is never imported: pass your own client.
 */
export interface RedisClientLike {
  /** `GET key` as bytes; null when the key is absent. */
  getBuffer(key: string): Promise<Buffer | null>;
  /** `MGET keys...` as bytes, in order; null for each absent key. */
  mgetBuffer(...keys: string[]): Promise<(Buffer | null)[]>;
  /** `SET key value` (no expiry). */
  set(key: string, value: Buffer): Promise<unknown>;
  /** `SET key value PX milliseconds` (expires after `milliseconds`). */
  set(key: string, value: Buffer, px: "PX", milliseconds: number): Promise<unknown>;
  /** A pipeline: commands queued and sent in one round trip by `exec()`. */
  pipeline(): RedisPipelineLike;
  /** Runs a Lua script (claims are checked and changed atomically in the server). */
  eval(script: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** Options of `RedisIdempotencyStore`, plus the {@link StoreLimits} size caps. */
export interface RedisIdempotencyStoreOptions extends StoreLimits {
  /** Client for writes (and reads when no `readClient`). The store never disconnects it. Required. */
  readonly client: RedisClientLike;
  /**
   * Client on a read replica, used by `get` and `getMany`. Replication is asynchronous: a key
   * written a moment ago may not be on the replica yet, so a duplicate arriving within the
   * replication lag can run again. Use it when that window is acceptable.
   * @default none: reads go to `client`
   */
  readonly readClient?: Pick<RedisClientLike, "getBuffer" | "mgetBuffer">;
  /**
   * Prepended to every key. With Redis Cluster, MGET needs one hash slot: use a hash tag such
   * as `{catga-inbox}:`.
   * @default "catga:inbox:"
   */
  readonly keyPrefix?: string;
}

const NAME = "redis idempotency store";

/**
 * A claim is stored under the key itself, as these two bytes and the owner; outcomes start with
 * their format byte (1), so the two never collide. The claim's lease is the key's PX expiry.
 */
const CLAIM = "\u0000c";
/** KEYS[1] key; ARGV: claim value, lease ms, CLAIM. 1 = claimed, 0 = held by another, 2 = outcome. */
const CLAIM_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local v = redis.call('GET', KEYS[1])
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if string.sub(v, 1, 2) == ARGV[3] then return 0 end
return 2`;
/** KEYS[1] key; ARGV: claim value, lease ms. 1 = extended, 0 = not this owner's claim. */
const EXTEND_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
/** KEYS[1] key; ARGV: claim value. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
/** How often `claim` retries when the outcome it saw expired before it could read it. */
const CLAIM_ATTEMPTS = 5;

/**
 * Inbox / idempotency store on Redis: `SET key value PX ttl`, `MGET` for `getMany`, one pipeline
 * for `setMany`. Redis expires keys itself; nothing to purge. Claims are `SET NX PX` plus
 * compare-and-change scripts (`EVAL`), one round trip each.
 */
export class RedisIdempotencyStore implements BatchIdempotencyStore, ClaimingIdempotencyStore {
  private readonly client: RedisClientLike;
  private readonly reader: Pick<RedisClientLike, "getBuffer" | "mgetBuffer">;
  private readonly prefix: string;
  private readonly limits: Limits;

  /** A store on your `ioredis` client; options checked at once. It never disconnects the client. */
  constructor(options: RedisIdempotencyStoreOptions) {
    const check = new OptionChecker("redisIdempotencyStore", options, [
      "client",
      "readClient",
      "keyPrefix",
      "maxKeyBytes",
      "maxValueBytes",
    ]);
    check.methods("client", "getBuffer", "mgetBuffer", "set", "pipeline", "eval");
    if (options?.readClient !== undefined) check.methods("readClient", "getBuffer", "mgetBuffer");
    const prefix = check.text("keyPrefix", false);
    this.limits = new Limits(NAME, check);
    check.done();
    this.client = options.client;
    this.reader = options.readClient ?? options.client;
    this.prefix = prefix ?? "catga:inbox:";
  }

  async get(key: string): Promise<StoredOutcome | undefined> {
    this.limits.key(key);
    let bytes: Buffer | null;
    try {
      bytes = await this.reader.getBuffer(this.prefix + key);
    } catch (cause) {
      throw storeFailed(NAME, "get", cause);
    }
    return bytes === null ? undefined : decode(bytes, "get");
  }

  async set(key: string, outcome: StoredOutcome, ttlMs: number): Promise<void> {
    this.limits.key(key);
    const ttl = this.limits.ttl(ttlMs, Number.MAX_SAFE_INTEGER);
    const value = this.limits.value(outcome);
    try {
      if (ttl === Number.POSITIVE_INFINITY) await this.client.set(this.prefix + key, value);
      else await this.client.set(this.prefix + key, value, "PX", ttl);
    } catch (cause) {
      throw storeFailed(NAME, "set", cause);
    }
  }

  /** Claims `key` for `owner` in one script; a stored outcome is then read with `GET`. */
  async claim(key: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    this.limits.key(key);
    const mine = CLAIM + this.limits.owner(owner);
    const lease = this.limits.lease(leaseMs);
    try {
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        const answer = Number(await this.client.eval(CLAIM_SCRIPT, 1, this.prefix + key, mine, lease, CLAIM));
        if (answer === 1) return { status: "claimed" };
        if (answer === 0) return { status: "held" };
        const bytes = await this.client.getBuffer(this.prefix + key);
        const outcome = bytes === null ? undefined : decode(bytes, "claim");
        if (outcome !== undefined) return { status: "done", outcome };
        // Expired (or became a claim) since the script ran: ask again.
      }
    } catch (cause) {
      throw storeFailed(NAME, "claim", cause);
    }
    return { status: "held" };
  }

  async extend(key: string, owner: string, leaseMs: number): Promise<boolean> {
    this.limits.key(key);
    const mine = CLAIM + this.limits.owner(owner);
    const lease = this.limits.lease(leaseMs);
    try {
      return Number(await this.client.eval(EXTEND_SCRIPT, 1, this.prefix + key, mine, lease)) === 1;
    } catch (cause) {
      throw storeFailed(NAME, "extend", cause);
    }
  }

  async release(key: string, owner: string): Promise<void> {
    this.limits.key(key);
    const mine = CLAIM + this.limits.owner(owner);
    try {
      await this.client.eval(RELEASE_SCRIPT, 1, this.prefix + key, mine);
    } catch (cause) {
      throw storeFailed(NAME, "release", cause);
    }
  }

  async getMany(keys: readonly string[]): Promise<(StoredOutcome | undefined)[]> {
    this.limits.keys(keys);
    if (keys.length === 0) return [];
    let values: (Buffer | null)[];
    try {
      values = await this.reader.mgetBuffer(...keys.map((key) => this.prefix + key));
    } catch (cause) {
      throw storeFailed(NAME, "getMany", cause);
    }
    return values.map((bytes) => (bytes === null ? undefined : decode(bytes, "getMany")));
  }

  async setMany(entries: readonly IdempotencyEntry[], ttlMs: number): Promise<void> {
    const ttl = this.limits.ttl(ttlMs, Number.MAX_SAFE_INTEGER);
    const { keys, values } = this.limits.entries(entries);
    if (keys.length === 0) return;
    let results: [Error | null, unknown][] | null;
    try {
      const pipeline = this.client.pipeline();
      for (let i = 0; i < keys.length; i++) {
        if (ttl === Number.POSITIVE_INFINITY) pipeline.set(this.prefix + keys[i]!, values[i]!);
        else pipeline.set(this.prefix + keys[i]!, values[i]!, "PX", ttl);
      }
      results = await pipeline.exec();
    } catch (cause) {
      throw storeFailed(NAME, "setMany", cause);
    }
    if (results === null) throw storeFailed(NAME, "setMany", new Error("pipeline was aborted"));
    const failed = results.find(([error]) => error !== null);
    if (failed !== undefined) throw storeFailed(NAME, "setMany", failed[0]);
  }
}

/** The stored outcome, or `undefined` for a claim (a handler still running). */
function decode(bytes: Buffer, operation: string): StoredOutcome | undefined {
  if (bytes[0] === 0) return undefined;
  try {
    return decodeOutcome(bytes);
  } catch (cause) {
    throw storeFailed(NAME, `${operation} (decoding a stored outcome)`, cause);
  }
}
