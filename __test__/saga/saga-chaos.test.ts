import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { migrate } from "../../ts/entries/persistence.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";
import { dropSchema, eventually, newPool, PG_URL, sleep, uniqueName } from "../persistence/helpers.js";

// Issue 17's chaos test: order sagas across four processes (the saga host; orders, inventory and
// payments handlers), real NATS (JetStream) and PostgreSQL, with injected failures — 20 % of cards
// declined, 10 % of orders for an item out of stock, random handler errors — while the saga host is
// killed with SIGKILL three times and started again. Every effect is written with `exactlyOnce` to a
// PostgreSQL ledger (chaos-worker.mjs); the books are checked per saga in SQL at the end.
// CATGA_SAGA_CHAOS=1000 runs the full size (docs/architecture/sagas.md has its numbers).
const TOTAL = Number(process.env.CATGA_SAGA_CHAOS ?? 300);
/** CATGA_SAGA_CHAOS_KILLS kills the host more often (3 by default, as the issue asks). */
const KILLS = Number(process.env.CATGA_SAGA_CHAOS_KILLS ?? 3);
/** CATGA_SAGA_CHAOS_HOSTS runs that many saga hosts side by side (their activations race); 1 by default. */
const HOSTS = Number(process.env.CATGA_SAGA_CHAOS_HOSTS ?? 1);
/** Chance that a handler throws after writing its effect (rolled back), at most twice per key. */
const ERROR_RATE = 0.1;

const PlaceOrder = defineCommand("orders.place")
  .payload<{ orderId: string; n: number; sku: string; card: string; amount: number; slow?: string }>()
  .durable();

type Outcome = "completed" | "short" | "declined" | "slow";
/** Fixed by the order's number, so the test knows what each saga must end in. */
function expected(n: number): Outcome {
  // 0.8 %: a reserve slower than its step's timeout. Compensated, unless a kill made the host that
  // sent it again wait less than the slow run had left (then it completes). Inventory handles a
  // subscription's requests batch by batch (docs/architecture/overview.md), so the reserves that arrive
  // behind a slow one wait for it too: a wave of them times out, and is compensated as well.
  if (n % 250 === 7 || n % 250 === 132) return "slow";
  if (n % 10 === 3) return "short"; // 10 %: the scarce item, none in stock
  if (n % 5 === 1) return "declined"; // 20 %: a card the payments service declines
  return "completed";
}

function order(n: number) {
  const outcome = expected(n);
  return {
    orderId: `o${n}`,
    n,
    sku: outcome === "short" ? "scarce" : "tea",
    card: outcome === "declined" ? "declined" : "ok",
    amount: 100 + n,
    ...(outcome === "slow" ? { slow: n % 250 === 7 ? "before" : "after" } : {}),
  };
}

const pool = newPool(4);
const schema = uniqueName("sagachaos");
const prefix = uniquePrefix("sagachaos");

interface Worker {
  readonly role: string;
  readonly child: ChildProcess;
  readonly lines: string[];
}
const workers: Worker[] = [];

beforeAll(async () => {
  await migrate(pool, { schema }); // catga_inbox (exactlyOnce) and catga_saga
  await pool.query(`
    CREATE TABLE "${schema}".stock (sku text PRIMARY KEY, units int NOT NULL);
    -- One row per applied effect or refusal. No unique key per order and kind on purpose:
    -- exactlyOnce, not the schema, keeps a step sent again from applying twice, and the test proves it.
    CREATE TABLE "${schema}".ledger (
      id bigserial PRIMARY KEY, order_id text NOT NULL, kind text NOT NULL, message_id text NOT NULL,
      stock int NOT NULL, money int NOT NULL, pid int NOT NULL
    );
    CREATE INDEX ON "${schema}".ledger (order_id);
  `);
  await pool.query(`INSERT INTO "${schema}".stock VALUES ('tea', $1), ('scarce', 0)`, [TOTAL]);
});

afterAll(async () => {
  // By PID: each worker this file started, and only those.
  for (const { child } of workers)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await dropSchema(pool, schema);
  await pool.end();
});

async function start(role: string): Promise<Worker> {
  const child = spawn(
    process.execPath,
    [
      new URL("./chaos-worker.mjs", import.meta.url).pathname,
      role,
      NATS_URL,
      prefix,
      PG_URL,
      schema,
      String(ERROR_RATE),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const worker: Worker = { role, child, lines: [] };
  workers.push(worker);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} not ready within 60 s`)), 60_000);
    child.once("exit", (code) => reject(new Error(`${role} exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      worker.lines.push(line);
      if (line === "ready") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await ready;
  return worker;
}

async function kill(worker: Worker): Promise<void> {
  const exited = once(worker.child, "exit");
  worker.child.kill("SIGKILL");
  await exited;
}

async function stop(worker: Worker): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = once(worker.child, "exit");
  worker.child.kill("SIGTERM");
  const timer = setTimeout(() => worker.child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

async function count(where: string): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".catga_saga WHERE ${where}`);
  return rows[0].n;
}
const terminal = () => count("status IN ('completed', 'compensated')");

describe(`sagas under chaos: ${TOTAL} orders, injected failures, the host killed ${KILLS} times`, () => {
  it("every saga ends once, completed or compensated; every effect and compensation applied once", async () => {
    const began = Date.now();
    const services = await Promise.all(["inventory", "payments", "orders"].map((role) => start(role)));
    const hosts = await Promise.all(Array.from({ length: HOSTS }, () => start("host")));
    const transport = await natsTransport({ servers: NATS_URL, service: "web", prefix });
    const web = createCatga({ logger: silentLogger, transport }).remote(PlaceOrder).build();
    for (let n = 1; n <= TOTAL; n++) (await web.send(PlaceOrder, order(n))).unwrap();

    // Killed at a quarter, a half and three quarters of the way, each time mid-work.
    const killedAt: number[] = [];
    let midSagaAtKills = 0;
    for (let k = 1; k <= KILLS; k++) {
      await eventually(async () => (await terminal()) >= (TOTAL * k) / (KILLS + 1), 120_000, `kill ${k}`);
      await kill(hosts[k % HOSTS]!);
      killedAt.push(await terminal());
      // Instances the dead host left between their first and last write: its successor's work.
      midSagaAtKills += await count(
        "status IN ('running', 'compensating') AND (step > 0 OR status = 'compensating')",
      );
      expect(killedAt[k - 1]).toBeLessThan(TOTAL); // the kill landed mid-run
      hosts[k % HOSTS] = await start("host");
    }
    // None stuck: every instance terminal by the settle deadline (else the statuses are reported).
    await eventually(async () => (await terminal()) === TOTAL, 180_000, "every saga terminal").catch(
      async (error) => {
        const { rows } = await pool.query(
          `SELECT status, step, count(*)::int AS n FROM "${schema}".catga_saga GROUP BY 1, 2 ORDER BY 1, 2`,
        );
        throw new Error(`${error.message}: ${JSON.stringify(rows)}`);
      },
    );
    const settledMs = Date.now() - began;

    // None twice: starting a finished order again (a new message id) creates and runs nothing, and
    // after a quiet spell longer than the ack wait and the duplicate window nothing late has landed.
    const snapshot = async () =>
      (
        await pool.query(
          `SELECT (SELECT count(*)::int FROM "${schema}".ledger) AS rows,
                  (SELECT string_agg(id || '=' || status || '@' || revision, ',' ORDER BY id)
                     FROM "${schema}".catga_saga) AS sagas`,
        )
      ).rows[0];
    const settled = await snapshot();
    for (let n = 1; n <= 20; n++) (await web.send(PlaceOrder, order(n))).unwrap();
    await sleep(5_000);
    expect(await snapshot()).toEqual(settled);

    const { rows: sagas } = await pool.query(
      `SELECT id, status, progress FROM "${schema}".catga_saga WHERE saga = 'order' ORDER BY id`,
    );
    const { rows: ledger } = await pool.query(
      `SELECT order_id, kind, stock, money FROM "${schema}".ledger ORDER BY id`,
    );
    const books = new Map<string, { kinds: string[]; stock: number; money: number }>();
    for (const row of ledger) {
      const entry = books.get(row.order_id) ?? { kinds: [], stock: 0, money: 0 };
      entry.kinds.push(row.kind);
      entry.stock += row.stock;
      entry.money += row.money;
      books.set(row.order_id, entry);
    }
    expect(sagas).toHaveLength(TOTAL); // one instance per order (the table's key: one status each)
    const tally = { completed: 0, short: 0, declined: 0, timedOut: 0 };
    for (const saga of sagas) {
      const n = Number(saga.id.slice(1));
      const outcome = expected(n);
      const book = books.get(saga.id) ?? { kinds: [], stock: 0, money: 0 };
      const kinds = [...book.kinds].sort();
      if (saga.status === "compensated" && saga.progress.error.code === "CATGA_TIMEOUT") {
        // The reserve ran out of time (a slow one, or one queued behind it): released, or voided
        // before it landed (then it refused). Nothing else ran.
        tally.timedOut++;
        expect(saga.progress.error.step, saga.id).toBe("reserve");
        expect([["release-nothing"], ["release", "reserve"], ["release-nothing", "short"]]).toContainEqual(
          kinds,
        );
        expect([book.stock, book.money], saga.id).toEqual([0, 0]);
        continue;
      }
      if (outcome === "completed" || outcome === "slow") {
        tally.completed++;
        expect(saga.status, saga.id).toBe("completed");
        expect(kinds, saga.id).toEqual(["charge", "confirm", "reserve"]);
        expect([book.stock, book.money], saga.id).toEqual([-1, 100 + n]);
        continue;
      }
      tally[outcome]++;
      expect(saga.status, saga.id).toBe("compensated");
      expect([book.stock, book.money], saga.id).toEqual([0, 0]); // net zero stock and money
      if (outcome === "short") {
        expect(saga.progress.error.code, saga.id).toBe("STOCK_SHORT");
        expect(kinds, saga.id).toEqual(["release-nothing", "short"]);
      } else {
        expect(saga.progress.error.code, saga.id).toBe("PAYMENT_DECLINED");
        expect(kinds, saga.id).toEqual(["declined", "refund-nothing", "release", "reserve"]);
      }
    }
    const { rows: stock } = await pool.query(`SELECT sku, units FROM "${schema}".stock ORDER BY sku`);
    expect(stock).toEqual([
      { sku: "scarce", units: 0 },
      { sku: "tea", units: TOTAL - tally.completed },
    ]);

    // What the chaos made run more than once (rolled back or replayed by exactlyOnce).
    const lines = workers.flatMap((w) => w.lines);
    const runs = lines.filter((line) => line.startsWith("step ")).length;
    const injected = lines.filter((line) => line.startsWith("injected ")).length;
    const duplicates = lines.filter((line) => line.startsWith("duplicate ")).length;
    expect(midSagaAtKills).toBeGreaterThan(0); // the kills caught sagas between their steps
    expect(injected).toBeGreaterThan(0);
    expect(tally.timedOut).toBeGreaterThan(0); // the slow reserves did time out
    console.log(
      `saga chaos: ${TOTAL} sagas (${tally.completed} completed; compensated: ${tally.declined} ` +
        `declined, ${tally.short} short, ${tally.timedOut} reserves timed out), host killed at ${killedAt.join("/")} terminal; all terminal ` +
        `after ${(settledMs / 1000).toFixed(1)} s; ${midSagaAtKills} sagas mid-way at the kills, ` +
        `${injected} injected handler errors, ${duplicates} resent durable steps waited out, ` +
        `${runs} handler runs for ${ledger.length} ledger rows`,
    );

    await transport.close();
    await Promise.all([...services, ...hosts].map(stop));
  }, 600_000);
});
