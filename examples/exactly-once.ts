// Exactly-once effects with PostgreSQL: delivery is at least once (a broker redelivers after a
// lost ack, a client retries), so `exactlyOnce` puts the handler's writes and the record of its
// outcome in one transaction. A repeat of the same messageId replays the recorded value instead
// of writing again; a failed run rolls back whole. Needs PostgreSQL. Run: npm run example:exactly-once
import pg from "pg";
import { createCatga, defineCommand, uuidv7 } from "../dist/index.js";
import { exactlyOnce, migrate } from "../dist/persistence.js";
import { DATABASE_URL, needs, SCHEMA } from "./services.js";

const Deposit = defineCommand("ledger.deposit")
  .payload<{ account: string; cents: number }>()
  .returns<{ balance: number }>();

const pool = new pg.Pool({ connectionString: DATABASE_URL });
await migrate(pool, { schema: SCHEMA }).catch(needs("PostgreSQL")); // catga_inbox holds the records
await pool.query(
  `CREATE TABLE IF NOT EXISTS ${SCHEMA}.accounts (id text PRIMARY KEY, cents bigint NOT NULL)`,
);
const account = `acc-${uuidv7()}`;
await pool.query(`INSERT INTO ${SCHEMA}.accounts VALUES ($1, 0)`, [account]);

let crashOnce = true;
const catga = createCatga()
  .withRetry({ maxAttempts: 2, baseDelayMs: 10 }) // the second attempt finds nothing half-done
  .handle(
    Deposit,
    exactlyOnce(
      pool,
      async ({ account, cents }, _ctx, tx) => {
        // Every write of the effect goes through tx.client: it commits with the recorded outcome.
        const { rows } = await tx.client.query(
          `UPDATE ${SCHEMA}.accounts SET cents = cents + $2 WHERE id = $1 RETURNING cents`,
          [account, cents],
        );
        if (crashOnce) {
          crashOnce = false;
          console.log("attempt 1: crashed after its UPDATE, so the UPDATE rolls back");
          throw new Error("crashed after the UPDATE"); // rolls back the UPDATE too
        }
        return { balance: Number(rows[0].cents) };
      },
      { schema: SCHEMA },
    ),
  )
  .build();

// One deposit delivered three times, as a redelivering broker would: same messageId each time.
const messageId = uuidv7();
for (let delivery = 1; delivery <= 3; delivery++) {
  const { balance } = (await catga.send(Deposit, { account, cents: 500 }, { messageId })).unwrap();
  console.log(`delivery ${delivery}: balance ${balance}`);
}

// Duplicates at the same moment (two instances took the same message): the second waits on the
// first's row lock, then replays its value.
const twin = uuidv7();
const answers = await Promise.all(
  [1, 2, 3].map(() => catga.send(Deposit, { account, cents: 250 }, { messageId: twin })),
);
console.log("concurrent duplicates answered:", answers.map((r) => r.unwrap().balance).join(", "));

const { rows } = await pool.query(`SELECT cents FROM ${SCHEMA}.accounts WHERE id = $1`, [account]);
console.log("balance in PostgreSQL:", Number(rows[0].cents)); // 750: each deposit applied once
await pool.end();
