import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { natsTransport } from "../../ts/entries/nats.js";
import { migrate } from "../../ts/entries/persistence.js";
import { createCatga, defineCommand, type Result, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";
import { dropSchema, newPool, PG_URL, uniqueName } from "../persistence/helpers.js";
import { startWorker, type WorkerLog } from "./worker-process.js";

// Issue 16: kill -9 of a handler process in the middle of 10,000 durable commands across two
// handler processes: every command completes, its effect is applied exactly once (checked in
// PostgreSQL), and every "result" caller receives its result. The handlers apply each command
// with `exactlyOnce` (once-worker.mjs): a `ledger` row per command whose `applied` column counts
// committed effects, so a double effect shows as 2, a lost one as a missing row.

const Post = defineCommand("ledger.post")
  .payload<{ n: number }>()
  .returns<{ n: number; pid: number }>()
  .durable();
const TOTAL = 10_000;
/** Sends in flight at once: enough to keep both handlers' batches full. */
const WINDOW = 512;
const workerScript = fileURLToPath(new URL("./once-worker.mjs", import.meta.url));
const schema = uniqueName("oncekill");
const pool = newPool(2);
const workers: ChildProcess[] = [];

beforeAll(async () => {
  await migrate(pool, { schema });
  await pool.query(
    `CREATE TABLE "${schema}".ledger (n int PRIMARY KEY, applied int NOT NULL, pid int NOT NULL)`,
  );
});
afterAll(async () => {
  for (const child of workers) if (child.exitCode === null) child.kill("SIGKILL");
  await dropSchema(pool, schema);
  await pool.end();
});

const startOnceWorker = (prefix: string, log: WorkerLog, holdAfter?: number) =>
  startWorker(
    workerScript,
    [prefix, schema, ...(holdAfter === undefined ? [] : [String(holdAfter)])],
    { NATS_URL, PG_URL },
    log,
    workers,
  );

describe("durable commands with exactlyOnce: a handler process killed mid-stream", () => {
  it("applies each of 10,000 commands exactly once and answers every 'result' caller", async () => {
    const prefix = uniquePrefix("oncekill");
    const logA: WorkerLog = { took: [], done: [] };
    const logB: WorkerLog = { took: [], done: [] };
    // A holds its transactions open once it took HOLD_AFTER commands, so the kill below lands
    // inside open transactions however loaded the machine is.
    const HOLD_AFTER = TOTAL / 8;
    const [a, b] = await Promise.all([
      startOnceWorker(prefix, logA, HOLD_AFTER),
      startOnceWorker(prefix, logB),
    ]);
    const callerTransport = await natsTransport({ servers: NATS_URL, service: "caller", prefix });
    const caller = createCatga({ logger: silentLogger, transport: callerTransport }).remote(Post).build();

    // WINDOW sends in flight; each waits for its Result up to 40 s (the whole run stays well under).
    const results: Result<{ n: number; pid: number }>[] = new Array(TOTAL);
    let next = 0;
    const sender = async () => {
      while (next < TOTAL) {
        const n = next++;
        results[n] = await caller.send(Post, { n }, { await: "result", signal: AbortSignal.timeout(40_000) });
      }
    };
    const sending = Promise.all(Array.from({ length: WINDOW }, sender));

    // Kill A with transactions open: once it holds effects started and not finished.
    await until(() => logA.took.length > HOLD_AFTER, 40_000, "worker A to hold open transactions");
    a.kill("SIGKILL");
    await new Promise((resolve) => a.once("close", resolve)); // its output read to the end
    const doneByA = new Set(logA.done);
    const unfinishedByA = [...new Set(logA.took)].filter((n) => !doneByA.has(n));
    expect(unfinishedByA.length).toBeGreaterThan(0);

    await sending;
    b.kill("SIGTERM");
    await new Promise((resolve) => b.once("close", resolve));

    // Every caller got its command's Result.
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => r.unwrap().n)).toEqual(Array.from({ length: TOTAL }, (_, n) => n));

    // PostgreSQL: one row per command, each effect committed once.
    const { rows } = await pool.query(
      `SELECT count(*)::int AS rows, coalesce(sum(applied), 0)::int AS effects, max(applied) AS most
       FROM "${schema}".ledger`,
    );
    expect(rows[0]).toEqual({ rows: TOTAL, effects: TOTAL, most: 1 });
    const { rows: recorded } = await pool.query(
      `SELECT count(*)::int AS n FROM "${schema}".catga_inbox WHERE key LIKE 'once:ledger.post:%' AND outcome IS NOT NULL`,
    );
    expect(recorded[0].n).toBe(TOTAL);

    // The kill landed inside transactions: effects A started and never committed were rolled
    // back and applied by B, once (the rows above). Some of A's may have committed just before
    // the kill; B then replayed them instead of applying them again.
    const { rows: redone } = await pool.query(`SELECT n, pid FROM "${schema}".ledger WHERE n = ANY($1)`, [
      unfinishedByA,
    ]);
    expect(redone.some((row: { pid: number }) => row.pid === b.pid)).toBe(true);
    // A caller's Result is the recorded one: from the process whose effect committed.
    const committedBy = new Map(redone.map((row: { n: number; pid: number }) => [row.n, row.pid]));
    for (const n of unfinishedByA) expect(results[n]!.unwrap().pid).toBe(committedBy.get(n));

    const js = new JetStream(callerTransport.connection);
    const stream = `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_COMMANDS`;
    await Promise.all([
      js.deleteStream(stream),
      js.deleteStream(`${stream}_DLQ`),
      js.deleteStream(`${stream}_RESULTS`),
    ]);
    await caller.close();
  }, 90_000);
});
