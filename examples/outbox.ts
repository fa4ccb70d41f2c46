// The transactional outbox: the order row and its "placed" event commit in one PostgreSQL
// transaction (or neither does), and a relay moves committed events to JetStream, where the
// shipping handler gets them. A crash between the two never loses or invents an event.
// Needs PostgreSQL and NATS with JetStream. Run: npm run example:outbox
import pg from "pg";
import { createCatga, defineCommand, defineEvent } from "../dist/index.js";
import { JetStream } from "../dist/jetstream.js";
import { natsTransport } from "../dist/nats.js";
import {
  migrate,
  OutboxRelay,
  outboxEvent,
  PostgresOutbox,
  withOutboxTransaction,
} from "../dist/persistence.js";
import { DATABASE_URL, NATS_URL, needs, PREFIX, SCHEMA } from "./services.js";

const PlaceOrder = defineCommand("orders.place").payload<{ sku: string }>().returns<{ orderId: string }>();
const OrderPlaced = defineEvent("orders.placed").payload<{ orderId: string; sku: string }>();

const pool = new pg.Pool({ connectionString: DATABASE_URL });
await migrate(pool, { schema: SCHEMA }).catch(needs("PostgreSQL")); // catga_outbox and friends
await pool.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.orders (id serial PRIMARY KEY, sku text NOT NULL)`);

// `durableEvents` creates the event stream (capturing `<prefix>.evt.>`) and gives this service a
// durable consumer per event it handles: the relay publishes into that stream.
const transport = await natsTransport({
  servers: NATS_URL,
  service: "shop",
  prefix: PREFIX,
  durableEvents: {},
}).catch(needs("NATS"));
const outbox = new PostgresOutbox({ schema: SCHEMA });

let shipped: () => void;
const delivered = new Promise<void>((resolve) => (shipped = resolve));
const catga = createCatga({ transport })
  // JetStream delivers at least once: a redelivered event replays its outcome instead of running
  // again (in memory here; PostgresIdempotencyStore or NatsKvIdempotencyStore across instances).
  .withIdempotency()
  .handle(PlaceOrder, ({ sku }, ctx) =>
    withOutboxTransaction(
      pool,
      async (tx) => {
        const { rows } = await tx.client.query(
          `INSERT INTO ${SCHEMA}.orders (sku) VALUES ($1) RETURNING id`,
          [sku],
        );
        const orderId = `o-${rows[0].id}`;
        // Not `ctx.publish`: the event is a row of this transaction, sent only once it commits.
        tx.enqueue(
          outboxEvent(
            OrderPlaced,
            { orderId, sku },
            { subject: transport.subjectFor(OrderPlaced), cause: ctx },
          ),
        );
        if (sku === "broken") throw new Error("payment check failed after the insert");
        return { orderId };
      },
      { outbox },
    ),
  )
  .handle(OrderPlaced, ({ sku }) => {
    console.log(`shipping: got orders.placed for ${sku}`);
    shipped();
  })
  .build();
await transport.ready();

// The relay: claims committed rows (FOR UPDATE SKIP LOCKED, so any number of relays can run),
// publishes them with Nats-Msg-Id = messageId (JetStream drops a repeat), marks them sent.
// LISTEN/NOTIFY wakes it as soon as a row commits; polling is the fallback.
const relay = new OutboxRelay({ pool, publisher: new JetStream(transport.connection), schema: SCHEMA });
await relay.start();

// A handler that fails after its insert: the order row and its event roll back together.
const failed = await catga.send(PlaceOrder, { sku: "broken" });
const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.orders WHERE sku = 'broken'`);
console.log(
  `broken order: ${failed.ok ? "placed" : failed.error.code}; rows: ${rows[0].n}; events pending: ${await outbox.pending(pool)}`,
);

const placed = (await catga.send(PlaceOrder, { sku: "lamp" })).unwrap();
console.log("placed:", placed.orderId.startsWith("o-") ? "order row and event committed" : placed.orderId);
await delivered;
await relay.stop(); // finishes the batch in hand: the row is marked sent after JetStream acked it
console.log(`relay: ${relay.stats.sent} sent, ${await outbox.pending(pool)} pending`);

await catga.close();
await pool.end();
