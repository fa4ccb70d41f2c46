// The payments service: charges an order (declined for the test token) and refunds it when the
// saga compensates. Refunds are durable commands: stored on JetStream until this service takes them.
import { CatgaError, createCatga } from "../../dist/index.js";
import { exactlyOnce } from "../../dist/persistence.js";
import { ChargePayment, RefundPayment } from "./contracts.js";
import { connect, durableCommands, logger, openPool, SCHEMA, serve } from "./service.js";

const pool = openPool();
const ledger = `"${SCHEMA}".payments`;

const transport = await connect("payments", { durableCommands });
const catga = createCatga({ transport, logger })
  .handle(
    ChargePayment,
    exactlyOnce(
      pool,
      async ({ orderId, amount, paymentToken }, _ctx, tx) => {
        if (paymentToken === "tok_chargeDeclined")
          throw new CatgaError("PAYMENT_DECLINED", `the card for ${orderId} was declined`);
        const { rows } = await tx.client.query(
          `INSERT INTO ${ledger} (order_id, kind, amount) VALUES ($1, 'charge', $2) RETURNING id`,
          [orderId, amount],
        );
        return { paymentId: `pay-${rows[0].id}` };
      },
      { schema: SCHEMA },
    ),
  )
  // Idempotent by business key (one refund per order), as compensations must be; refunds what was
  // charged, and nothing if the charge never happened.
  // eslint-disable-next-line @catga/require-idempotency-for-durable -- one refund row per order (ON CONFLICT DO NOTHING): a redelivery changes nothing
  .handle(RefundPayment, async ({ orderId }) => {
    await pool.query(
      `INSERT INTO ${ledger} (order_id, kind, amount)
       SELECT order_id, 'refund', amount FROM ${ledger} WHERE order_id = $1 AND kind = 'charge'
       ON CONFLICT (order_id, kind) DO NOTHING`,
      [orderId],
    );
  })
  .build();
await transport.ready();

serve(async () => {
  await catga.close();
  await pool.end();
});
