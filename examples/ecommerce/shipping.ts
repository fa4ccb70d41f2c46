// The shipping service: books a shipment, or fails for a destination the carrier does not serve
// (the saga then refunds the payment and releases the stock).
import { CatgaError, createCatga } from "../../dist/index.js";
import { exactlyOnce } from "../../dist/persistence.js";
import { ShipOrder } from "./contracts.js";
import { connect, logger, openPool, SCHEMA, serve } from "./service.js";

const pool = openPool();

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
        await tx.client.query(`INSERT INTO "${SCHEMA}".shipments (order_id, tracking_id) VALUES ($1, $2)`, [
          orderId,
          trackingId,
        ]);
        return { trackingId };
      },
      { schema: SCHEMA },
    ),
  )
  .build();
await transport.ready();

serve(async () => {
  await catga.close();
  await pool.end();
});
