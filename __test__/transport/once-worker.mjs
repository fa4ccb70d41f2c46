// A handler process for the exactly-once kill test: takes `ledger.post` from the shared durable
// consumer and applies each command through `exactlyOnce` (a `ledger` row per command, `applied`
// counting committed effects). Prints "took <n>" when its effect starts (inside the transaction)
// and "done <n>" when the handler finished. Uses the built package (dist/), as a real service would.
import pg from "pg";
import { createCatga, defineCommand, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { exactlyOnce } from "../../dist/persistence.js";

const [prefix, schema, holdAfterArg] = process.argv.slice(2);
// After this many effects, hold every later transaction open (until killed): the test's kill then
// lands inside transactions whatever the machine's load, never between them.
const holdAfter = holdAfterArg === undefined ? Number.POSITIVE_INFINITY : Number(holdAfterArg);
let taken = 0;
const Post = defineCommand("ledger.post").durable();
const pool = new pg.Pool({ connectionString: process.env.PG_URL, max: 16 });
const transport = await natsTransport({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  service: "ledger",
  prefix,
  durableCommands: {
    provision: { storage: "memory" },
    // Batches of 32 handled together (16 transactions at a time, the pool's size); a short ack
    // wait, so what a killed instance held comes back soon (a live one keeps its batch with +WIP).
    consumer: { batch: 32, maxAckPending: 64, ackWaitMs: 2000, fetchWaitMs: 100, backoffMs: [50] },
  },
});
const ledger = `"${schema}".ledger`;
const apply = exactlyOnce(
  pool,
  async ({ n }, _ctx, tx) => {
    process.stdout.write(`took ${n}\n`); // synchronous on a pipe: seen even if killed right after
    await tx.client.query(
      `INSERT INTO ${ledger} (n, applied, pid) VALUES ($1, 1, $2)
       ON CONFLICT (n) DO UPDATE SET applied = ledger.applied + 1, pid = excluded.pid`,
      [n, process.pid],
    );
    // Hold the transaction a moment (or, past `holdAfter`, until killed).
    await new Promise((resolve) => setTimeout(resolve, ++taken > holdAfter ? 600_000 : 2));
    return { n, pid: process.pid };
  },
  { schema },
);
createCatga({ logger: silentLogger, transport })
  .handle(Post, async (payload, ctx) => {
    const result = await apply(payload, ctx);
    process.stdout.write(`done ${payload.n}\n`);
    return result;
  })
  .build();
await transport.ready();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  transport.close().then(
    () => pool.end().then(() => process.exit(0)),
    () => process.exit(1),
  );
});
