import { CatgaError, ErrorCodes } from "../errors.js";
import type { StoredOutcome } from "../mediator/behaviors/idempotency.js";
import type { NatsKv } from "../native/binding.generated.js";
import { fromNativeError } from "../native/errors.js";
import type { NatsConnection } from "../nats/connection.js";
import {
  type BatchIdempotencyStore,
  decodeOutcome,
  type IdempotencyEntry,
  Limits,
  type StoreLimits,
  storeFailed,
} from "../persistence/common.js";

export interface NatsKvIdempotencyStoreOptions extends StoreLimits {
  readonly connection: NatsConnection;
  /** KV bucket name (letters, digits, - and _); created when missing. Default `catga_inbox`. */
  readonly bucket?: string;
  /**
   * Upper bound on how long the bucket keeps any entry (default 24 h); each entry's own TTL is
   * enforced on read, so a shorter TTL expires on time and this only bounds the disk.
   */
  readonly maxAgeMs?: number;
  readonly storage?: "file" | "memory";
}

const NAME = "NATS KV idempotency store";
const NEVER = 0;

/**
 * Inbox / idempotency store on a NATS KV bucket, through the Rust engine: one crossing per batch
 * of keys. KV keys allow only `[-/_=.a-zA-Z0-9]`, so keys are stored base64url-encoded; each value
 * carries its own expiry (8 bytes, ms since epoch, 0 = never) ahead of the outcome.
 */
export class NatsKvIdempotencyStore implements BatchIdempotencyStore {
  private readonly limits: Limits;
  private bucket: Promise<NatsKv> | undefined;

  constructor(private readonly options: NatsKvIdempotencyStoreOptions) {
    this.limits = new Limits(NAME, options);
  }

  private open(): Promise<NatsKv> {
    this.bucket ??= this.options.connection.native
      .keyValue(
        this.options.bucket ?? "catga_inbox",
        this.options.maxAgeMs ?? 86_400_000,
        this.options.storage === "memory",
      )
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
    const ttl = this.limits.ttl(ttlMs);
    await this.write([key], [this.limits.value(outcome)], ttl, "set");
  }

  async setMany(entries: readonly IdempotencyEntry[], ttlMs: number): Promise<void> {
    const ttl = this.limits.ttl(ttlMs);
    const { keys, values } = this.limits.entries(entries);
    if (keys.length === 0) return;
    await this.write(keys, values, ttl, "setMany");
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
      if (bytes === null || bytes.length < 8) return undefined;
      const expiresAt = Number(bytes.readBigUInt64BE(0));
      if (expiresAt !== NEVER && expiresAt <= now) return undefined;
      try {
        return decodeOutcome(bytes.subarray(8));
      } catch (cause) {
        throw storeFailed(NAME, `${operation} (decoding a stored outcome)`, cause);
      }
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

function encodeKey(key: string): string {
  return Buffer.from(key, "utf8").toString("base64url");
}
