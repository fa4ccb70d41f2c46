import { afterAll, beforeAll, expect, it } from "vitest";
import { type DurableItem, JetStream } from "../../ts/entries/jetstream.js";
import type { NatsConnection } from "../../ts/entries/nats.js";
import { migrate, type OutboxMessage, OutboxRelay, PostgresOutbox } from "../../ts/entries/persistence.js";
import type { CatgaError } from "../../ts/index.js";
import { eventEnvelope, outageConnection, PrivateNats } from "../nats/helpers.js";
import { dropSchema, eventually, newPool, uniqueName } from "./helpers.js";

// Issue 21: a relay whose publish is in flight when the broker dies used to stall until its
// publish timeout (30 s) although the broker was back after 3 s. Real services: PostgreSQL, and a
// private nats-server killed with SIGKILL and restarted on the same store dir.
const REQUEST_TIMEOUT_MS = 2000;
/** How soon after the broker is back every row must be relayed. */
const RESUME_MS = 6000;

const schema = uniqueName("relay_outage");
const pool = newPool(5, schema);
const outbox = new PostgresOutbox({ schema });
let server: PrivateNats;
let connection: NatsConnection;
let js: JetStream;

beforeAll(async () => {
  await migrate(pool, { schema });
  server = await PrivateNats.start();
  connection = await outageConnection(server, REQUEST_TIMEOUT_MS);
  js = new JetStream(connection);
  await js.ensureStream({ name: "RELAY_OUTAGE", subjects: ["outage.>"], storage: "file" });
});

afterAll(async () => {
  await connection?.close().catch(() => undefined);
  await server?.dispose();
  await dropSchema(pool, schema);
  await pool.end();
});

let ids = 0;
function messages(count: number): OutboxMessage[] {
  return Array.from({ length: count }, () => {
    const messageId = `outage-${++ids}`;
    return { subject: "outage.evt", messageId, envelope: eventEnvelope(messageId) };
  });
}

it("resumes within seconds of the broker's return after a kill -9 with its publish in flight", async () => {
  const batches: number[] = [];
  const publisher = {
    publish: (items: readonly DurableItem[]) => {
      batches.push(items.length);
      return js.publish(items);
    },
  };
  const errors: CatgaError[] = [];
  // Default options apart from the publisher: the defaults are what must resume quickly.
  const relay = new OutboxRelay({ pool, publisher, schema, onError: (e) => errors.push(e) });
  await relay.start();
  try {
    await outbox.addMany(pool, messages(5));
    await eventually(() => relay.stats.sent === 5, 10_000, "rows relayed before the outage");

    // Frozen, the server reads nothing: the relay's next batch is in flight when it is killed.
    await server.freeze();
    const published = batches.length;
    const list = messages(200);
    await outbox.addMany(pool, list);
    await eventually(() => batches.length > published, 10_000, "a batch published to the frozen broker");
    const sent = list.reduce((bytes, message) => bytes + message.envelope.length, 0);
    await eventually(() => server.unreadBytes() >= sent, 5000, "the batch to reach the frozen server");
    await server.stop();
    await server.start();
    const back = performance.now();

    await eventually(async () => (await relay.pending()) === 0, RESUME_MS + 4000, "every row relayed");
    expect(performance.now() - back).toBeLessThan(RESUME_MS);
    // Nothing accepted is lost: every row was marked sent, only after an ack. The batch that was
    // in flight is re-sent by the publisher after the reconnect (same ids, deduplicated); rows it
    // could not settle in time fail with CATGA_TIMEOUT and are relayed again.
    expect(relay.stats.sent).toBe(205);
    expect(errors.every((e) => e.code === "CATGA_TIMEOUT")).toBe(true);
  } finally {
    await relay.stop();
  }
});
