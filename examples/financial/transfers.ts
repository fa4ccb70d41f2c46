// The transfers service: hosts the transfer saga (state in PostgreSQL, activations as durable
// commands on JetStream, so another instance continues what a dead one left) and publishes
// TransferCompleted at the end. Started by main.ts; prints "ready".
import { createCatga } from "../../dist/index.js";
import { PostgresSagaStore } from "../../dist/persistence.js";
import { Announce, CheckCompliance, Credit, Debit, ReverseDebit, TransferCompleted } from "./contracts.js";
import { connect, database, logger, SCHEMA, serve } from "./service.js";
import { TransferSaga } from "./transfer-saga.js";

const pool = database(8);
const transport = await connect("transfers", { commands: true, events: true });

const transfers = createCatga({ logger, transport })
  // eslint-disable-next-line @catga/require-idempotency-for-durable -- sent again, it publishes a duplicate JetStream drops
  .handle(Announce, async (transfer, ctx) => {
    // The event's id is the transfer's: a step sent again publishes a duplicate JetStream drops.
    (
      await ctx.publish(TransferCompleted, transfer, { messageId: `completed-${transfer.transferId}` })
    ).unwrap();
  })
  .remote(CheckCompliance, Debit, Credit, ReverseDebit)
  .saga(TransferSaga, {
    store: new PostgresSagaStore({ pool, schema: SCHEMA }),
    compensationBackoffMs: 200,
  })
  .build();

await transport.ready();
serve(async () => {
  await transfers.close();
  await pool.end();
});
