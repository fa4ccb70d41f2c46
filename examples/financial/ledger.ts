// The ledger service: debits, credits and reversals as durable commands, each applied exactly once
// with `exactlyOnce` (its inbox row, its double-entry rows and the balances commit in one
// PostgreSQL transaction). Started by main.ts; prints "ready", then "work <type> <transfer>"
// each time a command's work starts (the launcher counts the runs a kill made happen twice).
import { CatgaError, createCatga, err } from "../../dist/index.js";
import { exactlyOnce, type OnceTransaction } from "../../dist/persistence.js";
import { CLEARING } from "./accounts.js";
import { Credit, Debit, ReverseDebit } from "./contracts.js";
import { connect, database, logger, SCHEMA, serve } from "./service.js";

type Client = OnceTransaction["client"];

const pool = database(8);
const transport = await connect("ledger", { commands: true });

/** A final refusal: returned, not thrown, so it is the command's answer (contracts.ts, `Posted`). */
function refused(reason: string) {
  return err(`LEDGER_${reason}`, `the ledger refused: ${reason}`);
}

function started(type: string, transferId: string): Promise<void> {
  process.stdout.write(`work ${type} ${transferId}\n`);
  // The core-banking call this stands for takes a few milliseconds.
  return new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 15));
}

/**
 * One transfer's commands run one at a time (a debit and its reversal may race after a timeout).
 * The lock is the transaction's: it goes with COMMIT or ROLLBACK, also when the process dies.
 */
async function lockTransfer(client: Client, transferId: string): Promise<string[]> {
  await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [transferId]);
  const { rows } = await client.query(`SELECT kind FROM ${SCHEMA}.ledger_postings WHERE transfer_id = $1`, [
    transferId,
  ]);
  return rows.map((row: { kind: string }) => row.kind);
}

/**
 * Locks a customer account. Every transaction locks its one customer account first and the
 * clearing account last, so two transactions never wait for each other in a cycle.
 */
async function customer(client: Client, id: string): Promise<{ balance: number; closed: boolean }> {
  const { rows } = await client.query(
    `SELECT balance, closed FROM ${SCHEMA}.ledger_accounts WHERE id = $1 FOR UPDATE`,
    [id],
  );
  if (rows.length === 0) throw new CatgaError("LEDGER_UNKNOWN_ACCOUNT", `no account ${id}`);
  return { balance: Number(rows[0].balance), closed: rows[0].closed };
}

/** A double-entry posting: `amount` leaves `from` and enters `to`; two entries summing to zero. */
async function post(
  client: Client,
  posting: { transferId: string; kind: string; messageId: string; from: string; to: string; amount: number },
): Promise<number> {
  const { rows } = await client.query(
    `INSERT INTO ${SCHEMA}.ledger_postings (transfer_id, kind, message_id, pid) VALUES ($1, $2, $3, $4) RETURNING id`,
    [posting.transferId, posting.kind, posting.messageId, process.pid],
  );
  const id = Number(rows[0].id);
  await client.query(
    `INSERT INTO ${SCHEMA}.ledger_entries (posting, account, amount) VALUES ($1, $2, $3), ($1, $4, $5)`,
    [id, posting.from, -posting.amount, posting.to, posting.amount],
  );
  // Customer row first (already locked by `customer`), clearing last: see `customer`.
  const [first, second] =
    posting.from === CLEARING
      ? [[posting.to, posting.amount] as const, [posting.from, -posting.amount] as const]
      : [[posting.from, -posting.amount] as const, [posting.to, posting.amount] as const];
  for (const [account, delta] of [first, second])
    await client.query(`UPDATE ${SCHEMA}.ledger_accounts SET balance = balance + $2 WHERE id = $1`, [
      account,
      delta,
    ]);
  return id;
}

const ledger = createCatga({ logger, transport })
  .handle(
    Debit,
    exactlyOnce(
      pool,
      async ({ transferId, account, amount }, ctx, tx) => {
        await started("debit", transferId);
        const done = await lockTransfer(tx.client, transferId);
        // Reversed before it arrived (the saga gave up waiting): refused, so nothing stays in clearing.
        if (done.includes("void")) return refused("TRANSFER_VOIDED");
        // Deliberately no check for an earlier debit of this transfer: exactlyOnce alone keeps a
        // redelivered debit from applying twice, and main.ts proves it in SQL.
        const source = await customer(tx.client, account);
        if (source.closed) return refused("ACCOUNT_CLOSED");
        if (source.balance < amount) return refused("INSUFFICIENT_FUNDS");
        const posting = await post(tx.client, {
          transferId,
          kind: "debit",
          messageId: ctx.messageId,
          from: account,
          to: CLEARING,
          amount,
        });
        return { posting };
      },
      { schema: SCHEMA },
    ),
  )
  .handle(
    Credit,
    exactlyOnce(
      pool,
      async ({ transferId, account, amount }, ctx, tx) => {
        await started("credit", transferId);
        const done = await lockTransfer(tx.client, transferId);
        if (!done.includes("debit") || done.includes("reversal")) return refused("NOT_DEBITED");
        const target = await customer(tx.client, account);
        if (target.closed) return refused("ACCOUNT_CLOSED");
        const posting = await post(tx.client, {
          transferId,
          kind: "credit",
          messageId: ctx.messageId,
          from: CLEARING,
          to: account,
          amount,
        });
        return { posting };
      },
      { schema: SCHEMA },
    ),
  )
  .handle(
    ReverseDebit,
    exactlyOnce(
      pool,
      async ({ transferId, account, amount }, ctx, tx) => {
        await started("reverse-debit", transferId);
        const done = await lockTransfer(tx.client, transferId);
        // The money already reached the destination: only an operator can decide what to do.
        if (done.includes("credit"))
          throw new CatgaError("LEDGER_ALREADY_CREDITED", `transfer ${transferId} was credited`);
        if (!done.includes("debit")) {
          // Nothing to give back (refused, or not arrived yet): void it so a late debit is refused.
          await tx.client.query(
            `INSERT INTO ${SCHEMA}.ledger_postings (transfer_id, kind, message_id, pid) VALUES ($1, 'void', $2, $3)`,
            [transferId, ctx.messageId, process.pid],
          );
          return { reversed: false };
        }
        await customer(tx.client, account);
        await post(tx.client, {
          transferId,
          kind: "reversal",
          messageId: ctx.messageId,
          from: CLEARING,
          to: account,
          amount,
        });
        return { reversed: true };
      },
      // A compensation has a new message id per attempt: dedupe by the transfer instead.
      { schema: SCHEMA, key: ({ transferId }) => `ledger.reverse-debit:${transferId}` },
    ),
  )
  .build();

await transport.ready();
serve(async () => {
  await ledger.close();
  await pool.end();
});
