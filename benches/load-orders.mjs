// Load suite of issue 19, flow (c): the e-commerce "place order" flow (examples/ecommerce as it is:
// gateway, orders, payments, inventory, shipping, each its own process, on the machine's NATS and
// PostgreSQL) under closed-loop HTTP load at each connection count asked, then a drain until every
// order has ended, then the example's invariants in PostgreSQL.
//
//   npx tsup && npm run load:orders [-- --connections=100,1000] [--duration=8] [--warmup=2]
//                                     [--out=benches/reports]
//
// What is measured: POST /orders answered 202 = the order row and its OrderPlaced event committed
// in one transaction (the outbox) — req/s and p50 / p99 / p99.9 per connection count (autocannon,
// whole ms), errors, timeouts and non-2xx (all must be 0); and end to end, how long after the load
// the last order ended (its saga completed or compensated: reserve, charge, ship, confirm, each a
// message and a transaction) and the orders ended per second over the whole run. Bodies alternate
// one tea with a good card (confirmed, or out of stock once the tea is gone) and one mug with a
// declined card (PAYMENT_DECLINED). Each run gets its own prefix and schema, removed at the end;
// every service is stopped by its PID. Writes load-orders.json and load-orders.md to --out.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import pg from "pg";

const here = dirname(fileURLToPath(import.meta.url));
const flag = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const connectionCounts = (flag("connections") ?? "100,1000").split(",").map(Number);
const duration = Number(flag("duration") ?? 8);
const warmup = Number(flag("warmup") ?? 2);
const out = flag("out") ?? join(here, "reports");
const DRAIN_DEADLINE_MS = 180_000;
if (
  connectionCounts.some((c) => !(c >= 1 && c <= 1000)) ||
  !(duration > 0 && duration <= 10) ||
  !(warmup >= 0 && warmup <= 10)
) {
  console.error("--connections: a list in [1, 1000]; --duration in (0, 10] s; --warmup in [0, 10] s");
  process.exit(2);
}
if (!existsSync(join(here, "..", "dist", "fastify.js"))) {
  console.error("dist/fastify.js is missing: run `npx tsup` first");
  process.exit(2);
}
const { resetDatabase } = await import("../examples/ecommerce/database.ts").catch((error) => {
  console.error(`run with --import ./examples/ts-hooks.mjs (npm run load:orders): ${error.message}`);
  process.exit(2);
});
const { checkInvariants, orderRows } = await import("../examples/ecommerce/invariants.ts");
const { DATABASE_URL, NATS_URL } = await import("../examples/services.ts");
const { expectedEnd, ORDER_KINDS, removeStreams, Shop, shopStreams } = await import("./chaos/shop.mjs");

const prefix = `loadorders${process.pid}`;
const schema = `load_orders_${process.pid}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n) => Math.round(n).toLocaleString("en-US");
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

const accepted = new Set();
/** Closed loop at `connections` for `seconds`; records the ids of the accepted orders. */
function load(url, connections, seconds) {
  const requests = [ORDER_KINDS.tea, ORDER_KINDS.declined].map((body) => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    onResponse: (status, responseBody) => {
      if (status !== 202) return;
      const orderId = /"orderId":"([^"]+)"/.exec(responseBody)?.[1];
      if (orderId !== undefined) accepted.add(orderId);
    },
  }));
  return autocannon({ url, connections, duration: seconds, timeout: 10, requests });
}

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
const shop = new Shop({ CATGA_PREFIX: prefix, CATGA_SCHEMA: schema });
const runs = [];
let rows = [];
let checks = [];
let drain;
let startedAt;
let alive = {};
try {
  await resetDatabase(pool, schema);
  const gatewayUrl = await shop.startAll(1);
  console.log(`up: ${shop.pids()}; node ${process.version}; NATS ${NATS_URL}`);
  startedAt = Date.now();
  for (const connections of connectionCounts) {
    if (warmup > 0) await load(`${gatewayUrl}/orders`, connections, warmup);
    const result = await load(`${gatewayUrl}/orders`, connections, duration);
    const run = {
      connections,
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      p999: result.latency.p99_9,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      total: result.requests.total,
    };
    runs.push(run);
    console.log(
      `${connections} connections: ${fmt(run.rps)} orders/s accepted  p50 ${run.p50} ms  p99 ${run.p99} ms  p99.9 ${run.p999} ms  errors ${run.errors}  timeouts ${run.timeouts}  non-2xx ${run.non2xx}`,
    );
  }
  const loadEndedAt = Date.now();
  for (;;) {
    rows = await orderRows(pool, schema);
    const open = rows.filter((r) => r.saga !== "completed" && r.saga !== "compensated");
    if (open.length === 0 || open.some((r) => r.saga === "failed")) break;
    if (Date.now() - loadEndedAt > DRAIN_DEADLINE_MS) break;
    await sleep(250);
  }
  const open = rows.filter((r) => r.saga !== "completed" && r.saga !== "compensated");
  drain = {
    ms: Date.now() - loadEndedAt,
    open: open.length,
    failed: open.filter((r) => r.saga === "failed").length,
  };
  alive = shop.alive();
  const expected = new Map(rows.map((r) => [r.id, expectedEnd(r)]));
  for (const id of accepted) if (!expected.has(id)) expected.set(id, "scarce");
  checks = await checkInvariants(pool, schema, expected);
} finally {
  await shop.stopAll();
  await removeStreams([NATS_URL], shopStreams(prefix, {})).catch(() => undefined);
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await pool.end();
}

const endedPerSecond = rows.length / ((Date.now() - startedAt) / 1000);
const byEnd = {};
for (const row of rows) {
  const key = row.status === "confirmed" ? "confirmed" : `cancelled ${row.reason}`;
  byEnd[key] = (byEnd[key] ?? 0) + 1;
}
const allChecks = [
  { ok: Object.values(alive).every(Boolean), text: "no crash: every service process alive at the end" },
  {
    ok: runs.every((r) => r.errors + r.timeouts + r.non2xx === 0),
    text: "zero errors, timeouts and non-2xx",
  },
  {
    ok: drain.open === 0,
    text: `every order ended within ${DRAIN_DEADLINE_MS / 1000} s of the load's end (no saga stuck or failed)`,
  },
  ...checks.map((c) => ({ ok: c.ok, text: `PostgreSQL: ${c.text}` })),
];
const table = [
  "| connections | orders/s accepted (202) | p50 ms | p99 ms | p99.9 ms | errors + timeouts + non-2xx |",
  "| ---: | ---: | ---: | ---: | ---: | ---: |",
  ...runs.map(
    (r) =>
      `| ${fmt(r.connections)} | ${fmt(r.rps)} | ${r.p50} | ${r.p99} | ${r.p999} | ${r.errors + r.timeouts + r.non2xx} |`,
  ),
];
const endings = Object.entries(byEnd)
  .sort()
  .map(([k, n]) => `${k} ${fmt(n)}`)
  .join(", ");
const summary = `${fmt(accepted.size)} orders accepted, ${fmt(rows.length)} rows; the last ended ${fmt(drain.ms)} ms after the load (${drain.open} open); ${endedPerSecond.toFixed(1)} orders ended per second over the whole run; ${endings}.`;
const report = {
  suite: "load-orders",
  date: new Date().toISOString(),
  node: process.version,
  duration,
  warmup,
  runs,
  accepted: accepted.size,
  orders: rows.length,
  drain,
  endedPerSecond,
  endings: byEnd,
  stderrLines: shop.stderrLines,
  checks: allChecks,
};
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "load-orders.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(
  join(out, "load-orders.md"),
  [
    `# Load run of flow (c), the e-commerce place-order flow, ${report.date}`,
    "",
    `Closed loop, ${duration} s per connection count after ${warmup} s of warm-up; node ${process.version}.`,
    "",
    ...table,
    "",
    summary,
    "",
    ...allChecks.map((c) => `- ${c.ok ? "pass" : "FAIL"}: ${c.text}`),
    "",
  ].join("\n"),
);
console.log(`\n${table.join("\n")}\n\n${summary}`);
for (const c of allChecks) console.log(`${c.ok ? "pass" : "FAIL"}: ${c.text}`);
console.log(`report: ${join(out, "load-orders.md")}`);
if (!allChecks.every((c) => c.ok)) process.exitCode = 1;
