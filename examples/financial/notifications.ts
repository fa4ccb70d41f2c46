// The notifications service: takes TransferCompleted from JetStream (at least once) and records one
// notification per transfer (idempotent by the transfer id). Started by main.ts; prints "ready".
import { createCatga } from "../../dist/index.js";
import { TransferCompleted } from "./contracts.js";
import { connect, database, logger, SCHEMA, serve } from "./service.js";

const pool = database(4);
const transport = await connect("notifications", { events: true });

const notifications = createCatga({ logger, transport })
  .handle(TransferCompleted, async ({ transferId, from, to, amount }) => {
    // Sending the e-mail would go here; a redelivered event finds its row and sends nothing.
    await pool.query(
      `INSERT INTO ${SCHEMA}.notifications (transfer_id, text) VALUES ($1, $2) ON CONFLICT (transfer_id) DO NOTHING`,
      [transferId, `${from} sent ${(amount / 100).toFixed(2)} to ${to}`],
    );
  })
  .build();

await transport.ready();
serve(async () => {
  await notifications.close();
  await pool.end();
});
