// A relay process for the crash test: runs an OutboxRelay from the built package (dist/), as a
// real service would, until it is killed. Everything it needs comes in argv (no environment).
import pg from "pg";
import { JetStream } from "../../dist/jetstream.js";
import { NatsConnection } from "../../dist/nats.js";
import { OutboxRelay } from "../../dist/persistence.js";

const [natsUrl, pgUrl, schema, batchSize] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: pgUrl, max: 3 });
pool.on("error", () => {});
const connection = await NatsConnection.connect({ servers: natsUrl });
const relay = new OutboxRelay({
  pool,
  publisher: new JetStream(connection),
  schema,
  batchSize: Number(batchSize),
  pollIntervalMs: 50,
  onError: (error) => process.stderr.write(`relay error ${error.code}: ${error.message}\n`),
});
await relay.start();
process.stdout.write("ready\n");
process.once("SIGTERM", async () => {
  await relay.stop();
  await connection.close();
  await pool.end();
  process.exit(0);
});
