import { describeThrown } from "../errors.js";
import { type CheckedOut, checkout, type PgPool } from "./pg.js";
import { storeFailed } from "./store-errors.js";

/**
 * Runs `work` on one checked-out connection (connect and `connection.query` bounded by `timeoutMs`) between BEGIN and COMMIT (ROLLBACK when it throws),
 * and resolves with its result. Rejects with `work`'s error, or CATGA_STORE_FAILED naming `store`
 * when the database fails; then nothing was committed, except when COMMIT itself failed in flight.
 * A statement of `work` that failed and was caught there still fails the call: PostgreSQL aborted
 * the transaction and answers COMMIT with ROLLBACK, so reporting success would be a lie.
 */
export async function inTransaction<T>(
  pool: PgPool,
  store: string,
  timeoutMs: number,
  work: (connection: CheckedOut) => Promise<T>,
): Promise<T> {
  const connection = await checkout(pool, store, timeoutMs);
  const client = connection.client;
  let broken: Error | undefined;
  try {
    try {
      await client.query("BEGIN");
    } catch (cause) {
      broken = asError(cause);
      throw storeFailed(store, "begin", cause);
    }
    let result: T;
    try {
      result = await work(connection);
    } catch (error) {
      // A statement that got no answer leaves the connection busy: a ROLLBACK would queue behind
      // it. Discarding the connection ends the transaction on the server instead.
      if (connection.died === undefined)
        await client.query("ROLLBACK").catch((cause: unknown) => {
          broken = asError(cause);
        });
      throw error;
    }
    let committed: { command?: string | undefined };
    try {
      committed = await client.query("COMMIT");
    } catch (cause) {
      broken = asError(cause);
      throw storeFailed(store, "commit", cause);
    }
    if (committed?.command === "ROLLBACK") {
      throw storeFailed(
        store,
        "commit",
        new Error("the transaction was aborted by a failed statement inside work() and rolled back"),
      );
    }
    return result;
  } finally {
    connection.release(broken);
  }
}

function asError(cause: unknown): Error {
  return cause instanceof Error ? cause : new Error(describeThrown(cause));
}
