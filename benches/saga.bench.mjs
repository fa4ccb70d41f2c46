// A 3-step saga end to end vs the same three sends written by hand (issue 17's bar: the saga costs
// <= 1.5x the hand-written sequence in p50 latency with the NATS KV store, and >= 1,000 completed
// sagas/s on this machine).
//   npx tsup && node benches/saga.bench.mjs [seconds=4] [rounds=3] [inFlight=64]
// Three service processes (inventory, payments, shipping), each createCatga + natsTransport with
// one request/reply handler. The host (this process) has natsTransport({ durableCommands }) and:
// - by hand: a local handler that sends reserve, charge, ship in turn (`ctx.send`, remote) and
//   returns; latency = `send(ByHand)` until its Result;
// - saga: `defineSaga` with the same three steps (and compensations, never run), hosted with
//   `.saga(def, { store })` for the NATS KV, PostgreSQL and in-memory stores; latency = `send(Start)`
//   until the instance is written `completed` (the builder's SagaTelemetry `ended` report). The
//   saga's advance is its durable command (JetStream), as in production.
// 64 in flight (1 measures latency alone, without queueing); rounds alternate the variants; medians and the median per-round p50 ratio.
// Loopback NATS :4222 and PostgreSQL :5432; names carry the pid.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createCatga, defineCommand, defineSaga, InMemorySagaStore, silentLogger } from "../dist/index.js";
import { JetStream } from "../dist/jetstream.js";
import { natsTransport } from "../dist/nats.js";
import { migrate, NatsKvSagaStore, PostgresSagaStore } from "../dist/persistence.js";

const NATS = "nats://127.0.0.1:4222";
const PG = "postgres://root@127.0.0.1:5432/test";
const IN_FLIGHT = Number(process.argv[4] ?? 64);

const Reserve = defineCommand("bench.inventory.reserve").payload().returns();
const Release = defineCommand("bench.inventory.release").payload();
const Charge = defineCommand("bench.payments.charge").payload().returns();
const Refund = defineCommand("bench.payments.refund").payload();
const Ship = defineCommand("bench.shipping.ship").payload().returns();
const ByHand = defineCommand("bench.orders.by-hand").payload().returns();
const SERVICES = {
  inventory: [
    [Reserve, ({ orderId }) => ({ reservationId: `r-${orderId}` })],
    [Release, () => undefined],
  ],
  payments: [
    [Charge, ({ orderId }) => ({ paymentId: `p-${orderId}` })],
    [Refund, () => undefined],
  ],
  shipping: [[Ship, ({ orderId }) => ({ trackingId: `t-${orderId}` })]],
};

const role = process.argv[2];
if (role === "--service") await service(process.argv[3], process.argv[4]);
else await main();

async function service(name, prefix) {
  const transport = await natsTransport({ servers: NATS, service: name, prefix });
  let builder = createCatga({ logger: silentLogger, transport });
  for (const [contract, handler] of SERVICES[name]) builder = builder.handle(contract, handler);
  builder.build();
  await transport.ready();
  process.send("ready");
  process.on("message", () => transport.close().then(() => process.exit(0)));
}

function child(name, prefix) {
  const proc = fork(fileURLToPath(import.meta.url), ["--service", name, prefix], { stdio: "inherit" });
  return new Promise((resolve, reject) => {
    proc.once("message", () => resolve(proc));
    proc.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

/** The order saga of one variant: the start command is per variant, so each host has its own. */
function orderSaga(variant) {
  const Start = defineCommand(`bench.orders.saga-${variant}`).payload().returns();
  const saga = defineSaga(`order_${variant}`)
    .startedBy(Start, { id: (p) => p.orderId, init: (p) => ({ orderId: p.orderId }) })
    .step("reserve", {
      send: Reserve,
      payload: (s) => ({ orderId: s.orderId }),
      result: (s, r) => ({ ...s, reservationId: r.reservationId }),
    })
    .compensate("reserve", { send: Release, payload: (s) => ({ reservationId: s.reservationId }) })
    .step("charge", {
      send: Charge,
      payload: (s) => ({ orderId: s.orderId }),
      result: (s, r) => ({ ...s, paymentId: r.paymentId }),
    })
    .compensate("charge", { send: Refund, payload: (s) => ({ paymentId: s.paymentId }) })
    .step("ship", {
      send: Ship,
      payload: (s) => ({ orderId: s.orderId }),
      result: (s, r) => ({ ...s, trackingId: r.trackingId }),
    });
  return { Start, saga };
}

/** `IN_FLIGHT` workers each awaiting one run at a time for `seconds` (after a 0.5 s warm-up). */
async function measure(seconds, runOne) {
  let count = 0;
  const warmUntil = Date.now() + 500;
  while (Date.now() < warmUntil) await runOne(count++);
  const latencies = [];
  let stop = false;
  const started = performance.now();
  const timer = setTimeout(() => {
    stop = true;
  }, seconds * 1000);
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      await runOne(count++);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  clearTimeout(timer);
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { perSecond: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

async function main() {
  const SECONDS = Number(process.argv[2] ?? 4);
  const ROUNDS = Number(process.argv[3] ?? 3);
  const prefix = `sagabench${process.pid}`;
  const bucket = `sagabench_${process.pid}`;
  const schema = `sagabench_${process.pid}`;
  const children = [];
  for (const name of Object.keys(SERVICES)) children.push(await child(name, prefix));

  const pool = new pg.Pool({ connectionString: PG, max: 16 });
  await migrate(pool, { schema });
  const transport = await natsTransport({
    servers: NATS,
    service: "orders",
    prefix,
    durableCommands: { provision: { storage: "memory" }, consumer: { batch: 64, fetchWaitMs: 100 } },
  });
  const stores = {
    kv: new NatsKvSagaStore({ connection: transport.connection, bucket, storage: "memory" }),
    pg: new PostgresSagaStore({ pool, schema }),
    memory: new InMemorySagaStore(),
  };
  // Completion of each instance, reported once after its `completed` write.
  const waiting = new Map();
  const telemetry = {
    start: () => ({ trace: undefined, end: () => undefined }),
    step: (_info, run) => run(),
    ended: ({ saga, id, status }) => {
      const done = waiting.get(`${saga}/${id}`);
      waiting.delete(`${saga}/${id}`);
      if (status !== "completed") throw new Error(`saga ${saga} ${id} ended ${status}`);
      done?.();
    },
  };
  let builder = createCatga({ logger: silentLogger, transport })
    .withSagaTelemetry(telemetry)
    .remote(Reserve, Release, Charge, Refund, Ship)
    .handle(ByHand, async ({ orderId }, ctx) => {
      const reserved = (await ctx.send(Reserve, { orderId })).unwrap();
      const charged = (await ctx.send(Charge, { orderId })).unwrap();
      const shipped = (await ctx.send(Ship, { orderId })).unwrap();
      return { ...reserved, ...charged, ...shipped };
    });
  const sagas = {};
  for (const [variant, store] of Object.entries(stores)) {
    const { Start, saga } = orderSaga(variant);
    sagas[variant] = { Start, name: saga.name };
    builder = builder.saga(saga, { store });
  }
  const catga = builder.build();
  await transport.ready();

  const check = (result) => {
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
    return result;
  };
  const run = { hand: (n) => catga.send(ByHand, { orderId: `h${n}` }).then(check) };
  let round = 0;
  for (const variant of Object.keys(stores)) {
    const { Start, name } = sagas[variant];
    run[variant] = (n) => {
      const orderId = `r${round}n${n}`;
      const done = new Promise((resolve) => waiting.set(`${name}/${orderId}`, resolve));
      return catga
        .send(Start, { orderId })
        .then(check)
        .then(() => done);
    };
  }

  const rows = [];
  try {
    for (round = 1; round <= ROUNDS; round++) {
      const row = { round };
      for (const variant of ["hand", "kv", "pg", "memory"])
        row[variant] = await measure(SECONDS, run[variant]);
      rows.push(row);
      process.stderr.write(`round ${round} done\n`);
    }
  } finally {
    await catga.close();
    for (const proc of children) proc.send("stop");
    const cleanup = await natsTransport({ servers: NATS, service: "cleanup", prefix });
    const admin = new JetStream(cleanup.connection);
    const stream = `${prefix.toUpperCase()}_COMMANDS`;
    await Promise.all(
      [stream, `${stream}_DLQ`, `${stream}_RESULTS`, `KV_${bucket}`].map((name) =>
        admin.deleteStream(name).catch(() => undefined),
      ),
    );
    await cleanup.close();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  }

  const fmt = (v) => Math.round(v).toLocaleString("en-US");
  const ms = (v) => v.toFixed(2);
  const cell = (r) => `${fmt(r.perSecond)} · ${ms(r.p50)} / ${ms(r.p99)}`;
  console.log(
    "| round | by hand /s · p50 / p99 ms | saga NATS KV | saga PostgreSQL | saga in memory | p50 ratio KV / hand |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows)
    console.log(
      `| ${r.round} | ${cell(r.hand)} | ${cell(r.kv)} | ${cell(r.pg)} | ${cell(r.memory)} | ${(r.kv.p50 / r.hand.p50).toFixed(2)}× |`,
    );
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const med = (pick) => median(rows.map(pick));
  const ratio = med((r) => r.kv.p50 / r.hand.p50);
  const kvRate = med((r) => r.kv.perSecond);
  console.log(
    `\nmedians: by hand ${fmt(med((r) => r.hand.perSecond))}/s p50 ${ms(med((r) => r.hand.p50))} ms; ` +
      `saga KV ${fmt(kvRate)}/s p50 ${ms(med((r) => r.kv.p50))} ms; ` +
      `saga PostgreSQL ${fmt(med((r) => r.pg.perSecond))}/s p50 ${ms(med((r) => r.pg.p50))} ms; ` +
      `saga in memory ${fmt(med((r) => r.memory.perSecond))}/s p50 ${ms(med((r) => r.memory.p50))} ms`,
  );
  console.log(
    `bar: p50 <= 1.5x by hand with NATS KV -> ${ratio.toFixed(2)}x: ${ratio <= 1.5 ? "MET" : "MISSED"}; ` +
      `>= 1,000 sagas/s with NATS KV -> ${fmt(kvRate)}/s: ${kvRate >= 1000 ? "MET" : "MISSED"}`,
  );
  process.exit(0);
}
