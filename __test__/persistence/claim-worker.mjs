// A consumer process for the inbox claim crash test: claims a message through the idempotency
// behavior of the built package (dist/), says "running" from inside the handler, and hangs there
// until it is killed, so its claim is never extended past the kill nor released.
// Everything it needs comes in argv: kind, server URL, store scope (schema / key prefix / bucket),
// message id, lease in ms.

import { Redis } from "ioredis";
import pg from "pg";
import { createCatga, defineCommand, silentLogger } from "../../dist/index.js";
import { NatsConnection } from "../../dist/nats.js";
import {
  NatsKvIdempotencyStore,
  PostgresIdempotencyStore,
  RedisIdempotencyStore,
} from "../../dist/persistence.js";

const [kind, url, scope, messageId, leaseMs] = process.argv.slice(2);
let store;
if (kind === "PostgreSQL") {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => {});
  store = new PostgresIdempotencyStore({ pool, schema: scope });
} else if (kind === "Redis") {
  store = new RedisIdempotencyStore({ client: new Redis(url), keyPrefix: scope });
} else {
  const connection = await NatsConnection.connect({ servers: url });
  store = new NatsKvIdempotencyStore({ connection, bucket: scope, maxAgeMs: 0, storage: "memory" });
}
const Work = defineCommand("race.work").payload().returns();
const catga = createCatga({ logger: silentLogger })
  .withIdempotency({ store, leaseMs: Number(leaseMs) })
  .handle(Work, async () => {
    process.stdout.write("running\n");
    // Never returns: the process is killed in here. The interval stands for the handler's own
    // pending I/O, which keeps a real process alive (the claim's extension timer is unref'd).
    await new Promise(() => setInterval(() => {}, 1_000));
  })
  .build();
await catga.send(Work, {}, { messageId });
