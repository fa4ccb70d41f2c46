// A saga host for the kill test: hosts the order saga and its three services' handlers, each of
// which writes its effect to a PostgreSQL ledger keyed by the step's message id (idempotent, as the
// docs ask). Prints "ready", then "step <messageId>" as each handler starts. Uses dist/, as a
// real service would.
import pg from "pg";
import { CatgaError, createCatga, defineCommand, defineSaga, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { PostgresSagaStore } from "../../dist/persistence.js";

const [natsUrl, prefix, pgUrl, schema, stepMs] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: pgUrl, max: 8 });
pool.on("error", () => {});

const PlaceOrder = defineCommand("orders.place").durable();
const Reserve = defineCommand("inventory.reserve");
const Release = defineCommand("inventory.release");
const Charge = defineCommand("payments.charge");
const Refund = defineCommand("payments.refund");
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
async function effect(key, orderId, kind) {
  process.stdout.write(`step ${key}\n`);
  await new Promise((resolve) => setTimeout(resolve, Number(stepMs)));
  await pool.query(
    `INSERT INTO "${schema}".ledger (key, order_id, kind, pid) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING`,
    [key, orderId, kind, process.pid],
  );
  return { id: `${kind}-${orderId}` };
}

const transport = await natsTransport({
  servers: natsUrl,
  service: "orders",
  prefix,
  durableCommands: {
    provision: { storage: "memory" },
    // A short ack wait, so what a killed host held comes back soon.
    consumer: { batch: 4, maxAckPending: 16, ackWaitMs: 1500, fetchWaitMs: 100, backoffMs: [100] },
  },
});
createCatga({ logger: silentLogger, transport })
  .handle(Reserve, (p, ctx) => effect(ctx.messageId, p.orderId, "reserve"))
  // Compensations are idempotent by business key, not by message id (a retry has a new id).
  .handle(Release, (p) => effect(`release:${p.orderId}`, p.orderId, "release"))
  .handle(Charge, (p, ctx) => effect(ctx.messageId, p.orderId, "charge"))
  .handle(Refund, (p) => effect(`refund:${p.orderId}`, p.orderId, "refund"))
  .handle(Ship, async (p, ctx) => {
    if (p.n % 4 === 0) throw new CatgaError("SHIPPING_CLOSED", "no shipping to there");
    return effect(ctx.messageId, p.orderId, "ship");
  })
  .saga(OrderSaga, { store: new PostgresSagaStore({ pool, schema }), compensationBackoffMs: 50 })
  .build();
await transport.ready();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  transport.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
