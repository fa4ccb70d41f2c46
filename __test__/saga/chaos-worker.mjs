// For the saga chaos test: one process per role. `host` hosts the order saga (and nothing else: it
// is the process that is killed); `orders` (confirm), `inventory` (reserve, release) and `payments`
// (charge, refund) handle its steps. Every effect is a PostgreSQL write made with `exactlyOnce`, so
// a step sent again (a killed host's successor, a retry) applies once; the test proves it in SQL.
// Refusals (a stock shortage, a declined card) come back as values, so they are recorded too and do
// not depend on how often a durable handler's error is redelivered. Random handler errors are thrown
// after the effect was written, inside the transaction (rolled back): only in handlers whose retry
// does not change the outcome (request/reply steps retried by the host's withRetry, and compensations,
// which are retried until they succeed). A few reserves are slow, past their step's timeout.
// Prints "ready", then "step <type>" as each handler starts, "injected <key>" for each injected
// error and "duplicate <id>" when a resent durable step had to wait out the duplicate window.
// Uses dist/ (`npx tsup` first), as a real service would.
import pg from "pg";
import { CatgaError, createCatga, defineCommand, defineSaga, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { exactlyOnce, PostgresSagaStore } from "../../dist/persistence.js";

const [role, natsUrl, prefix, pgUrl, schema, errorRate] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: pgUrl, max: 8 });
pool.on("error", () => {}); // an idle client dropped by the server: the next query reconnects

const RESERVE_TIMEOUT_MS = 4_000;
/** An injected slow reserve takes this long: past the step's timeout, within exactlyOnce's lock wait. */
const SLOW_MS = 6_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const PlaceOrder = defineCommand("orders.place").durable();
const Reserve = defineCommand("inventory.reserve");
const Release = defineCommand("inventory.release");
const Charge = defineCommand("payments.charge").durable();
const Refund = defineCommand("payments.refund").durable();
const Confirm = defineCommand("orders.confirm");

/** A refusal answered as a value becomes the step's failure (the saga compensates, that step too). */
function accepted(outcome) {
  if (outcome.refused !== undefined) throw new CatgaError(outcome.refused, `refused: ${outcome.refused}`);
  return outcome;
}

const OrderSaga = defineSaga("order")
  .startedBy(PlaceOrder, { id: (p) => p.orderId, init: (p) => ({ ...p }) })
  .step("reserve", {
    send: Reserve,
    payload: (s) => ({ orderId: s.orderId, sku: s.sku, slow: s.slow }),
    result: (s, r) => ({ ...s, reservation: accepted(r).reservation }),
    // Shorter than an injected slow reserve: the step times out and is compensated while its
    // effect may still land (the release and the reserve then meet under the order's lock).
    timeoutMs: RESERVE_TIMEOUT_MS,
  })
  .compensate("reserve", { send: Release, payload: (s) => ({ orderId: s.orderId, sku: s.sku }) })
  .step("charge", {
    send: Charge,
    payload: (s) => ({ orderId: s.orderId, amount: s.amount, card: s.card }),
    result: (s, r) => ({ ...s, payment: accepted(r).payment }),
  })
  .compensate("charge", { send: Refund, payload: (s) => ({ orderId: s.orderId }) })
  .step("confirm", { send: Confirm, payload: (s) => ({ orderId: s.orderId }) });

/** Each handler key fails at most twice per process, so a retry always gets through in the end. */
const failures = new Map();
function chaos(key) {
  const failed = failures.get(key) ?? 0;
  if (failed >= 2 || Math.random() >= Number(errorRate)) return;
  failures.set(key, failed + 1);
  process.stdout.write(`injected ${key}\n`);
  throw new Error(`injected handler error (${key})`);
}

/** One order's effects run one at a time (a compensation may race its step after a timeout). */
async function lockOrder(client, orderId) {
  await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [orderId]);
  const { rows } = await client.query(`SELECT kind, money FROM "${schema}".ledger WHERE order_id = $1`, [
    orderId,
  ]);
  return rows;
}

function post(client, ctx, row) {
  return client.query(
    `INSERT INTO "${schema}".ledger (order_id, kind, message_id, stock, money, pid) VALUES ($1, $2, $3, $4, $5, $6)`,
    [row.orderId, row.kind, ctx.messageId, row.stock ?? 0, row.money ?? 0, process.pid],
  );
}

function started(type) {
  process.stdout.write(`step ${type}\n`);
}

const once = (work, key) => exactlyOnce(pool, work, { schema, ...(key === undefined ? {} : { key }) });

const transport = await natsTransport({
  servers: natsUrl,
  service: role === "host" ? "sagas" : role,
  prefix,
  durableCommands: {
    // A duplicate window longer than the ack wait: a durable step the killed host sent is sent again
    // by the next host inside the window, and the saga waits it out (docs/architecture/sagas.md).
    provision: { storage: "memory", duplicateWindowMs: 4000 },
    // A short ack wait, so what a killed host held comes back soon.
    consumer: { batch: 16, maxAckPending: 256, ackWaitMs: 1500, fetchWaitMs: 100, backoffMs: [100] },
  },
  requestTimeoutMs: 30_000,
});

const hostLogger = {
  ...silentLogger,
  info: (message, fields) => {
    if (message.startsWith("saga step sent again")) process.stdout.write(`duplicate ${fields.id}\n`);
  },
};

let catga;
if (role === "host")
  catga = createCatga({ logger: hostLogger, transport })
    // Retries the request/reply steps and compensations that hit an injected error.
    .withRetry({ maxAttempts: 5, baseDelayMs: 20 })
    .remote(Reserve, Release, Charge, Refund, Confirm)
    .saga(OrderSaga, {
      store: new PostgresSagaStore({ pool, schema }),
      compensationAttempts: 10,
      compensationBackoffMs: 50,
      stepRecoveryMs: 60_000,
    })
    .build();
else if (role === "inventory")
  catga = createCatga({ logger: silentLogger, transport })
    .handle(
      Reserve,
      once(async ({ orderId, sku, slow }, ctx, tx) => {
        started("reserve");
        // Slow before the lock: the release finds nothing and voids the order; after it: the
        // release waits for this reserve and gives it back.
        if (slow === "before") await sleep(SLOW_MS);
        const done = await lockOrder(tx.client, orderId);
        if (slow === "after") await sleep(SLOW_MS);
        // Released before it arrived (the saga gave up on it): refused, so no stock stays reserved.
        if (done.some((row) => row.kind === "release-nothing")) return { refused: "ORDER_VOIDED" };
        const taken = await tx.client.query(
          `UPDATE "${schema}".stock SET units = units - 1 WHERE sku = $1 AND units > 0`,
          [sku],
        );
        if (taken.rowCount === 0) {
          await post(tx.client, ctx, { orderId, kind: "short" });
          return { refused: "STOCK_SHORT" };
        }
        await post(tx.client, ctx, { orderId, kind: "reserve", stock: -1 });
        chaos(ctx.messageId);
        return { reservation: `r-${orderId}` };
      }),
    )
    .handle(
      Release,
      once(
        async ({ orderId, sku }, ctx, tx) => {
          started("release");
          const done = await lockOrder(tx.client, orderId);
          if (!done.some((row) => row.kind === "reserve")) {
            await post(tx.client, ctx, { orderId, kind: "release-nothing" });
            return {};
          }
          await tx.client.query(`UPDATE "${schema}".stock SET units = units + 1 WHERE sku = $1`, [sku]);
          await post(tx.client, ctx, { orderId, kind: "release", stock: 1 });
          chaos(`release:${orderId}`);
          return {};
        },
        // A compensation has a new message id per attempt: dedupe by the order instead.
        ({ orderId }) => `release:${orderId}`,
      ),
    )
    .build();
else if (role === "payments")
  catga = createCatga({ logger: silentLogger, transport })
    .handle(
      Charge,
      // No injected errors here: a durable step's handler error is redelivered before the saga hears
      // of it, and how often is not this test's subject (the outcome must not depend on it).
      once(async ({ orderId, amount, card }, ctx, tx) => {
        started("charge");
        const done = await lockOrder(tx.client, orderId);
        if (done.some((row) => row.kind === "refund-nothing")) return { refused: "ORDER_VOIDED" };
        if (card === "declined") {
          await post(tx.client, ctx, { orderId, kind: "declined" });
          return { refused: "PAYMENT_DECLINED" };
        }
        await post(tx.client, ctx, { orderId, kind: "charge", money: amount });
        return { payment: `p-${orderId}` };
      }),
    )
    .handle(
      Refund,
      once(
        async ({ orderId }, ctx, tx) => {
          started("refund");
          const done = await lockOrder(tx.client, orderId);
          const charge = done.find((row) => row.kind === "charge");
          if (charge === undefined) {
            await post(tx.client, ctx, { orderId, kind: "refund-nothing" });
            return {};
          }
          await post(tx.client, ctx, { orderId, kind: "refund", money: -Number(charge.money) });
          chaos(`refund:${orderId}`);
          return {};
        },
        ({ orderId }) => `refund:${orderId}`,
      ),
    )
    .build();
else
  catga = createCatga({ logger: silentLogger, transport })
    .handle(
      Confirm,
      once(async ({ orderId }, ctx, tx) => {
        started("confirm");
        await lockOrder(tx.client, orderId);
        await post(tx.client, ctx, { orderId, kind: "confirm" });
        chaos(ctx.messageId);
        return {};
      }),
    )
    .build();

await transport.ready();
process.stdout.write("ready\n");
const stop = () => {
  catga.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGTERM", stop);
// Ends with the test process too, even when that one was killed (its end of stdin closes).
process.stdin.on("end", stop).resume();
