// For the kill test. `host`: hosts the order saga and the inventory and shipping handlers;
// `payments`: handles the durable Charge and Refund. Every handler writes its effect to a PostgreSQL
// ledger keyed by the step's message id (idempotent, as the docs ask). Prints "ready", then
// "step <key>" as each handler starts. Uses dist/, as a real service would.
import pg from "pg";
import { CatgaError, createCatga, defineCommand, defineSaga, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { PostgresSagaStore } from "../../dist/persistence.js";

const [role, natsUrl, prefix, pgUrl, schema, stepMs] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: pgUrl, max: 8 });
pool.on("error", () => {});

const PlaceOrder = defineCommand("orders.place").durable();
const Reserve = defineCommand("inventory.reserve");
const Release = defineCommand("inventory.release");
const Charge = defineCommand("payments.charge").durable();
const Refund = defineCommand("payments.refund").durable();
const Ship = defineCommand("shipping.ship");

const OrderSaga = defineSaga("order")
  .startedBy(PlaceOrder, { id: (p) => p.orderId, init: (p) => ({ orderId: p.orderId, n: p.n }) })
  .step("reserve", { send: Reserve, payload: (s) => s, result: (s, r) => ({ ...s, reservation: r.id }) })
  .compensate("reserve", {
    send: Release,
    payload: (s) => ({ orderId: s.orderId, reservation: s.reservation }),
  })
  .step("charge", { send: Charge, payload: (s) => s, result: (s, r) => ({ ...s, payment: r.id }) })
  .compensate("charge", { send: Refund, payload: (s) => ({ orderId: s.orderId }) })
  .step("ship", { send: Ship, payload: (s) => s });

/** One effect per key: a redelivered step finds its row and does nothing (the handler is idempotent). */
async function effect(key, orderId, kind, slower = 1) {
  process.stdout.write(`step ${key}\n`);
  await new Promise((resolve) => setTimeout(resolve, Number(stepMs) * slower));
  await pool.query(
    `INSERT INTO "${schema}".ledger (key, order_id, kind, pid) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING`,
    [key, orderId, kind, process.pid],
  );
  return { id: `${kind}-${orderId}` };
}

const transport = await natsTransport({
  servers: natsUrl,
  service: role === "host" ? "orders" : "payments",
  prefix,
  durableCommands: {
    // A duplicate window longer than the ack wait: a step the killed host sent is sent again by
    // the next host inside the window, and the saga must wait it out (docs/architecture/sagas.md).
    provision: { storage: "memory", duplicateWindowMs: 4000 },
    // A short ack wait, so what a killed host held comes back soon.
    consumer: { batch: 4, maxAckPending: 16, ackWaitMs: 1500, fetchWaitMs: 100, backoffMs: [100] },
  },
  requestTimeoutMs: 20_000,
});
// Says when a resent durable step had to wait out the duplicate window (the test counts them).
const logger = {
  ...silentLogger,
  info: (message, fields) => {
    if (message.startsWith("saga step sent again")) process.stdout.write(`duplicate ${fields.id}\n`);
  },
};
if (role === "host")
  createCatga({ logger, transport })
    .handle(Reserve, (p, ctx) => effect(ctx.messageId, p.orderId, "reserve"))
    // Compensations are idempotent by business key, not by message id (a retry has a new id).
    .handle(Release, (p) => effect(`release:${p.orderId}`, p.orderId, "release"))
    .handle(Ship, async (p, ctx) => {
      if (p.n % 4 === 0) throw new CatgaError("SHIPPING_CLOSED", "no shipping to there");
      return effect(ctx.messageId, p.orderId, "ship");
    })
    .remote(Charge, Refund)
    .saga(OrderSaga, {
      store: new PostgresSagaStore({ pool, schema }),
      compensationBackoffMs: 50,
      stepRecoveryMs: 30_000,
    })
    .build();
else
  createCatga({ logger: silentLogger, transport })
    .handle(Charge, (p, ctx) => effect(ctx.messageId, p.orderId, "charge", 4))
    .handle(Refund, (p) => effect(`refund:${p.orderId}`, p.orderId, "refund"))
    .build();
await transport.ready();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  transport.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
