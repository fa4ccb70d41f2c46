import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { migrate } from "../../ts/entries/persistence.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";
import { dropSchema, eventually, newPool, PG_URL, uniqueName } from "../persistence/helpers.js";

// Issue 17: the saga host is killed with SIGKILL mid-saga; another host (a new process) finishes
// every instance from its last persisted step. Payments (durable steps) run in a third process.
// Real NATS (JetStream) and PostgreSQL.
const PlaceOrder = defineCommand("orders.place").payload<{ orderId: string; n: number }>().durable();
const TOTAL = 60;
const STEP_MS = 40;

const pool = newPool(4);
const schema = uniqueName("sagakill");
const prefix = uniquePrefix("sagakill");
const children: ChildProcess[] = [];

beforeAll(async () => {
  await migrate(pool, { schema });
  await pool.query(
    `CREATE TABLE "${schema}".ledger (key text PRIMARY KEY, order_id text NOT NULL, kind text NOT NULL, pid int NOT NULL)`,
  );
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await dropSchema(pool, schema);
  await pool.end();
});

function host(
  role = "host",
): Promise<{ child: ChildProcess; steps: () => number; duplicates: () => number }> {
  const child = spawn(
    process.execPath,
    [
      new URL("./saga-worker.mjs", import.meta.url).pathname,
      role,
      NATS_URL,
      prefix,
      PG_URL,
      schema,
      String(STEP_MS),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(child);
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const steps = () => out.split("\n").filter((line) => line.startsWith("step ")).length;
  const duplicates = () => out.split("\n").filter((line) => line.startsWith("duplicate ")).length;
  return until(() => out.includes("ready"), 60_000, "saga host ready").then(() => ({
    child,
    steps,
    duplicates,
  }));
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe("sagas: the host killed with SIGKILL mid-saga, twice", () => {
  it("every saga ends in exactly one terminal state, each effect applied once, none stuck", async () => {
    const payments = await host("payments");
    const first = await host();
    const transport = await natsTransport({ servers: NATS_URL, service: "web", prefix });
    const web = createCatga({ logger: silentLogger, transport }).remote(PlaceOrder).build();
    for (let n = 1; n <= TOTAL; n++) (await web.send(PlaceOrder, { orderId: `o${n}`, n })).unwrap();
    const unfinished = async () =>
      (
        await pool.query(
          `SELECT count(*)::int AS n FROM "${schema}".catga_saga WHERE status NOT IN ('completed', 'compensated')`,
        )
      ).rows[0].n as number;
    // Killed while payments holds charges it sent: their Results go to a dead process.
    await until(() => payments.steps() >= 12, 60_000, "12 charges started");
    await kill(first.child);
    expect(await unfinished()).toBeGreaterThan(0); // the kill did land mid-saga

    // The second host is killed too, once it has taken over some of the work.
    const middle = await host();
    await until(() => middle.steps() >= 10, 60_000, "the second host at work");
    await kill(middle.child);
    expect(await unfinished()).toBeGreaterThan(0);

    const second = await host();
    await eventually(
      async () => {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM "${schema}".catga_saga WHERE status IN ('completed', 'compensated')`,
        );
        return rows[0].n === TOTAL;
      },
      90_000,
      "every saga terminal",
    );
    expect(second.steps()).toBeGreaterThan(0);
    // A later host sent charges again inside the duplicate window, and waited it out.
    expect(middle.duplicates() + second.duplicates()).toBeGreaterThan(0);

    const { rows: sagas } = await pool.query(
      `SELECT id, status, progress FROM "${schema}".catga_saga ORDER BY id`,
    );
    const { rows: ledger } = await pool.query(`SELECT order_id, kind FROM "${schema}".ledger`);
    const effects = new Map<string, string[]>();
    for (const row of ledger) effects.set(row.order_id, [...(effects.get(row.order_id) ?? []), row.kind]);
    expect(sagas).toHaveLength(TOTAL);
    for (const saga of sagas) {
      const n = Number(saga.id.slice(1));
      const kinds = (effects.get(saga.id) ?? []).sort();
      if (n % 4 === 0) {
        expect(saga.status, saga.id).toBe("compensated");
        expect(saga.progress.error.code).toBe("SHIPPING_CLOSED");
        expect(kinds, saga.id).toEqual(["charge", "refund", "release", "reserve"]);
      } else {
        expect(saga.status, saga.id).toBe("completed");
        expect(kinds, saga.id).toEqual(["charge", "reserve", "ship"]);
      }
    }
    await transport.close();
    second.child.kill("SIGTERM");
    payments.child.kill("SIGTERM");
  }, 180_000);
});
