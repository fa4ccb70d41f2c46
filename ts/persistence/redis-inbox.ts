import type { StoredOutcome } from "../mediator/behaviors/idempotency.js";
import { OptionChecker } from "./option-checker.js";
import { type BatchIdempotencyStore, decodeOutcome, type IdempotencyEntry } from "./outcome.js";
import { storeFailed } from "./store-errors.js";
import { Limits, type StoreLimits } from "./store-limits.js";

/** The slice of an ioredis pipeline the store uses. */
export interface RedisPipelineLike {
  set(key: string, value: Buffer): unknown;
  set(key: string, value: Buffer, px: "PX", milliseconds: number): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/**
 * The slice of an `ioredis` client (`Redis` or `Cluster`) the store uses. Typed structurally so
 * `ioredis` is never imported: pass your own client.
 */
export interface RedisClientLike {
  getBuffer(key: string): Promise<Buffer | null>;
  mgetBuffer(...keys: string[]): Promise<(Buffer | null)[]>;
  set(key: string, value: Buffer): Promise<unknown>;
  set(key: string, value: Buffer, px: "PX", milliseconds: number): Promise<unknown>;
  pipeline(): RedisPipelineLike;
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
 * Inbox / idempotency store on Redis: `SET key value PX ttl`, `MGET` for `getMany`, one pipeline
 * for `setMany`. Redis expires keys itself; nothing to purge.
 */
export class RedisIdempotencyStore implements BatchIdempotencyStore {
  private readonly client: RedisClientLike;
  private readonly reader: Pick<RedisClientLike, "getBuffer" | "mgetBuffer">;
  private readonly prefix: string;
  private readonly limits: Limits;

  constructor(options: RedisIdempotencyStoreOptions) {
    const check = new OptionChecker("redisIdempotencyStore", options, [
      "client",
      "readClient",
      "keyPrefix",
      "maxKeyBytes",
      "maxValueBytes",
    ]);
    check.methods("client", "getBuffer", "mgetBuffer", "set", "pipeline");
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
    const ttl = this.limits.ttl(ttlMs);
    const value = this.limits.value(outcome);
    try {
      if (ttl === Number.POSITIVE_INFINITY) await this.client.set(this.prefix + key, value);
      else await this.client.set(this.prefix + key, value, "PX", ttl);
    } catch (cause) {
      throw storeFailed(NAME, "set", cause);
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
    const ttl = this.limits.ttl(ttlMs);
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

function decode(bytes: Buffer, operation: string): StoredOutcome {
  try {
    return decodeOutcome(bytes);
  } catch (cause) {
    throw storeFailed(NAME, `${operation} (decoding a stored outcome)`, cause);
  }
}
