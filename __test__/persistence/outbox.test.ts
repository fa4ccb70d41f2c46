import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  migrate,
  type OutboxMessage,
  outboxEvent,
  outboxMessage,
  PostgresOutbox,
  withOutboxTransaction,
} from "../../ts/entries/persistence.js";
import { createCatga, defineCommand, defineEvent } from "../../ts/index.js";
import { EnvelopeCodec, jsonCodec } from "../../ts/nats/wire.js";
import { expectCode } from "./contract.js";
import { deadPool, dropSchema, newPool, uniqueName } from "./helpers.js";

const schema = uniqueName("outbox");
const pool = newPool();
const outbox = new PostgresOutbox({ schema });
const table = `"${schema}".catga_outbox`;

beforeAll(async () => {
  await migrate(pool, { schema });
  await pool.query(`CREATE TABLE "${schema}".orders (id text PRIMARY KEY, sku text NOT NULL)`);
});
afterAll(async () => {
  await dropSchema(pool, schema);
  await pool.end();
});

let seq = 0;
function message(label: string): OutboxMessage {
  const messageId = `${label}-${++seq}`;
  return { subject: `orders.${label}`, messageId, envelope: Buffer.from(`envelope ${messageId}`) };
}

async function rowsFor(ids: string[]) {
  const { rows } = await pool.query(
    `SELECT message_id, subject, envelope, sent_at, attempts, last_error FROM ${table} WHERE message_id = ANY($1) ORDER BY id`,
    [ids],
  );
  return rows;
}

describe("PostgresOutbox", () => {
  it("adds in the caller's transaction: committed with it, gone on rollback", async () => {
    const kept = message("kept");
    const dropped = message("dropped");
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      expect(await outbox.add(client, kept)).toBe(true);
      await client.query("COMMIT");
      await client.query("BEGIN");
      await outbox.add(client, dropped);
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    const rows = await rowsFor([kept.messageId, dropped.messageId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      message_id: kept.messageId,
      subject: "orders.kept",
      sent_at: null,
      attempts: 0,
    });
    expect(Buffer.from(rows[0].envelope).toString()).toBe(`envelope ${kept.messageId}`);
  });

  it("addMany keeps the given order and skips message ids already present", async () => {
    const batch = Array.from({ length: 50 }, (_, i) => message(`m${i}`));
    expect(await outbox.addMany(pool, batch)).toBe(50);
    expect(await outbox.addMany(pool, [batch[3]!, message("fresh")])).toBe(1);
    expect(await outbox.add(pool, batch[0]!)).toBe(false);
    const rows = await rowsFor(batch.map((m) => m.messageId));
    expect(rows.map((r) => r.message_id)).toEqual(batch.map((m) => m.messageId));
    expect(await outbox.addMany(pool, [])).toBe(0);
  });

  it("accepts any Uint8Array view as the envelope", async () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const m = { subject: "orders.view", messageId: `view-${++seq}`, envelope: backing.subarray(2, 5) };
    await outbox.add(pool, m);
    const [row] = await rowsFor([m.messageId]);
    expect([...row.envelope]).toEqual([1, 2, 3]);
  });

  it("validates messages before touching the database", async () => {
    const bad: [unknown, string][] = [
      [{ ...message("a"), subject: "" }, "CATGA_INVALID_ARGUMENT"],
      [{ ...message("a"), subject: "orders.*" }, "CATGA_INVALID_ARGUMENT"],
      [{ ...message("a"), messageId: "" }, "CATGA_INVALID_ARGUMENT"],
      [{ ...message("a"), envelope: "text" }, "CATGA_INVALID_ARGUMENT"],
      [{ ...message("a"), envelope: new Uint8Array(0) }, "CATGA_INVALID_ARGUMENT"],
      [{ ...message("a"), envelope: new Uint8Array(2 * 1024 * 1024) }, "CATGA_LIMIT"],
    ];
    for (const [m, code] of bad) await expectCode(outbox.add(pool, m as OutboxMessage), code);
  });

  it("counts pending rows for a gauge", async () => {
    const before = await outbox.pending(pool);
    await outbox.addMany(pool, [message("p"), message("p")]);
    expect(await outbox.pending(pool)).toBe(before + 2);
  });

  it("reports a database that is down as CATGA_STORE_FAILED naming the operation", async () => {
    const dead = await deadPool();
    await expectCode(outbox.add(dead, message("down")), "CATGA_STORE_FAILED", "add failed");
    await expectCode(
      outbox.addMany(dead, [message("down"), message("down")]),
      "CATGA_STORE_FAILED",
      "addMany",
    );
    await expectCode(outbox.pending(dead), "CATGA_STORE_FAILED", "pending");
    await expectCode(
      withOutboxTransaction(dead, async () => 1),
      "CATGA_STORE_FAILED",
      "connect",
    );
    await dead.end();
  });
});

describe("withOutboxTransaction", () => {
  it("commits the state change and the enqueued messages together", async () => {
    const m = message("tx");
    const result = await withOutboxTransaction(
      pool,
      async (tx) => {
        await tx.client.query(`INSERT INTO "${schema}".orders (id, sku) VALUES ($1, 'book')`, [m.messageId]);
        tx.enqueue(m);
        return "done";
      },
      { outbox },
    );
    expect(result).toBe("done");
    expect(await rowsFor([m.messageId])).toHaveLength(1);
    const order = await pool.query(`SELECT sku FROM "${schema}".orders WHERE id = $1`, [m.messageId]);
    expect(order.rows).toEqual([{ sku: "book" }]);
  });

  it("rolls both back when the work throws, rethrowing its error", async () => {
    const m = message("boom");
    const failure = new Error("out of stock");
    await expect(
      withOutboxTransaction(
        pool,
        async (tx) => {
          await tx.client.query(`INSERT INTO "${schema}".orders (id, sku) VALUES ($1, 'pen')`, [m.messageId]);
          tx.enqueue(m);
          throw failure;
        },
        { outbox },
      ),
    ).rejects.toBe(failure);
    expect(await rowsFor([m.messageId])).toHaveLength(0);
    const order = await pool.query(`SELECT 1 FROM "${schema}".orders WHERE id = $1`, [m.messageId]);
    expect(order.rows).toHaveLength(0);
  });

  it("fails with CATGA_STORE_FAILED when a statement failed inside work and PostgreSQL rolled back", async () => {
    const id = `aborted-${seq++}`;
    await pool.query(`INSERT INTO "${schema}".orders (id, sku) VALUES ($1, 'pen')`, [`${id}-dup`]);
    const error = await expectCode(
      withOutboxTransaction(
        pool,
        async (tx) => {
          await tx.client.query(`INSERT INTO "${schema}".orders (id, sku) VALUES ($1, 'pen')`, [id]);
          // The work swallows its own failed statement: the transaction is aborted all the same.
          await tx.client
            .query(`INSERT INTO "${schema}".orders (id, sku) VALUES ($1, 'pen')`, [`${id}-dup`])
            .catch(() => undefined);
          return "looks fine";
        },
        { outbox },
      ),
      "CATGA_STORE_FAILED",
    );
    expect(error.message).toContain("rolled back");
    const order = await pool.query(`SELECT 1 FROM "${schema}".orders WHERE id = $1`, [id]);
    expect(order.rows).toHaveLength(0);
  });

  it("rolls back the state change when an enqueued message is invalid", async () => {
    const id = `invalid-${++seq}`;
    await expectCode(
      withOutboxTransaction(
        pool,
        async (tx) => {
          await tx.client.query(`INSERT INTO "${schema}".orders (id, sku) VALUES ($1, 'cup')`, [id]);
          tx.enqueue({ subject: "orders.x", messageId: id, envelope: new Uint8Array(0) });
        },
        { outbox },
      ),
      "CATGA_INVALID_ARGUMENT",
    );
    const order = await pool.query(`SELECT 1 FROM "${schema}".orders WHERE id = $1`, [id]);
    expect(order.rows).toHaveLength(0);
  });

  it("returns connections to the pool (no leak after many transactions)", async () => {
    const small = newPool(2);
    try {
      for (let i = 0; i < 20; i++) {
        await withOutboxTransaction(small, async (tx) => tx.enqueue(message("leak")), { outbox }).catch(
          () => {},
        );
        await withOutboxTransaction(
          small,
          async () => {
            throw new Error("x");
          },
          { outbox },
        ).catch(() => {});
      }
      expect(small.totalCount).toBeLessThanOrEqual(2);
      expect(small.idleCount).toBe(small.totalCount);
    } finally {
      await small.end();
    }
  });
});

describe("outboxEvent / outboxMessage inside a Catga handler", () => {
  const PlaceOrder = defineCommand("orders.place").payload<{ sku: string }>().returns<{ orderId: string }>();
  const OrderPlaced = defineEvent("orders.placed").payload<{ orderId: string; sku: string; at: Date }>();

  it("writes the order and its event in one transaction, with correlation from ctx", async () => {
    const catga = createCatga()
      .handle(PlaceOrder, (order, ctx) =>
        withOutboxTransaction(
          pool,
          async (tx) => {
            const orderId = `o-${ctx.messageId}`;
            await tx.client.query(`INSERT INTO "${schema}".orders (id, sku) VALUES ($1, $2)`, [
              orderId,
              order.sku,
            ]);
            tx.enqueue(
              outboxEvent(
                OrderPlaced,
                { orderId, sku: order.sku, at: new Date(42) },
                {
                  subject: "catga.evt.orders.placed",
                  cause: ctx,
                },
              ),
            );
            return { orderId };
          },
          { outbox },
        ),
      )
      .build();
    const sent = await catga.send(
      PlaceOrder,
      { sku: "lamp" },
      { messageId: "cmd-1", headers: { tenant: "t1" } },
    );
    const { orderId } = sent.unwrap();
    const { rows } = await pool.query(
      `SELECT message_id, subject, envelope FROM ${table} WHERE subject = $1`,
      ["catga.evt.orders.placed"],
    );
    expect(rows).toHaveLength(1);
    const envelope = new EnvelopeCodec().decodeMessage(rows[0].envelope);
    expect(envelope).toMatchObject({
      kind: "event",
      type: "orders.placed",
      messageId: rows[0].message_id,
      correlationId: "cmd-1",
      causationId: "cmd-1",
      headers: { tenant: "t1" },
      payload: { orderId, sku: "lamp", at: new Date(42) },
    });
    expect(envelope.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/); // UUIDv7
  });

  it("outboxMessage encodes a mediator Envelope with the chosen codec; a fixed id makes re-runs idempotent", async () => {
    const codec = new EnvelopeCodec({}, jsonCodec);
    const m = outboxMessage(
      "catga.evt.orders.json",
      {
        kind: "event",
        type: "orders.json",
        messageId: `fixed-${++seq}`,
        correlationId: "c",
        causationId: undefined,
        createdAt: 1,
        headers: {},
        payload: { n: 1 },
      },
      jsonCodec,
    );
    expect(codec.decodeMessage(m.envelope).payload).toEqual({ n: 1 });
    expect(await outbox.add(pool, m)).toBe(true);
    expect(await outbox.add(pool, m)).toBe(false);
    const again = outboxEvent(
      OrderPlaced,
      { orderId: "x", sku: "y", at: new Date(0) },
      {
        subject: "catga.evt.orders.placed",
        messageId: m.messageId,
      },
    );
    expect(again.messageId).toBe(m.messageId);
    expect(() => outboxEvent(PlaceOrder as never, {} as never, { subject: "s" })).toThrow(/event contract/);
    // Options checked where the event is made, not at add() (or, for a misspelt key, never).
    const payload = { orderId: "x", sku: "y", at: new Date(0) };
    for (const [options, field] of [
      [{}, "options.subject"],
      [{ subject: "" }, "options.subject"],
      [{ subject: "a..b" }, "options.subject"],
      [{ subject: "s", messageId: "" }, "options.messageId"],
      [{ subject: "s", cause: 5 }, "options.cause"],
      [{ subject: "s", subjet: "t" }, "options.subjet"],
      [null, "options"],
    ] as const)
      expect(() => outboxEvent(OrderPlaced, payload, options as never)).toThrow(
        expect.objectContaining({ code: "CATGA_INVALID_ARGUMENT", details: { field } }),
      );
  });
});
