import pg from "pg";
import { freePort } from "../nats/helpers.js";

export { freePort };

/** The machine's PostgreSQL and Redis (started by .ci/run / scripts/services.sh). */
export const PG_URL = process.env.CATGA_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.CATGA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A name unique to this test run, so parallel files and reruns never see each other's rows. */
export function uniqueName(name: string): string {
  return `catga_t${process.pid}_${Math.random().toString(36).slice(2, 8)}_${name}`;
}

/** `applicationName` tags the connections, so a test can find (and kill) only its own backends. */
export function newPool(max = 10, applicationName?: string): pg.Pool {
  return new pg.Pool({
    connectionString: PG_URL,
    max,
    ...(applicationName === undefined ? {} : { application_name: applicationName }),
  });
}

/** A pool whose server does not exist: every connect fails with ECONNREFUSED. */
export async function deadPool(): Promise<pg.Pool> {
  const port = await freePort();
  const pool = new pg.Pool({ host: "127.0.0.1", port, user: "postgres", connectionTimeoutMillis: 2000 });
  pool.on("error", () => {});
  return pool;
}

export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  what = "condition",
) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
