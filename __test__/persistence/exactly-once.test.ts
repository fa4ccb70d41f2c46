import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  exactlyOnce,
  migrate,
  type OnceContext,
  outboxEvent,
  PostgresIdempotencyStore,
} from "../../ts/entries/persistence.js";
import {
  CatgaConfigError,
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  ErrorCodes,
  err,
  silentLogger,
} from "../../ts/index.js";
import { expectCode } from "./contract.js";
import { dropSchema, newPool, sleep, uniqueName } from "./helpers.js";

// The issue 16 promise: a handler that records its outcome in the inbox in the same transaction as
// its writes runs its effect once per messageId, however often (and however concurrently) the
// message is delivered. Effects are checked in PostgreSQL: `ledger` has one row per message, and
// `applied` counts how many times an effect committed for it (2 would be a double effect).

const schema = uniqueName("once");
const pool = newPool(12);
const ledger = `"${schema}".ledger`;

beforeAll(async () => {
  await migrate(pool, { schema });
  await pool.query(`CREATE TABLE ${ledger} (id text PRIMARY KEY, amount int NOT NULL, applied int NOT NULL)`);
});
afterAll(async () => {
  await dropSchema(pool, schema);
  await pool.end();
});

let seq = 0;
function ctxFor(messageId = `m-${++seq}`, type = "ledger.post"): OnceContext {
  return { messageId, type };
}

/** The effect: one ledger row per message, `applied` + 1 each time the effect commits. */
const post = async (
  { id, amount }: { id: string; amount: number },
  client: { query(text: string, values?: unknown[]): Promise<unknown> },
) => {
  await client.query(
    `INSERT INTO ${ledger} (id, amount, applied) VALUES ($1, $2, 1)
     ON CONFLICT (id) DO UPDATE SET applied = ledger.applied + 1, amount = ledger.amount + excluded.amount`,
    [id, amount],
  );
};

async function appliedOf(id: string): Promise<number | undefined> {
  const { rows } = await pool.query(`SELECT applied FROM ${ledger} WHERE id = $1`, [id]);
  return rows[0]?.applied;
}

describe("exactlyOnce", () => {
  it("runs the effect once per messageId and gives every later delivery the recorded value", async () => {
    let runs = 0;
    const handle = exactlyOnce(
      pool,
      async (payload: { id: string; amount: number }, _ctx, tx) => {
        runs++;
        await post(payload, tx.client);
        return { id: payload.id, at: new Date(1_700_000_000_000), big: 2n ** 70n };
      },
      { schema },
    );
    const ctx = ctxFor();
    const first = await handle({ id: "a", amount: 5 }, ctx);
    const again = await handle({ id: "a", amount: 5 }, ctx);
    const third = await handle({ id: "a", amount: 5 }, ctx);
    expect(runs).toBe(1);
    expect(await appliedOf("a")).toBe(1);
    // The recorded value survives the round trip through the inbox (Dates, BigInts).
    expect(again).toEqual(first);
    expect(third).toEqual({ id: "a", at: new Date(1_700_000_000_000), big: 2n ** 70n });
    // Another messageId is another message.
    await handle({ id: "a", amount: 5 }, ctxFor());
    expect(runs).toBe(2);
    expect(await appliedOf("a")).toBe(2);
  });

  it("applies concurrent duplicates once: later ones wait on the row, then replay the first outcome", async () => {
    const trials = 12;
    const copies = 6;
    let runs = 0;
    // Separate pools, as separate consumer processes would have.
    const pools = Array.from({ length: copies }, () => newPool(2));
    try {
      const handlers = pools.map((p, copy) =>
        exactlyOnce(
          p,
          async (payload: { id: string; amount: number }, _ctx, tx) => {
            runs++;
            await post(payload, tx.client);
            await sleep(30); // hold the row while the duplicates arrive
            return { by: copy };
          },
          { schema },
        ),
      );
      for (let trial = 0; trial < trials; trial++) {
        const ctx = ctxFor();
        const id = `race-${trial}`;
        const outcomes = await Promise.all(handlers.map((h) => h({ id, amount: 1 }, ctx)));
        expect(new Set(outcomes.map((o) => o.by)).size).toBe(1);
        expect(await appliedOf(id)).toBe(1);
      }
      expect(runs).toBe(trials);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("rolls back a failed run entirely, so the next delivery runs the effect again", async () => {
    let runs = 0;
    const handle = exactlyOnce(
      pool,
      async (payload: { id: string; amount: number }, _ctx, tx) => {
        runs++;
        await post(payload, tx.client);
        if (runs === 1) throw new CatgaError("LEDGER_BUSY", "try later");
        return runs;
      },
      { schema },
    );
    const ctx = ctxFor();
    await expectCode(handle({ id: "f", amount: 3 }, ctx), "LEDGER_BUSY");
    expect(await appliedOf("f")).toBeUndefined();
    expect(await handle({ id: "f", amount: 3 }, ctx)).toBe(2);
    expect(await handle({ id: "f", amount: 3 }, ctx)).toBe(2);
    expect(runs).toBe(2);
    expect(await appliedOf("f")).toBe(1);
  });

  it("fails with CATGA_STORE_FAILED, recording nothing, when a statement failed and the handler caught it", async () => {
    const handle = exactlyOnce(
      pool,
      async (payload: { id: string; amount: number }, _ctx, tx) => {
        await post(payload, tx.client);
        await tx.client.query("SELECT 1/0").catch(() => undefined); // aborts the transaction
        return "done";
      },
      { schema },
    );
    await expectCode(handle({ id: "caught", amount: 1 }, ctxFor()), ErrorCodes.STORE_FAILED, "record");
    expect(await appliedOf("caught")).toBeUndefined();
  });

  it("commits enqueued events with the effect, and drops them with a failed run", async () => {
    const Posted = defineEvent("ledger.posted").payload<{ id: string }>();
    let fail = true;
    const handle = exactlyOnce(
      pool,
      async (payload: { id: string; amount: number }, ctx, tx) => {
        await post(payload, tx.client);
        tx.enqueue(
          outboxEvent(Posted, { id: payload.id }, { subject: "x.posted", messageId: `ev-${ctx.messageId}` }),
        );
        if (fail) throw new Error("boom");
        return tx.key;
      },
      { schema },
    );
    const ctx = ctxFor();
    await expect(handle({ id: "ev", amount: 1 }, ctx)).rejects.toThrow("boom");
    const events = () =>
      pool.query(`SELECT message_id FROM "${schema}".catga_outbox WHERE message_id = $1`, [
        `ev-${ctx.messageId}`,
      ]);
    expect((await events()).rows).toHaveLength(0);
    fail = false;
    expect(await handle({ id: "ev", amount: 1 }, ctx)).toBe(`once:ledger.post:${ctx.messageId}`);
    await handle({ id: "ev", amount: 1 }, ctx);
    expect((await events()).rows).toHaveLength(1);
    expect(await appliedOf("ev")).toBe(1);
  });

  it("runs again once the recorded outcome expired, and keys by what `key` returns", async () => {
    let runs = 0;
    const handle = exactlyOnce(
      pool,
      async (payload: { id: string; amount: number }, _ctx, tx) => {
        runs++;
        await post(payload, tx.client);
        return runs;
      },
      { schema, ttlMs: 1, key: (payload) => `payment:${payload.id}` },
    );
    expect(await handle({ id: "k", amount: 1 }, ctxFor())).toBe(1);
    await sleep(20);
    // A different messageId, the same business key; the row expired, so it runs again.
    expect(await handle({ id: "k", amount: 1 }, ctxFor())).toBe(2);
    const byKey = exactlyOnce(pool, async () => ++runs, { schema, key: (p: { id: string }) => p.id });
    expect(await byKey({ id: "same" }, ctxFor())).toBe(3);
    expect(await byKey({ id: "same" }, ctxFor())).toBe(3);
    // The outbox and idempotency rows share the table; the store's purge removes expired ones.
    expect(await new PostgresIdempotencyStore({ pool, schema }).purgeExpired()).toBeGreaterThanOrEqual(1);
  });

  it("waits for a duplicate in flight only up to queryTimeoutMs, then fails coded; the next delivery replays", async () => {
    const other = newPool(2);
    try {
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const slow = exactlyOnce(
        pool,
        async (payload: { id: string; amount: number }, _ctx, tx) => {
          await post(payload, tx.client);
          await held;
          return "slow";
        },
        { schema },
      );
      const impatient = exactlyOnce(other, async () => "never", { schema, queryTimeoutMs: 300 });
      const ctx = ctxFor();
      const first = slow({ id: "w", amount: 1 }, ctx);
      await sleep(100);
      await expectCode(impatient({ id: "w", amount: 1 }, ctx), ErrorCodes.STORE_FAILED, "claim");
      release();
      expect(await first).toBe("slow");
      expect(await impatient({ id: "w", amount: 1 }, ctx)).toBe("slow");
      expect(await appliedOf("w")).toBe(1);
    } finally {
      await other.end();
    }
  });

  it("works as a mediator handler: a command sent twice with one messageId is applied once", async () => {
    const Post = defineCommand("ledger.post")
      .payload<{ id: string; amount: number }>()
      .returns<{ n: number }>();
    let runs = 0;
    const catga = createCatga({ logger: silentLogger })
      .handle(
        Post,
        exactlyOnce(
          pool,
          async (payload, _ctx, tx) => {
            await post(payload, tx.client);
            return { n: ++runs };
          },
          { schema },
        ),
      )
      .build();
    const a = await catga.send(Post, { id: "med", amount: 1 }, { messageId: "med-1" });
    const b = await catga.send(Post, { id: "med", amount: 1 }, { messageId: "med-1" });
    expect([a.unwrap(), b.unwrap()]).toEqual([{ n: 1 }, { n: 1 }]);
    expect(await appliedOf("med")).toBe(1);
    await catga.close();
  });

  it("records a refusal the work returns: a duplicate gets the same failure, not a success", async () => {
    // A returned err(...) is a final answer (docs/architecture/durable-commands.md): the refusal commits with
    // whatever the work wrote, and a redelivery must replay it as a failure again.
    const Debit = defineCommand("ledger.debit-once")
      .payload<{ id: string; amount: number }>()
      .returns<{ posted: number }>();
    let runs = 0;
    const catga = createCatga({ logger: silentLogger })
      .handle(
        Debit,
        exactlyOnce(
          pool,
          async (payload, _ctx, tx) => {
            runs++;
            await post(payload, tx.client);
            return err("LEDGER_INSUFFICIENT_FUNDS", "balance too low", { balance: 3 });
          },
          { schema },
        ),
      )
      .build();
    const first = await catga.send(Debit, { id: "refused", amount: 9 }, { messageId: "refused-1" });
    const again = await catga.send(Debit, { id: "refused", amount: 9 }, { messageId: "refused-1" });
    for (const result of [first, again]) {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe("LEDGER_INSUFFICIENT_FUNDS");
        expect(result.error.message).toBe("balance too low");
        expect(result.error.details).toEqual({ balance: 3 });
      }
    }
    expect(runs).toBe(1);
    expect(await appliedOf("refused")).toBe(1);
    await catga.close();
  });

  it("refuses bad input with coded errors before touching the database", async () => {
    const handle = exactlyOnce(pool, async () => 1, { schema });
    await expectCode(handle({}, undefined as unknown as OnceContext), ErrorCodes.INVALID_ARGUMENT);
    await expectCode(handle({}, { type: "x", messageId: "" }), ErrorCodes.INVALID_ARGUMENT);
    await expectCode(
      exactlyOnce(pool, async () => 1, { schema, key: () => "k".repeat(2000) })({}, ctxFor()),
      ErrorCodes.LIMIT,
    );
    // A value larger than maxValueBytes: nothing commits, the effect included.
    const big = exactlyOnce(
      pool,
      async (payload: { id: string; amount: number }, _ctx, tx) => {
        await post(payload, tx.client);
        return "x".repeat(100);
      },
      { schema, maxValueBytes: 50 },
    );
    await expectCode(big({ id: "big", amount: 1 }, ctxFor()), ErrorCodes.LIMIT);
    expect(await appliedOf("big")).toBeUndefined();
    expect(() => exactlyOnce(undefined as never, async () => 1)).toThrow(CatgaError);
    const error = (() => {
      try {
        exactlyOnce(pool, async () => 1, {
          schema: "",
          ttlMs: 0,
          queryTimeoutMs: -1,
          key: "id",
          extra: true,
        } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CatgaConfigError);
    expect((error as CatgaConfigError).issues.map((i) => i.path).sort()).toEqual([
      "exactlyOnce.extra",
      "exactlyOnce.key",
      "exactlyOnce.queryTimeoutMs",
      "exactlyOnce.schema",
      "exactlyOnce.ttlMs",
    ]);
  });
});
