// The orders service: takes orders (the row and its OrderPlaced event in one transaction, the
// outbox), relays the events to JetStream, and hosts the order saga that OrderPlaced starts.
import { CatgaError, createCatga, defineSaga } from "../../dist/index.js";
import { JetStream } from "../../dist/jetstream.js";
import {
  OutboxRelay,
  outboxEvent,
  PostgresOutbox,
  PostgresSagaStore,
  withOutboxTransaction,
} from "../../dist/persistence.js";
import { PRICES } from "./catalog.js";
import {
  CancelOrder,
  CancelShipment,
  ChargePayment,
  ConfirmOrder,
  GetOrder,
  OrderPlaced,
  PlaceOrder,
  RefundPayment,
  ReleaseStock,
  ReserveStock,
  ShipOrder,
  StartProcessing,
} from "./contracts.js";
import { connect, durableCommands, durableEvents, logger, openPool, SCHEMA, serve } from "./service.js";

interface OrderState {
  orderId: string;
  sku: string;
  qty: number;
  amount: number;
  paymentToken: string;
  country: string;
  paymentId?: string;
  trackingId?: string;
}

// Forward steps in order; when one fails, the compensations of the steps done run in reverse:
// a declined payment releases the stock, a failed shipment refunds the payment (and releases the
// stock), a shipment whose answer was lost is cancelled, and every failure cancels the order.
const OrderSaga = defineSaga<OrderState>("order")
  .startedBy(OrderPlaced, { id: (order) => order.orderId, init: (order) => ({ ...order }) })
  .step("processing", { send: StartProcessing, payload: (s) => ({ orderId: s.orderId }) })
  .compensate("processing", { send: CancelOrder, payload: (s) => ({ orderId: s.orderId }) })
  .step("reserve", { send: ReserveStock, payload: (s) => ({ orderId: s.orderId, sku: s.sku, qty: s.qty }) })
  .compensate("reserve", { send: ReleaseStock, payload: (s) => ({ orderId: s.orderId }) })
  .step("charge", {
    send: ChargePayment,
    payload: (s) => ({ orderId: s.orderId, amount: s.amount, paymentToken: s.paymentToken }),
    result: (s, r) => ({ ...s, paymentId: r.paymentId }),
  })
  .compensate("charge", { send: RefundPayment, payload: (s) => ({ orderId: s.orderId }) })
  .step("ship", {
    send: ShipOrder,
    payload: (s) => ({ orderId: s.orderId, sku: s.sku, qty: s.qty, country: s.country }),
    result: (s, r) => ({ ...s, trackingId: r.trackingId }),
  })
  // Runs when `ship` timed out (the shipment may be booked) or `confirm` failed after it.
  .compensate("ship", { send: CancelShipment, payload: (s) => ({ orderId: s.orderId }) })
  .step("confirm", { send: ConfirmOrder, payload: (s) => ({ orderId: s.orderId }) })
  .deadlineMs(60_000);

const pool = openPool();
const outbox = new PostgresOutbox({ schema: SCHEMA });
const orders = `"${SCHEMA}".orders`;

/** Moves an order row along placed → processing → confirmed | cancelled; a repeat changes nothing. */
async function move(orderId: string, from: string, to: string): Promise<void> {
  await pool.query(`UPDATE ${orders} SET status = $3, updated_at = now() WHERE id = $1 AND status = $2`, [
    orderId,
    from,
    to,
  ]);
}

const transport = await connect("orders", {
  durableCommands, // the saga's advance command lives on JetStream: a crash of this process loses no saga
  durableEvents: durableEvents([OrderPlaced.type]), // OrderPlaced reaches the saga from the stream
});
const catga = createCatga({ transport, logger })
  .withValidation() // PlaceOrder's zod schema runs here, on the handler's side: a bad body is a 400
  // A saga step sent while shipping, say, is re-subscribing after a lost connection finds no
  // responder: that command was not delivered, so sending it again is always safe. Without this, a
  // NATS node restart or a connection reset cancels orders that would have gone through (seen in
  // benches/chaos-orders.mjs). Timeouts are not retried here: the step's effect may have happened,
  // and the saga compensates it.
  .withRetry({ maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 2000, retryOn: ["CATGA_NO_HANDLER"] })
  // eslint-disable-next-line @catga/require-idempotency-for-durable -- the gateway sends once per HTTP request (no retry behavior); a repeat is a new request
  .handle(PlaceOrder, (order, ctx) => {
    const price = PRICES[order.sku];
    if (price === undefined) throw new CatgaError("ORDERS_UNKNOWN_SKU", `we do not sell ${order.sku}`);
    const amount = price * order.qty;
    return withOutboxTransaction(
      pool,
      async (tx) => {
        const { rows } = await tx.client.query(
          `INSERT INTO ${orders} (customer, sku, qty, amount) VALUES ($1, $2, $3, $4) RETURNING id`,
          [order.customer, order.sku, order.qty, amount],
        );
        const orderId: string = rows[0].id;
        // Not ctx.publish: the event is a row of this transaction, relayed once it commits.
        const { customer: _, ...placed } = order;
        tx.enqueue(
          outboxEvent(
            OrderPlaced,
            { orderId, amount, ...placed },
            { subject: transport.subjectFor(OrderPlaced), cause: ctx },
          ),
        );
        return { orderId, amount };
      },
      { outbox },
    );
  })
  .handle(GetOrder, async ({ orderId }) => {
    const { rows } = await pool.query(
      `SELECT o.id, o.sku, o.qty, o.amount, o.status, s.state->>'trackingId' AS tracking,
              s.progress->'error'->>'code' AS reason
         FROM ${orders} o LEFT JOIN "${SCHEMA}".catga_saga s ON s.saga = 'order' AND s.id = o.id
        WHERE o.id = $1`,
      [orderId],
    );
    const row = rows[0];
    if (row === undefined) throw new CatgaError("ORDERS_NOT_FOUND", `no order ${orderId}`);
    return {
      orderId: row.id,
      sku: row.sku,
      qty: row.qty,
      amount: row.amount,
      status: row.status,
      ...(row.status === "cancelled" && row.reason ? { reason: row.reason } : {}),
      ...(row.tracking ? { trackingId: row.tracking } : {}),
    };
  })
  // eslint-disable-next-line @catga/require-idempotency-for-durable -- a guarded state move (from → to): a repeat changes nothing
  .handle(StartProcessing, ({ orderId }) => move(orderId, "placed", "processing"))
  // eslint-disable-next-line @catga/require-idempotency-for-durable -- a guarded state move (from → to): a repeat changes nothing
  .handle(CancelOrder, ({ orderId }) => move(orderId, "processing", "cancelled"))
  // eslint-disable-next-line @catga/require-idempotency-for-durable -- a guarded state move (from → to): a repeat changes nothing
  .handle(ConfirmOrder, ({ orderId }) => move(orderId, "processing", "confirmed"))
  .remote(ReserveStock, ReleaseStock, ChargePayment, RefundPayment, ShipOrder, CancelShipment)
  .saga(OrderSaga, { store: new PostgresSagaStore({ pool, schema: SCHEMA }), compensationBackoffMs: 50 })
  .build();
await transport.ready();

// The relay: claims committed outbox rows, publishes them to the events stream with
// Nats-Msg-Id = messageId (a repeat is dropped there), marks them sent. NOTIFY wakes it.
const relay = new OutboxRelay({ pool, publisher: new JetStream(transport.connection), schema: SCHEMA });
await relay.start();

serve(async () => {
  await relay.stop();
  await catga.close();
  await pool.end();
});
