/**
 * `NatsKvSagaStore`: saga instances in a NATS KV bucket, one key `<saga>.<id>` per instance (its
 * JSON), written only at the KV revision of the copy the writer read (optimistic concurrency: the
 * losing writer gets `false`).
 */

import { CatgaError, ErrorCodes } from "../errors.js";
import type { NatsKv } from "../native/binding.generated.js";
import { fromNativeError } from "../native/errors.js";
import type { NatsConnection } from "../nats/connection.js";
import type {
  SagaInstance,
  SagaListQuery,
  SagaStatus,
  SagaStatusCount,
  SagaStore,
} from "../saga/instance.js";
import { listLimit } from "../saga/list-query.js";
import { OptionChecker } from "./option-checker.js";
import { invalid, storeFailed } from "./store-errors.js";

const NAME = "NATS KV saga store";
/** Letters, digits, `-` and `_`: a KV key token (saga names and instance ids are checked to it). */
const TOKEN = /^[-_a-zA-Z0-9]+$/;
/** The stored JSON's format; a later format gets a new number. */
const FORMAT = 1;
/** KV revisions remembered per instance (`update` skips a read when it knows the revision). */
const REMEMBERED = 10_000;
/** Bound on `maxListedInstances`: the key list is held in memory on both sides of the binding. */
const MAX_LISTED = 10_000_000;

/** Options of `NatsKvSagaStore`. */
export interface NatsKvSagaStoreOptions {
  /** The NATS connection whose engine reads and writes the bucket. Required. */
  readonly connection: NatsConnection;
  /**
   * KV bucket name (letters, digits, - and _); created when missing, entries kept until overwritten.
   * @default "catga_sagas"
   */
  readonly bucket?: string;
  /**
   * Where a new bucket stores entries; an existing bucket must have the same (else
   * CATGA_INVALID_ARGUMENT, from the first call).
   * @default "file"
   */
  readonly storage?: "file" | "memory";
  /**
   * `list` reads the keys of one saga's instances, then their values page by page: more than this
   * many instances of one saga is CATGA_LIMIT instead of an unbounded read.
   * @default 100000
   */
  readonly maxListedInstances?: number;
}

/** The value stored under `<saga>.<id>` (saga and id are the key). */
interface Stored {
  readonly v: number;
  readonly status: SagaStatus;
  readonly step: number;
  readonly revision: number;
  readonly state: unknown;
  readonly progress: SagaInstance["progress"];
  readonly updatedAt: number;
}

/**
 * Saga instances on NATS KV through the Rust engine. Every write is revision-checked (`swap`): the
 * instance's own `revision` is in its value, and the KV revision of the copy last read or written
 * here is remembered, so an `update` after a `get` costs one round trip. Listing reads the
 * bucket's key index for `<saga>.>` (sorted ids), then values in pages; a `status` filter reads
 * instances until the page is full, so listing by status costs up to one read per instance of
 * the saga.
 */
export class NatsKvSagaStore implements SagaStore {
  private readonly connection: NatsConnection;
  private readonly name: string;
  private readonly memory: boolean;
  private readonly maxListed: number;
  private bucket: Promise<NatsKv> | undefined;
  /** key → the instance revision and the KV revision it was stored at, as last seen here. */
  private readonly seen = new Map<string, { revision: number; kv: number }>();

  /** Bad options throw one CatgaConfigError listing every bad or unknown field. */
  constructor(options: NatsKvSagaStoreOptions) {
    const check = new OptionChecker("natsKvSagaStore", options, [
      "connection",
      "bucket",
      "storage",
      "maxListedInstances",
    ]);
    check.field("connection", isNatsConnection, "must be a NatsConnection", true);
    check.field(
      "bucket",
      (bucket) => typeof bucket === "string" && TOKEN.test(bucket),
      "must be a non-empty string of letters, digits, - and _",
    );
    check.field(
      "storage",
      (storage) => storage === "file" || storage === "memory",
      'must be "file" or "memory"',
    );
    check.field(
      "maxListedInstances",
      (max) => Number.isInteger(max) && (max as number) >= 1 && (max as number) <= MAX_LISTED,
      `must be a whole number from 1 to ${MAX_LISTED}`,
    );
    check.done();
    this.maxListed = options.maxListedInstances ?? 100_000;
    this.connection = options.connection;
    this.name = options.bucket ?? "catga_sagas";
    this.memory = options.storage === "memory";
  }

  async insert(instance: SagaInstance): Promise<boolean> {
    const key = keyOf(instance.saga, instance.id);
    const kv = await this.call("insert", (bucket) => bucket.swap(key, encode(instance), 0));
    if (kv !== null) this.remember(key, instance.revision, kv);
    return kv !== null;
  }

  /** The instance as last stored; undefined when there is none. */
  async get(saga: string, id: string): Promise<SagaInstance | undefined> {
    const key = keyOf(saga, id);
    const entry = await this.call("get", (bucket) => bucket.entry(key));
    if (entry === null || entry.value.length === 0) return undefined; // never written, or deleted
    const instance = decode(saga, id, entry.value, "get");
    this.remember(key, instance.revision, entry.revision);
    return instance;
  }

  async update(next: SagaInstance): Promise<boolean> {
    const key = keyOf(next.saga, next.id);
    let kv = this.seen.get(key);
    if (kv?.revision !== next.revision - 1) {
      const entry = await this.call("update", (bucket) => bucket.entry(key));
      if (entry === null || entry.value.length === 0) return false;
      const stored = decode(next.saga, next.id, entry.value, "update");
      if (stored.revision !== next.revision - 1) return false;
      kv = { revision: stored.revision, kv: entry.revision };
    }
    const seen = kv.kv;
    const written = await this.call("update", (bucket) => bucket.swap(key, encode(next), seen));
    if (written === null) {
      this.seen.delete(key); // another writer came first: read before the next update
      return false;
    }
    this.remember(key, next.revision, written);
    return true;
  }

  async list(query: SagaListQuery): Promise<SagaInstance[]> {
    const limit = listLimit(query);
    const prefix = `${token("saga", query.saga)}.`;
    const keys = await this.call("list", (bucket) => bucket.keys(`${prefix}>`, this.maxListed));
    const after = query.after;
    const ids = keys
      .map((key) => key.slice(prefix.length))
      .filter((id) => after === undefined || id > after)
      // KV sorts bytes; ids are ASCII, so this is the id order the other stores page by.
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const page: SagaInstance[] = [];
    const chunk = query.status === undefined ? limit : Math.max(limit, 256);
    for (let at = 0; at < ids.length && page.length < limit; at += chunk) {
      const slice = ids.slice(at, at + chunk);
      const values = await this.call("list", (bucket) => bucket.getMany(slice.map((id) => prefix + id)));
      values.forEach((value, i) => {
        if (value === null || value === undefined || value.length === 0 || page.length >= limit) return;
        const instance = decode(query.saga, slice[i]!, value, "list");
        if (query.status === undefined || instance.status === query.status) page.push(instance);
      });
    }
    return page;
  }

  /**
   * Instances per saga and status across the bucket, for operator views: reads every key, then
   * every value (in pages of 256), so it costs one read per instance; more than
   * `maxListedInstances` keys is CATGA_LIMIT. Sorted by saga, then status.
   */
  async counts(): Promise<SagaStatusCount[]> {
    const keys = await this.call("counts", (bucket) => bucket.keys(">", this.maxListed));
    const counts = new Map<
      string,
      { saga: string; status: SagaStatus; count: number; oldestUpdatedAt: number }
    >();
    for (let at = 0; at < keys.length; at += 256) {
      const slice = keys.slice(at, at + 256);
      const values = await this.call("counts", (bucket) => bucket.getMany(slice));
      values.forEach((value, i) => {
        if (value === null || value === undefined || value.length === 0) return; // deleted meanwhile
        // Keys are `<saga>.<id>`, both KV tokens without dots.
        const [saga = "", id = ""] = slice[i]!.split(".");
        const instance = decode(saga, id, value, "counts");
        const key = `${saga}\u0000${instance.status}`;
        const count = counts.get(key);
        if (count === undefined)
          counts.set(key, { saga, status: instance.status, count: 1, oldestUpdatedAt: instance.updatedAt });
        else {
          count.count++;
          count.oldestUpdatedAt = Math.min(count.oldestUpdatedAt, instance.updatedAt);
        }
      });
    }
    const byName = (a: SagaStatusCount, b: SagaStatusCount) =>
      a.saga < b.saga ? -1 : a.saga > b.saga ? 1 : a.status < b.status ? -1 : a.status > b.status ? 1 : 0;
    return [...counts.values()].sort(byName);
  }

  private open(): Promise<NatsKv> {
    this.bucket ??= this.connection.native.keyValue(this.name, 0, this.memory).catch((error: unknown) => {
      this.bucket = undefined;
      throw error;
    });
    return this.bucket;
  }

  /** Runs one bucket call; a transport failure (server down, timeout) is CATGA_STORE_FAILED. */
  private async call<T>(operation: string, run: (bucket: NatsKv) => Promise<T>): Promise<T> {
    try {
      return await run(await this.open());
    } catch (cause) {
      const error = fromNativeError(cause);
      if (error.code === ErrorCodes.LIMIT || error.code === ErrorCodes.INVALID_ARGUMENT)
        throw new CatgaError(error.code, `${NAME}: ${operation}: ${error.message}`, {
          cause: error,
          details: { store: NAME, operation, bucket: this.name },
        });
      throw new CatgaError(
        ErrorCodes.STORE_FAILED,
        `${NAME}: ${operation} on bucket ${this.name} failed: ${error.message}`,
        { cause: error, details: { store: NAME, operation, transportCode: error.code } },
      );
    }
  }

  private remember(key: string, revision: number, kv: number): void {
    this.seen.delete(key);
    this.seen.set(key, { revision, kv });
    if (this.seen.size > REMEMBERED) this.seen.delete(this.seen.keys().next().value!); // the oldest
  }
}

/** The instance's key: both parts must be KV key tokens (the engine checks ids to the same rule). */
function keyOf(saga: string, id: string): string {
  return `${token("saga", saga)}.${token("id", id)}`;
}

function token(field: string, value: unknown): string {
  if (typeof value === "string" && TOKEN.test(value)) return value;
  throw invalid(
    `${NAME}: ${field} must be letters, digits, - and _ (a KV key token), got ${JSON.stringify(value)}`,
    {
      field,
    },
  );
}

function encode(instance: SagaInstance): Buffer {
  const stored: Stored = {
    v: FORMAT,
    status: instance.status,
    step: instance.step,
    revision: instance.revision,
    state: instance.state ?? null,
    progress: instance.progress,
    updatedAt: Math.trunc(instance.updatedAt),
  };
  return Buffer.from(JSON.stringify(stored));
}

function decode(saga: string, id: string, bytes: Buffer, operation: string): SagaInstance {
  let stored: Stored;
  try {
    stored = JSON.parse(bytes.toString("utf8")) as Stored;
  } catch (cause) {
    throw storeFailed(NAME, `${operation} (decoding ${saga}.${id})`, cause);
  }
  if (stored?.v !== FORMAT)
    throw storeFailed(
      NAME,
      `${operation} (decoding ${saga}.${id})`,
      new Error(`unknown format ${stored?.v}`),
    );
  return {
    saga,
    id,
    status: stored.status,
    step: stored.step,
    revision: stored.revision,
    state: stored.state,
    progress: stored.progress,
    updatedAt: stored.updatedAt,
  };
}

/** Something whose `native.keyValue` this store can call (a getter that throws counts as no). */
function isNatsConnection(value: unknown): boolean {
  try {
    return typeof (value as { native?: { keyValue?: unknown } } | undefined)?.native?.keyValue === "function";
  } catch {
    return false;
  }
}
