import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DurablePublisher } from "../../ts/entries/jetstream.js";
import { JetStream } from "../../ts/entries/jetstream.js";
import { NatsConnection } from "../../ts/entries/nats.js";
import {
  migrate,
  type OutboxMessage,
  OutboxRelay,
  PostgresOutbox,
  withOutboxTransaction,
} from "../../ts/entries/persistence.js";
import { CatgaConfigError, type CatgaError } from "../../ts/index.js";
import { eventEnvelope, PrivateNats } from "../nats/helpers.js";
import { expectCode } from "./contract.js";
import { deadPool, dropSchema, eventually, newPool, PG_URL, sleep, uniqueName } from "./helpers.js";
import { StallProxy } from "./stall-proxy.js";

// Real services only: PostgreSQL for the outbox, a private nats-server with JetStream for the
// publisher (streams are thrown away with the server).
const schema = uniqueName("relay");
const pool = newPool(10, schema);
const outbox = new PostgresOutbox({ schema });
const table = `"${schema}".catga_outbox`;
let server: PrivateNats;
let conn: NatsConnection;
let js: JetStream;
let streams = 0;

beforeAll(async () => {
  await migrate(pool, { schema });
  server = await PrivateNats.start();
  conn = await NatsConnection.connect({ servers: server.url });
  js = new JetStream(conn);
});
afterAll(async () => {
  await conn?.close();
  await server?.dispose();
  await dropSchema(pool, schema);
  await pool.end();
});

/** A fresh stream on `<subject>.>` and a durable consumer counting deliveries per messageId. */
async function stream(): Promise<{ subject: string; seen: Map<string, number>; stop: () => Promise<void> }> {
  const n = ++streams;
  const subject = `relay${n}`;
  await js.ensureStream({ name: `RELAY${n}`, subjects: [`${subject}.>`], storage: "memory" });
  const seen = new Map<string, number>();
  const stop = await js.consume({ stream: `RELAY${n}`, durable: `c${n}` }, (m) => {
    seen.set(m.envelope.messageId, (seen.get(m.envelope.messageId) ?? 0) + 1);
  });
  return { subject, seen, stop };
}

let ids = 0;
function messages(subject: string, count: number): OutboxMessage[] {
  return Array.from({ length: count }, () => {
    const messageId = `${subject}-${++ids}`;
    return { subject: `${subject}.evt`, messageId, envelope: eventEnvelope(messageId) };
  });
}

async function states(list: readonly OutboxMessage[]) {
  const { rows } = await pool.query(
    `SELECT message_id, sent_at IS NOT NULL AS sent, attempts, last_error FROM ${table} WHERE message_id = ANY($1) ORDER BY id`,
    [list.map((m) => m.messageId)],
  );
  return rows as { message_id: string; sent: boolean; attempts: number; last_error: string | null }[];
}

function relay(options: Partial<ConstructorParameters<typeof OutboxRelay>[0]> = {}) {
  const errors: CatgaError[] = [];
  const r = new OutboxRelay({ pool, publisher: js, schema, onError: (e) => errors.push(e), ...options });
  return { relay: r, errors };
}

describe("OutboxRelay", () => {
  it("publishes committed rows once, marks them sent, never sees rolled-back rows", async () => {
    const s = await stream();
    const committed = messages(s.subject, 300);
    const rolledBack = messages(s.subject, 5);
    await outbox.addMany(pool, committed);
    const client = await pool.connect();
    await client.query("BEGIN");
    await outbox.addMany(client, rolledBack);
    await client.query("ROLLBACK");
    client.release();

    const { relay: r, errors } = relay({ batchSize: 256 });
    expect(await r.relayOnce()).toEqual({ claimed: 256, sent: 256, duplicates: 0, failed: 0 });
    expect(await r.relayOnce()).toEqual({ claimed: 44, sent: 44, duplicates: 0, failed: 0 });
    expect(await r.relayOnce()).toEqual({ claimed: 0, sent: 0, duplicates: 0, failed: 0 });
    expect(errors).toEqual([]);
    expect((await states(committed)).every((row) => row.sent && row.attempts === 1)).toBe(true);
    await eventually(() => s.seen.size === 300, 10_000, "300 deliveries");
    expect([...s.seen.values()].every((count) => count === 1)).toBe(true);
    expect(rolledBack.some((m) => s.seen.has(m.messageId))).toBe(false);
    await s.stop();
  });

  it("records per-message publish failures on the row and retries them after a backoff", async () => {
    const s = await stream();
    const good = messages(s.subject, 3);
    const orphan = messages(`orphan${streams}`, 2); // no stream captures these subjects yet
    await outbox.addMany(pool, [good[0]!, orphan[0]!, good[1]!, orphan[1]!, good[2]!]);
    const { relay: r, errors } = relay({ retryBaseMs: 300 });
    expect(await r.relayOnce()).toMatchObject({ claimed: 5, sent: 3, failed: 2 });
    const after = await states([...good, ...orphan]);
    expect(after.filter((row) => row.sent).map((row) => row.message_id)).toEqual(
      good.map((m) => m.messageId),
    );
    for (const row of after.filter((row) => !row.sent)) {
      expect(row.attempts).toBe(1);
      expect(row.last_error).toMatch(/^CATGA_\w+: /);
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain("2 of 5 messages failed");
    expect(await r.pending()).toBeGreaterThanOrEqual(2);

    // Backing off: not claimed again at once.
    expect(await r.relayOnce()).toMatchObject({ claimed: 0 });
    await js.ensureStream({ name: `ORPHAN${streams}`, subjects: [`orphan${streams}.>`], storage: "memory" });
    await sleep(350);
    expect(await r.relayOnce()).toMatchObject({ claimed: 2, sent: 2, failed: 0 });
    expect((await states(orphan)).map((row) => [row.sent, row.attempts])).toEqual([
      [true, 2],
      [true, 2],
    ]);
    await s.stop();
  });

  it("keeps rows pending with the publisher's code when the publisher rejects", async () => {
    const s = await stream();
    const list = messages(s.subject, 4);
    await outbox.addMany(pool, list);
    const closed = await NatsConnection.connect({ servers: server.url });
    await closed.close();
    const { relay: r, errors } = relay({ publisher: new JetStream(closed) });
    expect(await r.relayOnce()).toMatchObject({ claimed: 4, sent: 0, failed: 4 });
    expect(errors.map((e) => e.code)).toEqual(["CATGA_CLOSED"]);
    expect((await states(list)).every((row) => !row.sent && row.last_error?.startsWith("CATGA_CLOSED"))).toBe(
      true,
    );
    await pool.query(`UPDATE ${table} SET sent_at = now() WHERE message_id = ANY($1)`, [
      list.map((m) => m.messageId),
    ]);
    await s.stop();
  });

  it("treats a publish that hangs past publishTimeoutMs as failed", async () => {
    const s = await stream();
    const list = messages(s.subject, 2);
    await outbox.addMany(pool, list);
    const hanging: DurablePublisher = { publish: () => new Promise(() => {}) };
    const { relay: r, errors } = relay({ publisher: hanging, publishTimeoutMs: 100 });
    expect(await r.relayOnce()).toMatchObject({ claimed: 2, failed: 2 });
    expect(errors[0]!.code).toBe("CATGA_TIMEOUT");
    await pool.query(`UPDATE ${table} SET sent_at = now() WHERE message_id = ANY($1)`, [
      list.map((m) => m.messageId),
    ]);
    await s.stop();
  });

  it("counts a failed row's backoff from when it failed, not from when its slow publish began", async () => {
    const s = await stream();
    const list = messages(s.subject, 1);
    await outbox.addMany(pool, list);
    const hanging: DurablePublisher = { publish: () => new Promise(() => {}) };
    // The publish hangs for 600 ms; the backoff (400 ms) would already be over at COMMIT if it
    // were counted from the claim.
    const { relay: r } = relay({ publisher: hanging, publishTimeoutMs: 600, retryBaseMs: 400 });
    expect(await r.relayOnce()).toMatchObject({ claimed: 1, failed: 1 });
    expect(await r.relayOnce()).toMatchObject({ claimed: 0 });
    await pool.query(`UPDATE ${table} SET sent_at = now() WHERE message_id = ANY($1)`, [
      list.map((m) => m.messageId),
    ]);
    await s.stop();
  });

  it("reports a database that is down with CATGA_STORE_FAILED; the rows stay pending", async () => {
    const s = await stream();
    const list = messages(s.subject, 10);
    await outbox.addMany(pool, list);
    const dead = await deadPool();
    const errors: CatgaError[] = [];
    const r = new OutboxRelay({
      pool: dead,
      publisher: js,
      schema,
      pollIntervalMs: 20,
      onError: (e) => errors.push(e),
    });
    await expectCode(r.relayOnce(), "CATGA_STORE_FAILED", "connect");
    await r.start(); // LISTEN fails too; the loop keeps trying
    await eventually(() => errors.length >= 3, 10_000, "repeated store errors");
    await r.stop();
    await dead.end();
    expect(errors.every((e) => e.code === "CATGA_STORE_FAILED")).toBe(true);
    expect(errors.some((e) => e.message.includes("listen failed"))).toBe(true);
    expect(r.lastError?.code).toBe("CATGA_STORE_FAILED");
    expect((await states(list)).every((row) => !row.sent && row.attempts === 0)).toBe(true);
    await sleep(100);
    expect(s.seen.size).toBe(0);
    // Back on a live database, the same rows go out.
    const { relay: live } = relay();
    await live.relayOnce();
    await eventually(() => s.seen.size === 10, 10_000, "10 deliveries");
    await s.stop();
  });

  it("absorbs a crash between publish and mark: rows are republished and deduplicated by messageId", async () => {
    const s = await stream();
    const list = messages(s.subject, 50);
    await outbox.addMany(pool, list);
    // The database connection dies right after the publish, before the rows are marked.
    let killed = false;
    const killing: DurablePublisher = {
      async publish(items) {
        const outcomes = await js.publish(items);
        if (!killed) {
          killed = true;
          await pool.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND query LIKE '%FOR UPDATE SKIP LOCKED%' AND application_name = $1",
            [schema],
          );
        }
        return outcomes;
      },
    };
    const { relay: r } = relay({ publisher: killing });
    await expectCode(r.relayOnce(), "CATGA_STORE_FAILED", "mark sent");
    expect((await states(list)).every((row) => !row.sent)).toBe(true);
    expect(await r.relayOnce()).toEqual({ claimed: 50, sent: 50, duplicates: 50, failed: 0 });
    await eventually(() => s.seen.size === 50, 10_000, "50 deliveries");
    await sleep(200);
    expect([...s.seen.values()].every((count) => count === 1)).toBe(true);
    await s.stop();
  });

  it("two relays on 2,000 rows inserted while they run: every messageId published exactly once", async () => {
    const s = await stream();
    const list = messages(s.subject, 2000);
    const pools = [newPool(4), newPool(4)] as const;
    const a = relay({ pool: pools[0], batchSize: 64, pollIntervalMs: 20 });
    const b = relay({ pool: pools[1], batchSize: 64, pollIntervalMs: 20 });
    await Promise.all([a.relay.start(), b.relay.start()]);
    for (let i = 0; i < list.length; i += 100) await outbox.addMany(pool, list.slice(i, i + 100));
    await eventually(async () => (await states(list)).every((row) => row.sent), 30_000, "all rows sent");
    await Promise.all([a.relay.stop(), b.relay.stop()]);
    await Promise.all(pools.map((p) => p.end()));
    await eventually(() => s.seen.size === 2000, 10_000, "2000 deliveries");
    await sleep(200);
    expect([...s.seen.values()].every((count) => count === 1)).toBe(true);
    expect(a.relay.stats.sent + b.relay.stats.sent).toBe(2000);
    expect(a.relay.stats.duplicates + b.relay.stats.duplicates).toBe(0);
    expect(a.relay.stats.sent).toBeGreaterThan(0);
    expect(b.relay.stats.sent).toBeGreaterThan(0); // both took a share
    expect([...a.errors, ...b.errors]).toEqual([]);
    await s.stop();
  });

  it("wakes on LISTEN/NOTIFY: low latency with a 60 s poll interval", async () => {
    const s = await stream();
    const { relay: r, errors } = relay({ pollIntervalMs: 60_000 });
    await r.start();
    await sleep(100); // the first pass found nothing; the relay now sleeps for a minute
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [m] = messages(s.subject, 1);
      const started = performance.now();
      await outbox.add(pool, m!);
      // Polling sleeps for a minute: delivery within these 5 s means NOTIFY woke the relay.
      await eventually(() => s.seen.has(m!.messageId), 5000, "notified delivery");
      latencies.push(performance.now() - started);
    }
    await r.stop();
    expect(errors).toEqual([]);
    expect(latencies).toHaveLength(5);
    await s.stop();
  });

  it("survives losing its LISTEN connection: reports it, listens again, and is woken again", async () => {
    const s = await stream();
    const { relay: r, errors } = relay({ pollIntervalMs: 60_000 });
    await r.start();
    const { rows } = await pool.query(
      "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND application_name = $1",
      [schema],
    );
    expect(rows.length).toBeGreaterThanOrEqual(1);
    await eventually(() => errors.some((e) => e.message.includes("listen failed")), 5000, "listen error");
    expect(errors.every((e) => e.code === "CATGA_STORE_FAILED")).toBe(true);
    await sleep(1500); // re-LISTEN after 1 s
    const [m] = messages(s.subject, 1);
    const started = performance.now();
    await outbox.add(pool, m!);
    // Polling sleeps for a minute: delivery within these 5 s means the new LISTEN woke the relay.
    await eventually(() => s.seen.has(m!.messageId), 5000, "delivery after re-LISTEN");
    expect(performance.now() - started).toBeLessThan(5000);
    await r.stop();
    await s.stop();
  });

  it("stop() lets the batch in progress finish and mark its rows", async () => {
    const s = await stream();
    const list = messages(s.subject, 20);
    await outbox.addMany(pool, list);
    let entered!: () => void;
    const inPublish = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const slow: DurablePublisher = {
      async publish(items) {
        entered();
        await sleep(300);
        return js.publish(items);
      },
    };
    const { relay: r } = relay({ publisher: slow, pollIntervalMs: 10 });
    await r.start();
    await inPublish;
    await r.stop();
    expect(r.isRunning).toBe(false);
    expect((await states(list)).every((row) => row.sent)).toBe(true);
    await s.stop();
  });

  it("deletes sent rows past the retention, never pending ones", async () => {
    const s = await stream();
    const old = messages(s.subject, 3);
    const fresh = messages(s.subject, 2);
    const waiting = messages(`nowhere${streams}`, 1);
    await outbox.addMany(pool, [...old, ...fresh]);
    const { relay: r } = relay({ cleanupSentOlderThanMs: 60_000 });
    await r.relayOnce();
    await outbox.addMany(pool, waiting);
    await pool.query(
      `UPDATE ${table} SET sent_at = now() - interval '2 minutes' WHERE message_id = ANY($1)`,
      [old.map((m) => m.messageId)],
    );
    await pool.query(`UPDATE ${table} SET created_at = now() - interval '1 day' WHERE message_id = ANY($1)`, [
      waiting.map((m) => m.messageId),
    ]);
    expect(await r.cleanup()).toBe(3);
    expect((await states([...old, ...fresh, ...waiting])).map((row) => row.message_id)).toEqual(
      [...fresh, ...waiting].map((m) => m.messageId),
    );
    await pool.query(`UPDATE ${table} SET sent_at = now() WHERE message_id = ANY($1)`, [
      waiting.map((m) => m.messageId),
    ]);
    await s.stop();
  });

  it("rejects bad options with one CatgaConfigError listing every problem", () => {
    let error: unknown;
    try {
      new OutboxRelay({
        pool,
        publisher: {} as never,
        batchSize: 0,
        pollIntervalMs: -1,
        cleanupSentOlderThanMs: Number.NaN,
        schema: "",
        batchsize: 5,
        retryBaseMs: 5_000,
        retryMaxMs: 10,
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CatgaConfigError);
    const issues = (error as CatgaConfigError).issues.map((i) => i.path);
    expect(issues.sort()).toEqual(
      [
        "outboxRelay.batchSize",
        "outboxRelay.batchsize",
        "outboxRelay.cleanupSentOlderThanMs",
        "outboxRelay.pollIntervalMs",
        "outboxRelay.publisher",
        "outboxRelay.retryBaseMs",
        "outboxRelay.schema",
      ].sort(),
    );
    expect((error as CatgaConfigError).code).toBe("CATGA_CONFIG");
    // Infinity keeps sent rows forever; channel false polls only.
    expect(
      () => new OutboxRelay({ pool, publisher: js, cleanupSentOlderThanMs: Infinity, channel: false }),
    ).not.toThrow();
    // withOutboxTransaction: a work that is not a function, a misspelt option, an outbox that is not one.
    const refused = (run: () => Promise<unknown>) =>
      run().then(
        () => [] as string[],
        (e: unknown) => (e as CatgaConfigError).issues.map((i) => i.path).sort(),
      );
    return Promise.all([
      refused(() => withOutboxTransaction(pool, 5 as never)),
      refused(() => withOutboxTransaction(pool, async () => 1, { bogus: 1 } as never)),
      refused(() => withOutboxTransaction(pool, async () => 1, { outbox: 5 } as never)),
    ]).then((found) =>
      expect(found).toEqual([
        ["withOutboxTransaction.work"],
        ["withOutboxTransaction.bogus"],
        ["withOutboxTransaction.outbox"],
      ]),
    );
  });

  it("reports a stalled database (bytes held, no reset) as CATGA_STORE_FAILED naming the step, then resumes", async () => {
    const s = await stream();
    const proxy = await StallProxy.start(Number(new URL(PG_URL).port || 5432));
    const stalling = new pg.Pool({ connectionString: PG_URL.replace(/:\d+\//, `:${proxy.port}/`), max: 4 });
    stalling.on("error", () => {});
    const errors: CatgaError[] = [];
    const r = new OutboxRelay({
      pool: stalling,
      publisher: js,
      schema,
      channel: false,
      pollIntervalMs: 50,
      queryTimeoutMs: 1000,
      onError: (e) => errors.push(e),
    });
    await r.start();
    const first = messages(s.subject, 3);
    await outbox.addMany(pool, first);
    await eventually(() => first.every((m) => s.seen.has(m.messageId)), 10_000, "delivery before the stall");
    // Marked sent too: the relay is between passes when the connection stalls.
    await eventually(
      async () => (await states(first)).every((row) => row.sent),
      10_000,
      "first rows marked sent",
    );
    proxy.stall();
    const during = messages(s.subject, 3);
    await outbox.addMany(pool, during);
    await eventually(() => errors.some((e) => e.code === "CATGA_STORE_FAILED"), 10_000, "the stall reported");
    const stall = errors.find((e) => e.code === "CATGA_STORE_FAILED")!;
    expect(stall.message).toMatch(/no answer within 1000 ms/);
    // A new pass meets the stall at its start.
    expect((stall.details as { store: string; operation: string }).operation).toMatch(
      /^(connect|begin|claim)$/,
    );
    expect(during.every((m) => !s.seen.has(m.messageId))).toBe(true);
    proxy.resume();
    await eventually(() => during.every((m) => s.seen.has(m.messageId)), 15_000, "delivery after the stall");
    // Marked after they are published: wait for it, it is not at once.
    await eventually(async () => (await states(during)).every((row) => row.sent), 10_000, "rows marked sent");
    await r.stop();
    await stalling.end();
    await proxy.close();
    await s.stop();
  });
});
