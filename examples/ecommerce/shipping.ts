// The shipping service: books a shipment, or fails for a destination the carrier does not serve
// (the saga then refunds the payment and releases the stock); cancels a shipment when the saga
// compensates after a ship step whose answer was lost.
import { CatgaError, createCatga } from "../../dist/index.js";
import { exactlyOnce } from "../../dist/persistence.js";
import { CancelShipment, ShipOrder } from "./contracts.js";
import { connect, logger, openPool, SCHEMA, serve } from "./service.js";

const pool = openPool();
const shipments = `"${SCHEMA}".shipments`;

const transport = await connect("shipping");
const catga = createCatga({ transport, logger })
  .handle(
    ShipOrder,
    exactlyOnce(
      pool,
      async ({ orderId, country }, _ctx, tx) => {
        if (country === "Atlantis")
          throw new CatgaError("SHIPPING_UNREACHABLE", `no carrier delivers ${orderId} to ${country}`);
        const trackingId = `trk-${orderId}`;
        // A cancellation that came first left a tombstone: the order is cancelled, book nothing.
        const booked = await tx.client.query(
          `INSERT INTO ${shipments} (order_id, tracking_id) VALUES ($1, $2) ON CONFLICT (order_id) DO NOTHING`,
          [orderId, trackingId],
        );
        if (booked.rowCount === 0)
          throw new CatgaError("SHIPPING_CANCELLED", `the shipment of ${orderId} was cancelled`);
        return { trackingId };
      },
      { schema: SCHEMA },
    ),
  )
  // A compensation: idempotent by business key (one row per order), and "nothing booked yet" is
  // fine: it leaves a cancelled row that a late booking of the same order finds.
  // eslint-disable-next-line @catga/require-idempotency-for-durable -- one row per order (upsert to cancelled): a repeat changes nothing
  .handle(CancelShipment, async ({ orderId }) => {
    await pool.query(
      `INSERT INTO ${shipments} (order_id, cancelled) VALUES ($1, true)
       ON CONFLICT (order_id) DO UPDATE SET cancelled = true`,
      [orderId],
    );
  })
  .build();
await transport.ready();

serve(async () => {
  await catga.close();
  await pool.end();
});
