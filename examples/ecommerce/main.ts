// `npm run example:ecommerce`: starts the shop's five services as child processes on the machine's
// NATS and PostgreSQL, sends 100 scripted orders through the HTTP gateway, waits until every
// accepted order has ended, prints what happened, and checks the invariants in PostgreSQL.
// Exits 1 if one is broken (or the run takes too long), 2 if a server is missing.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import pg from "pg";
import { JetStream } from "../../dist/jetstream.js";
import { NatsConnection } from "../../dist/nats.js";
import { DATABASE_URL, NATS_URL, needs } from "../services.js";
import { INITIAL_STOCK } from "./catalog.js";
import { resetDatabase } from "./database.js";
import { checkInvariants, orderRows } from "./invariants.js";
import { type Expected, inParallel, REFUSED, script } from "./scenario.js";
import { PREFIX, SCHEMA } from "./service.js";

const SERVICES = ["gateway", "orders", "payments", "inventory", "shipping"] as const;
const RUN_DEADLINE_MS = Number(process.env.ECOMMERCE_DEADLINE_MS ?? 60_000);
const children = new Map<string, ChildProcess>();
const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(1);

// Bounded in time: past the deadline, stop everything and fail.
const deadline = setTimeout(
  () => void fail(`the run took longer than ${RUN_DEADLINE_MS} ms`),
  RUN_DEADLINE_MS,
);

/** Starts one service; resolves with what it printed after `ready` (the gateway's URL). */
function start(name: string): Promise<string> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, new URL(`${name}.ts`, import.meta.url).pathname],
    {
      env: { ...process.env, CATGA_PREFIX: PREFIX, CATGA_SCHEMA: SCHEMA },
      stdio: ["pipe", "pipe", "pipe"], // stdin: the child stops when it closes (this process gone)
    },
  );
  children.set(name, child);
  createInterface({ input: child.stderr! }).on("line", (line) => console.error(`[${name}] ${line}`));
  // A service that exits on its own (before or after `ready`) fails the run: `fail` stops the others.
  child.once("exit", (code, signal) => {
    if (!stopping) void fail(`${name} exited (${signal ?? code}) while the shop was running`);
  });
  return new Promise((ready) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith("ready")) ready(line.slice(6));
      else console.error(`[${name}] ${line}`);
    });
  });
}

let stopping = false;
/** SIGTERM to every child, SIGKILL to any still there after 10 s; resolves when all have exited. */
async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((exited) => {
          if (child.exitCode !== null || child.signalCode !== null) return exited();
          const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
          child.once("exit", () => {
            clearTimeout(kill);
            exited();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
}

async function fail(reason: string): Promise<never> {
  console.log(`FAILED: ${reason}`);
  await stopAll();
  process.exit(1);
}

/** The run's streams (prefix upper-cased): removed before a run, so each starts afresh, and after. */
async function removeStreams(jetstream: JetStream): Promise<void> {
  const base = PREFIX.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  for (const suffix of ["EVENTS", "EVENTS_DLQ", "COMMANDS", "COMMANDS_DLQ", "COMMANDS_RESULTS"])
    await jetstream.deleteStream(`${base}_${suffix}`).catch(() => false);
}

// 1. A clean slate: the schema recreated with its tables and stock, the streams removed.
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
await pool.query("SELECT 1").catch(needs("PostgreSQL"));
const connection = await NatsConnection.connect({ servers: NATS_URL }).catch(needs("NATS"));
const jetstream = new JetStream(connection);
await removeStreams(jetstream);
await resetDatabase(pool, SCHEMA);

// 2. The services, each its own process (started together; orders and payments create the streams).
const [gatewayUrl] = await Promise.all(SERVICES.map(start));
const pids = SERVICES.map((name) => `${name} ${children.get(name)?.pid}`).join(", ");
console.log(`up after ${seconds()} s: ${pids}`);

// 3. The scenario, over HTTP with 16 requests in flight.
async function post(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${gatewayUrl}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
const orders = script();
const answers = await inParallel([...orders.map((o) => o.body), ...REFUSED.map((r) => r.body)], 16, post);
const accepted = new Map<string, Expected>();
const refused = new Map<string, number>();
answers.forEach((answer, index) => {
  const scripted = orders[index];
  if (scripted !== undefined && answer.status === 202)
    accepted.set(String(answer.json.orderId), scripted.expected);
  else {
    const key = `${answer.status} ${answer.json.code}`;
    refused.set(key, (refused.get(key) ?? 0) + 1);
  }
});
const refusedText = [...refused].map(([key, n]) => `${key} ×${n}`).join(", ");
console.log(
  `http: ${answers.length} orders posted, ${accepted.size} accepted (202), refused: ${refusedText || "none"}`,
);

// 4. Wait until every accepted order has ended (or a saga is stuck for an operator: `failed`).
for (;;) {
  const rows = await orderRows(pool, SCHEMA);
  const open = rows.filter((r) => r.saga !== "completed" && r.saga !== "compensated");
  if (open.some((r) => r.saga === "failed")) await fail("a saga is failed (a compensation kept failing)");
  if (rows.length >= accepted.size && open.length === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
console.log(`saga: all ${accepted.size} accepted orders ended ${seconds()} s after the start`);

// 5. What happened, from the ledgers.
const rows = await orderRows(pool, SCHEMA);
const outcomes = new Map<string, typeof rows>();
for (const row of rows) {
  const key = row.status === "confirmed" ? "confirmed" : `cancelled ${row.reason}`;
  outcomes.set(key, [...(outcomes.get(key) ?? []), row]);
}
for (const [outcome, group] of [...outcomes].sort()) {
  const count = (field: "releases" | "refunds" | "shipments") => group.reduce((n, r) => n + r[field], 0);
  const effects =
    outcome === "confirmed"
      ? `${count("shipments")} shipped`
      : `${count("releases")} stock released, ${count("refunds")} refunded`;
  console.log(`  ${outcome}: ${group.length} (${effects})`);
}
const confirmed = rows.find((r) => r.status === "confirmed");
const refunded = rows.find((r) => r.reason === "SHIPPING_UNREACHABLE");
for (const id of [confirmed?.id, refunded?.id, "o-0"]) {
  const response = await fetch(`${gatewayUrl}/orders/${id}`);
  console.log(`GET /orders/${id}: ${response.status} ${await response.text()}`);
}
const { rows: stock } = await pool.query(`SELECT sku, on_hand FROM "${SCHEMA}".stock ORDER BY sku`);
const { rows: money } = await pool.query(
  `SELECT kind, count(*)::int AS n, sum(amount)::int AS cents FROM "${SCHEMA}".payments GROUP BY kind ORDER BY kind`,
);
console.log(`payments: ${money.map((r) => `${r.n} ${r.kind}s ${(r.cents / 100).toFixed(2)}`).join(", ")}`);
console.log(`stock: ${stock.map((r) => `${r.sku} ${INITIAL_STOCK[r.sku]} → ${r.on_hand}`).join(", ")}`);

// 6. The invariants.
const refusedAsScripted = REFUSED.every(({ status, code }, index) => {
  const answer = answers[orders.length + index];
  return answer?.status === status && answer.json.code === code;
});
const checks = [
  { ok: refusedAsScripted, text: "gateway: the bad body answered 400 CATGA_VALIDATION, the unknown sku 422" },
  ...(await checkInvariants(pool, SCHEMA, accepted)),
];
for (const { ok, text } of checks) console.log(`${ok ? "ok" : "BROKEN"}: ${text}`);

clearTimeout(deadline);
await stopAll();
console.log(`stopped ${children.size} processes`);
await removeStreams(jetstream);
await connection.close();
await pool.end();
process.exit(checks.every((c) => c.ok) ? 0 : 1);
