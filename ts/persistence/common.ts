import { Packr } from "msgpackr/pack";
import { CatgaConfigError, CatgaError, type ConfigIssue, ErrorCodes } from "../errors.js";
import type { IdempotencyStore, StoredOutcome } from "../mediator/behaviors/idempotency.js";

/**
 * The slice of a `pg` Pool or Client these modules use. Typed structurally so `pg` is never
 * imported: pass your own `new pg.Pool(...)`, a `PoolClient` or a `Client`.
 */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<PgResult>;
}

/** What a query returns, as far as Catga reads it (`command` is pg's tag, e.g. "ROLLBACK"). */
export interface PgResult {
  // biome-ignore lint/suspicious/noExplicitAny: pg's row type is any; callers read known columns.
  rows: any[];
  rowCount: number | null;
  command?: string;
}

/** A checked-out `pg` connection (`PoolClient`). */
export interface PgPoolClient extends PgQueryable {
  release(error?: Error | boolean): void;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter listener signature.
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter listener signature.
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

/** A `pg` Pool: queries, plus `connect()` for transactions and LISTEN. */
export interface PgPool extends PgQueryable {
  connect(): Promise<PgPoolClient>;
}

/** An idempotency (inbox) store with batch operations; every method returns a promise. */
export interface BatchIdempotencyStore extends IdempotencyStore {
  get(key: string): Promise<StoredOutcome | undefined>;
  set(key: string, outcome: StoredOutcome, ttlMs: number): Promise<void>;
  /** Outcomes in the order of `keys`; `undefined` where nothing (unexpired) is stored. */
  getMany(keys: readonly string[]): Promise<(StoredOutcome | undefined)[]>;
  /** Stores every entry with the same TTL; for a key given twice, the last entry wins. */
  setMany(entries: readonly IdempotencyEntry[], ttlMs: number): Promise<void>;
}

export interface IdempotencyEntry {
  readonly key: string;
  readonly outcome: StoredOutcome;
}

/** Bytes are checked before they reach a store. */
export interface StoreLimits {
  /** Longest key in UTF-8 bytes. Default 1024. */
  readonly maxKeyBytes?: number;
  /** Largest serialized outcome in bytes. Default 1 MiB. */
  readonly maxValueBytes?: number;
}

export const DEFAULT_MAX_KEY_BYTES = 1024;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

/**
 * Outcomes are MessagePack with msgpackr's structured-clone extension, so Dates, Buffers,
 * typed arrays, Sets, BigInts, `undefined` and cycles survive (Maps come back as plain objects,
 * class instances as plain objects). A leading format byte leaves room for a later encoding.
 */
const packr = new Packr({ useRecords: false, structuredClone: true, int64AsType: "bigint" });
const FORMAT_V1 = 1;

export function encodeOutcome(outcome: StoredOutcome): Buffer {
  const body = packr.pack(outcome.value);
  const bytes = Buffer.allocUnsafe(body.length + 1);
  bytes[0] = FORMAT_V1;
  body.copy(bytes, 1);
  return bytes;
}

export function decodeOutcome(bytes: Uint8Array): StoredOutcome {
  if (bytes.length < 2 || bytes[0] !== FORMAT_V1) {
    throw new CatgaError(ErrorCodes.DECODE, "stored outcome has an unknown format");
  }
  return { value: packr.unpack(bytes.subarray(1)) };
}

/** A store failure that names the store and the operation; `cause` is the driver's error. */
export function storeFailed(store: string, operation: string, cause: unknown): CatgaError {
  if (cause instanceof CatgaError && cause.code !== ErrorCodes.DECODE) return cause;
  const reason = cause instanceof Error ? cause.message || cause.name : String(cause);
  return new CatgaError(ErrorCodes.STORE_FAILED, `${store}: ${operation} failed: ${reason}`, {
    cause,
    details: { store, operation },
  });
}

export function invalid(message: string, details?: unknown): CatgaError {
  return new CatgaError(
    ErrorCodes.INVALID_ARGUMENT,
    message,
    details === undefined ? undefined : { details },
  );
}

export class Limits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;

  /**
   * Reads `maxKeyBytes`/`maxValueBytes` through the store's option checker, or straight from
   * `StoreLimits` (then bad values throw a CatgaConfigError at once).
   */
  constructor(
    private readonly store: string,
    source: OptionChecker | StoreLimits | undefined,
  ) {
    const check =
      source instanceof OptionChecker
        ? source
        : new OptionChecker(store, pickLimits(source), ["maxKeyBytes", "maxValueBytes"]);
    this.maxKeyBytes = check.int("maxKeyBytes", DEFAULT_MAX_KEY_BYTES);
    this.maxValueBytes = check.int("maxValueBytes", DEFAULT_MAX_VALUE_BYTES);
    if (check !== source) check.done();
  }

  key(key: unknown): string {
    if (typeof key !== "string" || key.length === 0) {
      throw invalid(`${this.store}: key must be a non-empty string`);
    }
    if (key.length > this.maxKeyBytes / 3 && Buffer.byteLength(key) > this.maxKeyBytes) {
      throw new CatgaError(
        ErrorCodes.LIMIT,
        `${this.store}: key is ${Buffer.byteLength(key)} bytes, more than maxKeyBytes ${this.maxKeyBytes}`,
      );
    }
    return key;
  }

  keys(keys: unknown): readonly string[] {
    if (!Array.isArray(keys)) throw invalid(`${this.store}: keys must be an array of strings`);
    for (const key of keys) this.key(key);
    return keys;
  }

  /** TTL in whole milliseconds (rounded up); `Infinity` means the entry never expires. */
  ttl(ttlMs: unknown): number {
    if (typeof ttlMs !== "number" || Number.isNaN(ttlMs) || ttlMs <= 0) {
      throw invalid(
        `${this.store}: ttlMs must be a number > 0 (Infinity = never expires), got ${String(ttlMs)}`,
      );
    }
    return ttlMs === Number.POSITIVE_INFINITY ? ttlMs : Math.ceil(ttlMs);
  }

  value(outcome: unknown): Buffer {
    if (typeof outcome !== "object" || outcome === null || !("value" in outcome)) {
      throw invalid(`${this.store}: outcome must be an object { value }`);
    }
    let bytes: Buffer;
    try {
      bytes = encodeOutcome(outcome as StoredOutcome);
    } catch (cause) {
      throw new CatgaError(ErrorCodes.ENCODE, `${this.store}: outcome could not be serialized`, { cause });
    }
    if (bytes.length > this.maxValueBytes) {
      throw new CatgaError(
        ErrorCodes.LIMIT,
        `${this.store}: outcome is ${bytes.length} bytes, more than maxValueBytes ${this.maxValueBytes}`,
      );
    }
    return bytes;
  }

  entries(entries: unknown): { keys: string[]; values: Buffer[] } {
    if (!Array.isArray(entries)) throw invalid(`${this.store}: entries must be an array of { key, outcome }`);
    // Last entry wins for a repeated key (one statement cannot update a row twice).
    const byKey = new Map<string, Buffer>();
    for (const entry of entries as IdempotencyEntry[]) {
      if (typeof entry !== "object" || entry === null) {
        throw invalid(`${this.store}: entries must be an array of { key, outcome }`);
      }
      const key = this.key(entry.key);
      byKey.delete(key);
      byKey.set(key, this.value(entry.outcome));
    }
    return { keys: [...byKey.keys()], values: [...byKey.values()] };
  }
}

/**
 * Checks constructor options the way the rest of Catga does: every bad or unknown field is
 * collected, then one CatgaConfigError lists them all.
 */
export class OptionChecker {
  private readonly issues: ConfigIssue[] = [];
  private readonly options: Record<string, unknown>;

  constructor(
    private readonly prefix: string,
    options: unknown,
    known: readonly string[],
  ) {
    if (typeof options !== "object" || options === null) {
      this.issues.push({ path: prefix, message: "options must be an object" });
      this.options = {};
      return;
    }
    this.options = options as Record<string, unknown>;
    for (const key of Object.keys(this.options)) {
      if (!known.includes(key)) {
        this.issues.push({
          path: `${prefix}.${key}`,
          message: `unknown option (expected one of: ${known.join(", ")})`,
        });
      }
    }
  }

  private bad(name: string, message: string, value: unknown): void {
    this.issues.push({ path: `${this.prefix}.${name}`, message: `${message}, got ${showValue(value)}` });
  }

  /** Any other field: `valid` judges its value (an absent one only when `required`). */
  field(name: string, valid: (value: unknown) => boolean, message: string, required = false): void {
    const value = this.options[name];
    if (value === undefined && !required) return;
    if (!valid(value)) this.bad(name, message, value);
  }

  /** An integer >= `min`. */
  int(name: string, fallback: number, min = 1): number {
    const value = this.options[name];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
      this.bad(name, `must be an integer >= ${min}`, value);
      return fallback;
    }
    return value;
  }

  /** A number >= 0 (finite unless `infinity`). */
  number(name: string, fallback: number, infinity = false): number {
    const value = this.options[name];
    if (value === undefined) return fallback;
    if (
      typeof value !== "number" ||
      Number.isNaN(value) ||
      value < 0 ||
      (!infinity && !Number.isFinite(value))
    ) {
      this.bad(
        name,
        `must be a ${infinity ? "" : "finite "}number >= 0${infinity ? " (Infinity allowed)" : ""}`,
        value,
      );
      return fallback;
    }
    return value;
  }

  /** A PostgreSQL identifier or a key prefix: a non-empty string. */
  text(name: string, identifier: boolean): string | undefined {
    const value = this.options[name];
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.length === 0 || (identifier && !validIdent(value))) {
      this.bad(
        name,
        identifier ? "must be a PostgreSQL identifier (1-63 characters)" : "must be a string",
        value,
      );
      return undefined;
    }
    return value;
  }

  /** An object with these methods (a driver client, a publisher). */
  methods(name: string, ...methods: string[]): void {
    const value = this.options[name] as Record<string, unknown> | undefined;
    if (typeof value !== "object" || value === null || methods.some((m) => typeof value[m] !== "function")) {
      this.issues.push({
        path: `${this.prefix}.${name}`,
        message: `must be an object with ${methods.map((m) => `${m}()`).join(", ")}`,
      });
    }
  }

  function(name: string): void {
    const value = this.options[name];
    if (value !== undefined && typeof value !== "function") this.bad(name, "must be a function", value);
  }

  /** Throws one CatgaConfigError listing every issue found. */
  done(): void {
    if (this.issues.length > 0) throw new CatgaConfigError(this.issues);
  }
}

function pickLimits(limits: StoreLimits | undefined): StoreLimits {
  return { maxKeyBytes: limits?.maxKeyBytes, maxValueBytes: limits?.maxValueBytes } as StoreLimits;
}

function validIdent(name: string): boolean {
  return name.length > 0 && name.length <= 63 && !name.includes("\0");
}

/** Quotes a PostgreSQL identifier; `schema` optional. */
export function qualified(schema: string | undefined, name: string): string {
  return schema === undefined ? quoteIdent(name) : `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

export function quoteIdent(name: string): string {
  if (typeof name !== "string" || !validIdent(name)) {
    throw invalid(`not a valid PostgreSQL identifier: ${JSON.stringify(name)}`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A connection checked out of the pool for a transaction. While checked out, a connection that
 * dies (server restart, `pg_terminate_backend`) emits `error` on the client; without a listener
 * that would crash the process, so one is attached until release. The next query then fails and
 * the caller reports it.
 */
export interface CheckedOut {
  readonly client: PgPoolClient;
  /** The connection's own error, if it died while checked out. */
  readonly died: Error | undefined;
  /** Returns the connection; with an error (or after it died) the pool discards it. */
  release(error?: Error): void;
}

export async function checkout(pool: PgPool, store: string): Promise<CheckedOut> {
  let client: PgPoolClient;
  try {
    client = await pool.connect();
  } catch (cause) {
    throw storeFailed(store, "connect", cause);
  }
  let died: Error | undefined;
  const onError = (error: unknown) => {
    died ??= error instanceof Error ? error : new Error(String(error));
  };
  client.on("error", onError);
  let released = false;
  return {
    client,
    get died() {
      return died;
    },
    release(error?: Error) {
      if (released) return;
      released = true;
      client.removeListener("error", onError);
      client.release(error ?? died);
    },
  };
}

/** A value as an option error shows it: NaN and Infinity as such, never a throw (circular objects). */
function showValue(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "function") return "a function";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
