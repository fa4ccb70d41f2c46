import { describeThrown } from "../errors.js";
import { invalid, storeFailed } from "./store-errors.js";

/**
 * The slice of a `pg` Pool or Client these modules use. Typed structurally so `pg` is never
 * imported: pass your own `new pg.Pool(...)`, a `PoolClient` or a `Client`.
 */
export interface PgQueryable {
  /** Runs one parameterized statement (`$1`, `$2`, ... bound to `values`). */
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
  /** Returns the connection to the pool; an error (or true) destroys it instead. */
  release(error?: Error | boolean): void;
  /** Adds an event listener (`error`, `notification` for LISTEN). */
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter listener signature.
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Removes a listener added with `on`. */
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter listener signature.
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

/** A `pg` Pool: queries, plus `connect()` for transactions and LISTEN. */
export interface PgPool extends PgQueryable {
  /** Checks out a connection; the caller must `release()` it. */
  connect(): Promise<PgPoolClient>;
}

export function validIdent(name: string): boolean {
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
 * Default bound on one store call (a connect, a query), in ms. A connection that stalls (bytes
 * held, no reset: a dead NAT entry, a frozen proxy) never answers and never errors, so without a
 * bound the caller would wait until the OS gives up on the socket, minutes later.
 */
export const STORE_CALL_TIMEOUT_MS = 10_000;

/** A store call that got no answer in time (a stalled connection, an overloaded server). */
export class StoreCallTimeout extends Error {
  override readonly name = "StoreCallTimeout";
  constructor(what: string, timeoutMs: number) {
    super(`${what} got no answer within ${timeoutMs} ms`);
  }
}

/** `call`, or a `StoreCallTimeout` naming `what` after `timeoutMs` (Infinity or 0: unbounded). */
export function within<T>(call: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  if (!(timeoutMs > 0) || timeoutMs === Number.POSITIVE_INFINITY) return call;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreCallTimeout(what, timeoutMs)), timeoutMs);
  });
  return Promise.race([call, expired]).finally(() => clearTimeout(timer));
}

/** `queryable` with every query bounded by `timeoutMs` (see {@link within}). */
export function bounded(queryable: PgQueryable, timeoutMs: number): PgQueryable {
  return { query: (text, values) => within(queryable.query(text, values), timeoutMs, "query") };
}

/**
 * A connection checked out of the pool for a transaction. While checked out, a connection that
 * dies (server restart, `pg_terminate_backend`) emits `error` on the client; without a listener
 * that would crash the process, so one is attached until release. The next query then fails and
 * the caller reports it. Queries through `query` are bounded: one that stalls marks the connection
 * dead, so the next (a ROLLBACK) fails at once and release discards it.
 */
export interface CheckedOut {
  readonly client: PgPoolClient;
  /** The connection's own error, if it died (or stalled) while checked out. */
  readonly died: Error | undefined;
  /** One query, bounded by the checkout's timeout. */
  query(text: string, values?: unknown[]): Promise<PgResult>;
  /** Returns the connection; with an error (or after it died) the pool discards it. */
  release(error?: Error): void;
}

export async function checkout(
  pool: PgPool,
  store: string,
  timeoutMs = STORE_CALL_TIMEOUT_MS,
): Promise<CheckedOut> {
  let client: PgPoolClient;
  try {
    client = await within(pool.connect(), timeoutMs, "connect");
  } catch (cause) {
    throw storeFailed(store, "connect", cause);
  }
  let died: Error | undefined;
  const onError = (error: unknown) => {
    died ??= error instanceof Error ? error : new Error(describeThrown(error));
  };
  client.on("error", onError);
  let released = false;
  return {
    client,
    get died() {
      return died;
    },
    query(text, values) {
      if (died instanceof StoreCallTimeout) return Promise.reject(died);
      return within(client.query(text, values), timeoutMs, "query").catch((error: unknown) => {
        if (error instanceof StoreCallTimeout) died ??= error;
        throw error;
      });
    },
    release(error?: Error) {
      if (released) return;
      released = true;
      client.removeListener("error", onError);
      client.release(error ?? died);
    },
  };
}
