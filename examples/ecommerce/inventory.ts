// The inventory service: reserves stock for an order (exactly once per saga step) and releases it
// when the saga compensates. Every movement is a row of the stock ledger.
import { CatgaError, createCatga } from "../../dist/index.js";
import { exactlyOnce } from "../../dist/persistence.js";
import { ReleaseStock, ReserveStock } from "./contracts.js";
import { connect, logger, openPool, SCHEMA, serve } from "./service.js";

const pool = openPool();
const stock = `"${SCHEMA}".stock`;
const moves = `"${SCHEMA}".stock_moves`;

const transport = await connect("inventory");
const catga = createCatga({ transport, logger })
  // The step may be sent again (a saga host that died mid-step): `exactlyOnce` records its outcome
  // with the effect in one transaction, so a repeat of `order:<id>:reserve` replays it.
  .handle(
    ReserveStock,
    exactlyOnce(
      pool,
      async ({ orderId, sku, qty }, _ctx, tx) => {
        const taken = await tx.client.query(
          `UPDATE ${stock} SET on_hand = on_hand - $2 WHERE sku = $1 AND on_hand >= $2`,
          [sku, qty],
        );
        // Thrown, the transaction rolls back and nothing is recorded: the saga's step fails.
        if (taken.rowCount === 0) throw new CatgaError("INVENTORY_OUT_OF_STOCK", `not ${qty} ${sku} left`);
        await tx.client.query(
          `INSERT INTO ${moves} (order_id, kind, sku, qty) VALUES ($1, 'reserve', $2, $3)`,
          [orderId, sku, qty],
        );
        return { reserved: qty };
      },
      { schema: SCHEMA },
    ),
  )
  // A compensation has a new message id per attempt, so it is idempotent by business key: one
  // release per order (a unique row), and nothing to do if nothing was reserved.
  // eslint-disable-next-line @catga/require-idempotency-for-durable -- one release row per order (ON CONFLICT DO NOTHING): a repeat changes nothing
  .handle(ReleaseStock, async ({ orderId }) => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const released = await client.query(
        `INSERT INTO ${moves} (order_id, kind, sku, qty)
         SELECT order_id, 'release', sku, qty FROM ${moves} WHERE order_id = $1 AND kind = 'reserve'
         ON CONFLICT (order_id, kind) DO NOTHING RETURNING sku, qty`,
        [orderId],
      );
      for (const { sku, qty } of released.rows)
        await client.query(`UPDATE ${stock} SET on_hand = on_hand + $2 WHERE sku = $1`, [sku, qty]);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  })
  .build();
await transport.ready();

serve(async () => {
  await catga.close();
  await pool.end();
});
