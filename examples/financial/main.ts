// The financial example's launcher: sets up PostgreSQL, starts the four services as child
// processes (compliance, ledger, notifications, transfers), sends 200 transfers, kills the ledger
// and then the saga host with SIGKILL mid-run and starts new ones, waits until every transfer
// settled, prints what happened, and proves with SQL that the books balance and nothing was
// applied twice. Exits 1 if an invariant fails or the run does not settle in time; stops every
// process it started.
// Needs PostgreSQL and NATS with JetStream. Run: npm run example:financial
import pg from "pg";
import { createCatga, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { DATABASE_URL, NATS_URL, needs, PREFIX } from "../services.js";
import { CUSTOMERS } from "./accounts.js";
import { StartTransfer } from "./contracts.js";
import { INVARIANTS } from "./invariants.js";
import { kill, type Service, start, stop } from "./processes.js";
import { scenario } from "./scenario.js";
import { SCHEMA } from "./service.js";
import { setUp } from "./setup.js";

/** How long the transfers may take to settle before the run counts as failed. */
const SETTLE_MS = Number(process.env.FINANCIAL_SETTLE_MS ?? 50_000);
/** The ledger is killed once this many debits are in the journal. */
const KILL_AFTER_DEBITS = 40;
/** The saga host is killed once this many transfers settled. */
const KILL_HOST_AT_SETTLED = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const run = Date.now().toString(36).slice(-5);

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
await setUp(pool).catch(needs("PostgreSQL"));
const transport = await natsTransport({ servers: NATS_URL, service: "web", prefix: PREFIX }).catch(
  needs("NATS"),
);
const web = createCatga({ logger: silentLogger, transport }).remote(StartTransfer).build();

const services: Service[] = [];
let failed = false;
try {
  // The services that provision the JetStream streams are ready before anything is sent.
  services.push(
    ...(await Promise.all(["compliance", "ledger", "notifications", "transfers"].map((name) => start(name)))),
  );
  const transfers = scenario(run);
  console.log(
    `financial: ${transfers.length} transfers among ${CUSTOMERS.length} accounts; ` +
      `services: ${services.map((s) => s.name).join(", ")}`,
  );
  const began = Date.now();
  for (const transfer of transfers)
    (await web.send(StartTransfer, transfer, { messageId: `start-${transfer.transferId}` })).unwrap();

  const settled = async () =>
    Number(
      (
        await pool.query(
          `SELECT count(*) AS n FROM ${SCHEMA}.catga_saga
            WHERE saga = 'transfer' AND id LIKE $1 AND status IN ('completed', 'compensated')`,
          [`t-${run}-%`],
        )
      ).rows[0].n,
    );
  const debits = async () =>
    Number(
      (await pool.query(`SELECT count(*) AS n FROM ${SCHEMA}.ledger_postings WHERE kind = 'debit'`)).rows[0]
        .n,
    );
  const deadline = began + SETTLE_MS;

  // SIGKILL the ledger while it works: it is killed on its next "work" line, so it holds commands
  // mid-transaction. PostgreSQL rolls those back; JetStream gives them to the new ledger.
  const ledger = services.find((s) => s.name === "ledger")!;
  while ((await debits()) < KILL_AFTER_DEBITS && Date.now() < deadline) await sleep(20);
  const seen = ledger.lines.length;
  while (ledger.lines.length === seen && Date.now() < deadline) await sleep(1);
  await kill(ledger);
  const debitsAtKill = await debits();
  const successor = await start("ledger");
  services.push(successor);
  console.log(`ledger killed with SIGKILL after ${debitsAtKill} debits; a new ledger took over`);

  // SIGKILL the saga host with sagas in progress: their state is in PostgreSQL and their
  // activations on JetStream, so the new host continues each from its last step.
  while ((await settled()) < KILL_HOST_AT_SETTLED && Date.now() < deadline) await sleep(20);
  await kill(services.find((s) => s.name === "transfers")!);
  const settledAtKill = await settled();
  services.push(await start("transfers"));
  console.log(
    `transfers host killed with SIGKILL with ${settledAtKill} of ${transfers.length} settled; a new host took over`,
  );

  while ((await settled()) < transfers.length && Date.now() < deadline) await sleep(100);
  const seconds = ((Date.now() - began) / 1000).toFixed(1);
  const done = await settled();
  if (done === transfers.length) console.log(`all ${done} transfers settled in ${seconds} s`);
  else {
    failed = true;
    console.log(`only ${done} of ${transfers.length} transfers settled within ${SETTLE_MS} ms`);
  }

  await summarize(ledger, successor);
  console.log("invariants, checked in PostgreSQL:");
  for (const invariant of INVARIANTS) {
    const problem = await invariant.check(pool, run);
    if (problem === undefined) console.log(`  ok      ${invariant.name}`);
    else {
      failed = true;
      console.log(`  FAILED  ${invariant.name}: ${problem}`);
    }
  }
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await Promise.all(services.map((service) => stop(service)));
  await web.close();
  await pool.end();
}
process.exitCode = failed ? 1 : 0;

/** Outcomes by saga status and error code, and what the kill made the ledger run again. */
async function summarize(killed: Service, successor: Service): Promise<void> {
  const { rows } = await pool.query(
    `SELECT status, progress->'error'->>'code' AS code, count(*)::int AS n FROM ${SCHEMA}.catga_saga
      WHERE saga = 'transfer' AND id LIKE $1 GROUP BY 1, 2 ORDER BY 3 DESC`,
    [`t-${run}-%`],
  );
  const meaning: Record<string, string> = {
    COMPLIANCE_REJECTED: "rejected by compliance, nothing posted",
    LEDGER_INSUFFICIENT_FUNDS: "insufficient funds, debit refused",
    LEDGER_ACCOUNT_CLOSED: "destination closed, debit reversed",
  };
  for (const { status, code, n } of rows) {
    const what = code === null ? status : `${status} (${code}): ${meaning[code] ?? "unexpected"}`;
    console.log(`  ${String(n).padStart(4)}  ${what}`);
  }
  // The same command's work started twice: once in the killed ledger (rolled back with its
  // transaction, or committed and then replayed), once more in the new one.
  const runs = new Map<string, number>();
  for (const line of [...killed.lines, ...successor.lines])
    if (line.startsWith("work ")) runs.set(line, (runs.get(line) ?? 0) + 1);
  const again = [...runs.values()].filter((n) => n > 1).length;
  console.log(
    `ledger: ${[...runs.values()].reduce((a, b) => a + b, 0)} runs for ${runs.size} commands; ` +
      `${again} ran again after the kill and were applied once`,
  );
  const notified = await pool.query(
    `SELECT count(*)::int AS n FROM ${SCHEMA}.notifications WHERE transfer_id LIKE $1`,
    [`t-${run}-%`],
  );
  console.log(`notifications recorded: ${notified.rows[0].n}`);
}
