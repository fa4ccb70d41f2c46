// Chaos suite of issue 19 with zero lost orders: the e-commerce shop (examples/ecommerce: gateway,
// two orders instances, payments, inventory, shipping, each its own process; PostgreSQL with the
// outbox; the order saga on JetStream) under steady HTTP load, on a private 3-node NATS cluster
// reached through a TCP proxy, while faults are injected one after the other:
//   - kill -9 of orders instance B (A serves on), B restarted;
//   - kill -9 of the NATS node leading the durable-command stream, restarted;
//   - added latency on every connection to NATS (the proxy holds each chunk), then none;
//   - TCP resets of every connection to NATS (the proxy tears them down; clients reconnect);
//   - CPU starvation of orders B: SIGSTOP/SIGCONT cycles.
// A client timeout (10 s) is placed at the time its request was sent: it is charged to the fault
// in force then, not to when the client gave up. Then the load stops, the suite waits until every
// order has ended, and checks in PostgreSQL: every accepted order (HTTP 202) has its row and
// reached exactly one terminal state (confirmed with its saga completed, or cancelled with its saga
// compensated, as its body dictates), the stock and money ledgers balance, the outbox is drained.
// An order whose answer was lost (a 5xx or a socket error while its row had committed) is counted
// apart and must end in one terminal state too.
//
//   npx tsup && npm run chaos:orders [-- --rate=60] [--out=benches/reports] [--tiny]
//
// Streams are created by the suite with three replicas (the services are told
// ECOMMERCE_STREAMS=external); durable consumers' ack wait is 10 s (ECOMMERCE_ACK_WAIT_MS), how long
// a message taken by the killed instance waits before another takes it. Loopback only; every
// process (nats-servers, services) is stopped by its PID at the end, SIGKILLed if the suite dies.
// Writes chaos-orders.json, .md and .svg to --out; exits 1 when a check fails.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { NatsCluster } from "./chaos/nats-cluster.mjs";
import { TcpProxy } from "./chaos/proxy.mjs";
import { latencyHistogramSvg } from "./stress/histogram-svg.mjs";
import { timelineSvg } from "./stress/svg.mjs";
import { Timeline } from "./stress/timeline.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const flag = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const tiny = process.argv.includes("--tiny");
const rate = Number(flag("rate") ?? (tiny ? 40 : 60));
const out = flag("out") ?? join(here, "reports");
const ACK_WAIT_MS = 10_000;
const LATENCY_MS = tiny ? 50 : 100;
const STOPPED_MS = 400;
/** Seconds from the start of the load. */
const plan = tiny
  ? {
      kill: 1.5,
      restart: 2.5,
      nodeKill: 5.5,
      nodeBack: 7.5,
      slow: 8.5,
      fast: 9.5,
      reset: 10.5,
      stops: [11.5],
      // The "recovered" check reads the last second of load but one: clear of the SIGSTOP's 400 ms.
      end: 14,
    }
  : {
      kill: 4,
      restart: 7,
      nodeKill: 10,
      nodeBack: 15,
      slow: 19,
      fast: 22,
      reset: 24,
      stops: [27, 28, 29],
      end: 34,
    };
const DRAIN_DEADLINE_MS = tiny ? 60_000 : 120_000;
// Tea is what the good orders take: the run must not sell out (an Atlantis order would then end
// out of stock instead of unreachable). 1,000 in stock; one in three bodies confirms one tea.
if (!(rate >= 5 && rate <= 200) || (rate * plan.end) / 3 > 800) {
  console.error(`--rate must be in [5, 200] req/s and sell at most 800 tea (rate × ${plan.end} s / 3)`);
  process.exit(2);
}
if (!existsSync(join(root, "dist", "fastify.js"))) {
  console.error("dist/fastify.js is missing: run `npx tsup` first");
  process.exit(2);
}
const { resetDatabase } = await import("../examples/ecommerce/database.ts").catch((error) => {
  console.error(`run with --import ./examples/ts-hooks.mjs (npm run chaos:orders): ${error.message}`);
  process.exit(2);
});
const { checkInvariants, orderRows } = await import("../examples/ecommerce/invariants.ts");
const { createStreams, expectedEnd, ORDER_KINDS, Shop, shopStreams } = await import("./chaos/shop.mjs");
const { DATABASE_URL } = await import("../examples/services.ts");

const prefix = `chaosorders${process.pid}`;
const schema = `chaos_orders_${process.pid}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n) => Math.round(n).toLocaleString("en-US");

/** Posted in turn: one confirms, one is declined, one cannot be shipped (chaos/shop.mjs). */
const BODIES = [ORDER_KINDS.tea, ORDER_KINDS.declined, ORDER_KINDS.atlantis].map((b) => JSON.stringify(b));

// --- processes -------------------------------------------------------------------------------
let cluster;
const proxies = [];
process.on("exit", () => cluster?.killAll());
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

/** The cluster node leading a stream, as the server reports it (`nats` client, JetStream API). */
async function streamLeader(urls, stream) {
  const { connect } = await import("nats");
  const nc = await connect({ servers: urls });
  try {
    const jsm = await nc.jetstreamManager();
    return (await jsm.streams.info(stream)).cluster?.leader;
  } finally {
    await nc.close();
  }
}

// --- the run ---------------------------------------------------------------------------------
/** Created once the shop is up: its time 0 is the start of the load. */
let timeline;
const marks = [];
const faults = [];
const accepted = new Set();
let answersWithoutId = 0;
const at = (origin, seconds) => sleep(Math.max(0, origin + seconds * 1000 - timeline.now()));
const fault = (name, label, color) => {
  const fromMs = timeline.now();
  marks.push({ t: fromMs / 1000, label, color });
  faults.push({ name, fromMs });
};
const shop = new Shop({
  CATGA_PREFIX: prefix,
  CATGA_SCHEMA: schema,
  ECOMMERCE_STREAMS: "external",
  ECOMMERCE_ACK_WAIT_MS: String(ACK_WAIT_MS),
});
let killedNode;

async function inject(origin) {
  await at(origin, plan.kill);
  shop.child("orders-b").kill("SIGKILL");
  fault("kill -9 of orders instance B (A serves on)", "kill -9 orders B", "#d22");
  await at(origin, plan.restart);
  const forkedAt = timeline.now();
  await shop.start("orders-b", "orders");
  marks.push({ t: timeline.now() / 1000, label: "B back", color: "#2a7" });
  faults.push({
    name: `restart of orders B (ready ${fmt(timeline.now() - forkedAt)} ms after spawn)`,
    fromMs: forkedAt,
  });

  // Asked ahead: on a loaded machine the question takes up to a few seconds.
  const leader = await streamLeader(cluster.urls, `${prefix.toUpperCase()}_COMMANDS`).catch(() => undefined);
  await at(origin, plan.nodeKill);
  killedNode = Math.max(0, cluster.indexOf(leader));
  await cluster.killNode(killedNode);
  const nodeName = cluster.nodes[killedNode].name;
  fault(
    `kill -9 of NATS node ${nodeName}${leader === nodeName ? " (leader of the command stream)" : ""}`,
    `kill -9 NATS ${nodeName}`,
    "#d22",
  );
  await at(origin, plan.nodeBack);
  const nodeFrom = timeline.now();
  await cluster.startNode(killedNode);
  marks.push({ t: timeline.now() / 1000, label: `${nodeName} back`, color: "#2a7" });
  faults.push({
    name: `restart of ${nodeName} (ready ${fmt(timeline.now() - nodeFrom)} ms after spawn)`,
    fromMs: nodeFrom,
  });

  await at(origin, plan.slow);
  for (const proxy of proxies) proxy.latency(LATENCY_MS);
  fault(
    `+${LATENCY_MS} ms each way on every connection to NATS for ${plan.fast - plan.slow} s`,
    `+${LATENCY_MS} ms`,
    "#e80",
  );
  await at(origin, plan.fast);
  for (const proxy of proxies) proxy.latency(0);
  marks.push({ t: timeline.now() / 1000, label: "", color: "#2a7" });

  await at(origin, plan.reset);
  const torn = proxies.reduce((sum, proxy) => sum + proxy.reset(), 0);
  fault(`TCP reset of all ${torn} connections to NATS`, "RST all", "#d22");

  for (const [index, seconds] of plan.stops.entries()) {
    await at(origin, seconds);
    const child = shop.child("orders-b");
    child.kill("SIGSTOP");
    if (index === 0)
      fault(`${plan.stops.length} × SIGSTOP ${STOPPED_MS} ms / SIGCONT of orders B`, "SIGSTOP B", "#e80");
    else marks.push({ t: timeline.now() / 1000, label: "", color: "#e80" });
    await sleep(STOPPED_MS);
    child.kill("SIGCONT");
  }
}

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
let origin;
let endMs;
let drain;
let checks = [];
let rows = [];
const alive = {};
try {
  await resetDatabase(pool, schema);
  cluster = await NatsCluster.start(3);
  for (const node of cluster.nodes) proxies.push(await TcpProxy.start(node.port));
  await createStreams(cluster.urls, shopStreams(prefix, { replicas: 3, storage: "file" }));
  shop.env.NATS_URL = proxies.map((p) => p.url).join(",");
  const gatewayUrl = await shop.startAll(2);
  console.log(`up: ${shop.pids()}; NATS ${cluster.nodes.map((n) => `${n.name} ${n.child.pid}`).join(", ")}`);

  timeline = new Timeline(100, { timeoutsAtSendTime: true });
  origin = timeline.now();
  marks.push({ t: origin / 1000, label: "steady" });
  const load = timeline.load(`${gatewayUrl}/orders`, {
    // Enough that a second of slow answers does not throttle what is offered (a closed loop).
    connections: Math.max(32, Math.ceil(rate * 1.5)),
    rate,
    seconds: plan.end,
    bodies: BODIES,
    onAnswer: (status, body) => {
      if (status !== 202) return;
      const orderId = /"orderId":"([^"]+)"/.exec(body)?.[1];
      if (orderId === undefined) answersWithoutId++;
      else accepted.add(orderId);
    },
  });
  try {
    await Promise.all([load, inject(origin)]);
  } finally {
    shop.child("orders-b")?.kill("SIGCONT");
  }
  // Measured to the end of the first of the four load parts: the later ones run up to 0.75 s more
  // and autocannon counts what is in flight when a part stops as an error.
  endMs = Math.min(timeline.now(), origin + plan.end * 1000 - 100);

  // Every order row must end (or its saga be `failed`, stuck for an operator).
  const drainFrom = Date.now();
  for (;;) {
    rows = await orderRows(pool, schema);
    const open = rows.filter((r) => r.saga !== "completed" && r.saga !== "compensated");
    if (open.length === 0 || open.some((r) => r.saga === "failed")) break;
    if (Date.now() - drainFrom > DRAIN_DEADLINE_MS) break;
    await sleep(250);
  }
  const open = rows.filter((r) => r.saga !== "completed" && r.saga !== "compensated");
  drain = {
    ms: Date.now() - drainFrom,
    open: open.length,
    failed: open.filter((r) => r.saga === "failed").length,
  };
  Object.assign(alive, shop.alive());
  // Every row is checked as its body dictates; an accepted id without a row is a lost order.
  const expected = new Map(rows.map((r) => [r.id, expectedEnd(r)]));
  for (const id of accepted) if (!expected.has(id)) expected.set(id, "scarce");
  checks = await checkInvariants(
    pool,
    schema,
    expected,
    `orders to end (${accepted.size} answered 202, ${expected.size - accepted.size} written while their answer was lost)`,
  );
} finally {
  await shop.stopAll();
  for (const proxy of proxies) await proxy.close();
  await cluster?.stop();
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await pool.end();
}

// --- report ----------------------------------------------------------------------------------
const ids = new Set(rows.map((r) => r.id));
const lost = [...accepted].filter((id) => !ids.has(id));
const unanswered = rows.filter((r) => !accepted.has(r.id)).length;
const byEnd = {};
for (const row of rows) {
  const key = row.status === "confirmed" ? "confirmed" : `cancelled ${row.reason}`;
  byEnd[key] = (byEnd[key] ?? 0) + 1;
}
const rowsReport = faults.map((f, index) => {
  const toMs = faults[index + 1]?.fromMs ?? endMs;
  const buckets = timeline.buckets.filter((b) => b.t + timeline.bucketMs > f.fromMs && b.t < toMs);
  const bad = buckets.filter((b) => b.rejected + b.failed > 0);
  const totals = timeline.totals(f.fromMs - timeline.bucketMs, toMs);
  return {
    name: f.name,
    atS: Math.round(f.fromMs) / 1000,
    failedAnswers: totals.rejected + totals.failed,
    errorMs: bad.length * timeline.bucketMs,
    firstErrorAfterMs: bad.length ? Math.max(0, Math.round(bad[0].t - f.fromMs)) : undefined,
    lastErrorAfterMs: bad.length ? Math.round(bad.at(-1).t + timeline.bucketMs - f.fromMs) : undefined,
    ok: totals.ok,
    p99ok: totals.p99 === undefined ? undefined : Math.round(totals.p99 * 10) / 10,
    maxOk: totals.max === undefined ? undefined : Math.round(totals.max),
  };
});
const baseline = timeline.totals(origin + 500, faults[0].fromMs);
const lastSecond = timeline.totals(endMs - 1500, endMs - 300);
const named = {
  "no crash: every service process alive at the end": Object.values(alive).every(Boolean),
  "zero lost orders: every accepted order (202) has its row": lost.length === 0 && answersWithoutId === 0,
  "every accepted order ended (confirmed or cancelled; none open or failed)": rows
    .filter((r) => accepted.has(r.id))
    .every((r) => r.saga === "completed" || r.saga === "compensated"),
  [`every order ended within ${DRAIN_DEADLINE_MS / 1000} s of the load's end (no saga stuck or failed)`]:
    drain.open === 0,
  "recovered: no failed answer in the last second of load": lastSecond.rejected + lastSecond.failed === 0,
};
const allChecks = [
  ...Object.entries(named).map(([text, ok]) => ({ ok, text })),
  ...checks.map((c) => ({ ok: c.ok, text: `PostgreSQL: ${c.text}` })),
];
const report = {
  suite: "chaos-orders",
  date: new Date().toISOString(),
  node: process.version,
  rate,
  latencyMs: LATENCY_MS,
  ackWaitMs: ACK_WAIT_MS,
  accepted: accepted.size,
  unansweredButWritten: unanswered,
  lost: lost.length,
  orders: rows.length,
  endings: byEnd,
  drain,
  baseline: { okPerSecond: baseline.ok / Math.max(0.1, baseline.seconds), p99ok: baseline.p99 },
  faults: rowsReport,
  statuses: timeline.statuses,
  stderrLines: shop.stderrLines,
  checks: allChecks,
};
const series = timeline.series().filter((b) => b.t * 1000 < endMs);
const smooth = (pick) =>
  series.map((b, i) => {
    const window = series.slice(Math.max(0, i - 4), i + 5);
    return [b.t, window.reduce((sum, w) => sum + pick(w), 0) / window.length];
  });
const svg = timelineSvg({
  title: `Chaos, e-commerce place-order flow on a 3-node NATS cluster, ${fmt(rate)} orders/s offered`,
  seconds: Math.ceil(endMs / 1000),
  marks,
  panels: [
    {
      label: "answers per second (900 ms moving average)",
      series: [
        { name: "202 accepted", color: "#2a7", points: smooth((b) => b.ok) },
        { name: "503", color: "#e80", points: smooth((b) => b.rejected) },
        { name: "other failures", color: "#d22", points: smooth((b) => b.failed) },
      ],
    },
    {
      label: "p99 of 202 (ms, per 100 ms)",
      series: [{ name: "p99", color: "#36c", points: series.map((b) => [b.t, b.p99]) }],
    },
  ],
});
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "chaos-orders.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(out, "chaos-orders.svg"), svg);
writeFileSync(
  join(out, "chaos-orders-latency.svg"),
  latencyHistogramSvg({
    title: `Chaos, e-commerce place-order flow: latency of the 202 answers, ${fmt(rate)} orders/s offered`,
    subtitle: `${report.date.slice(0, 16).replace("T", " ")} UTC, 3-node NATS cluster behind a TCP proxy`,
    series: [
      { name: "before the first fault", latencies: timeline.latencies(origin, faults[0].fromMs) },
      { name: "from the first fault on", latencies: timeline.latencies(faults[0].fromMs, endMs) },
    ],
  }),
);
const table = [
  "| fault | at s | failed answers | time with errors ms | first / last error after the fault ms | 202 until next fault | p99 / max of 202 ms |",
  "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
  ...rowsReport.map(
    (r) =>
      `| ${r.name} | ${r.atS.toFixed(1)} | ${r.failedAnswers} | ${r.errorMs} | ${r.firstErrorAfterMs ?? "–"} / ${r.lastErrorAfterMs ?? "–"} | ${fmt(r.ok)} | ${r.p99ok ?? "–"} / ${r.maxOk ?? "–"} |`,
  ),
];
const endings = Object.entries(byEnd)
  .sort()
  .map(([k, n]) => `${k} ${fmt(n)}`)
  .join(", ");
const summary = [
  `${fmt(rate)} orders/s offered for ${plan.end} s; before the first fault ${fmt(report.baseline.okPerSecond)}/s accepted, p99 ${baseline.p99?.toFixed(1) ?? "–"} ms.`,
  `Accepted (202): ${fmt(accepted.size)}; lost: **${lost.length}**; order rows: ${fmt(rows.length)} (${fmt(unanswered)} written but not answered 202); all ended ${fmt(drain.ms)} ms after the load (${drain.open} open, ${drain.failed} failed): ${endings}.`,
  `Cancelled by infrastructure (a CATGA_* code: a saga step without an answer in time or without a responder; everything undone): ${fmt(
    rows.filter((r) => r.reason?.startsWith("CATGA_")).length,
  )}.`,
  `Non-2xx answers by status: ${JSON.stringify(timeline.statuses)}; socket errors and client timeouts are in "other failures".`,
];
writeFileSync(
  join(out, "chaos-orders.md"),
  [
    `# Chaos run with zero lost orders, ${report.date}`,
    "",
    ...summary.flatMap((line) => [line, ""]),
    "![accepted orders per second and p99 over time, faults marked](chaos-orders.svg)",
    "",
    "![latency histogram of the 202 answers, before and during the faults](chaos-orders-latency.svg)",
    "",
    ...table,
    "",
    ...allChecks.map((c) => `- ${c.ok ? "pass" : "FAIL"}: ${c.text}`),
    "",
  ].join("\n"),
);
console.log(`node ${process.version}\n${summary.join("\n")}\n\n${table.join("\n")}\n`);
for (const c of allChecks) console.log(`${c.ok ? "pass" : "FAIL"}: ${c.text}`);
console.log(`report: ${join(out, "chaos-orders.md")}`);
if (!allChecks.every((c) => c.ok)) process.exitCode = 1;
