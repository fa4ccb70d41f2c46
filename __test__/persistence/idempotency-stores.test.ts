import { type Cluster, Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import {
  MIGRATIONS,
  migrate,
  type PgPool,
  type PgQueryable,
  PostgresIdempotencyStore,
  PostgresOutbox,
  type RedisClientLike,
  RedisIdempotencyStore,
  withBatchOps,
} from "../../ts/entries/persistence.js";
import {
  CatgaConfigError,
  createCatga,
  defineCommand,
  InMemoryIdempotencyStore,
  silentLogger,
} from "../../ts/index.js";
import { describeIdempotencyStoreContract, expectCode } from "./contract.js";
import { deadPool, dropSchema, freePort, newPool, PG_URL, REDIS_URL, sleep, uniqueName } from "./helpers.js";
import { StallProxy } from "./stall-proxy.js";

describeIdempotencyStoreContract("in-memory (withBatchOps)", async () =>
  withBatchOps(new InMemoryIdempotencyStore()),
);

// ---------------------------------------------------------------- PostgreSQL
const schema = uniqueName("inbox");
const pool = newPool();
const closers: (() => unknown)[] = [];
beforeAll(async () => {
  await migrate(pool, { schema });
});
afterAll(async () => {
  for (const close of closers) await close();
  await dropSchema(pool, schema);
  await pool.end();
});

describeIdempotencyStoreContract(
  "PostgreSQL",
  // Stores share the run's schema; every contract test uses keys of its own.
  async (limits) => new PostgresIdempotencyStore({ pool, schema, ...limits }),
  {
    validates: true,
    down: async () => {
      const dead = await deadPool();
      closers.push(() => dead.end());
      return new PostgresIdempotencyStore({ pool: dead });
    },
  },
);

// ---------------------------------------------------------------- Redis
const prefix = `${uniqueName("inbox")}:`;
const redis = new Redis(REDIS_URL);
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

async function deadRedis(): Promise<Redis> {
  const dead = new Redis({
    host: "127.0.0.1",
    port: await freePort(),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
  });
  dead.on("error", () => {});
  closers.push(() => dead.disconnect());
  return dead;
}

describeIdempotencyStoreContract(
  "Redis",
  async (limits) => new RedisIdempotencyStore({ client: redis, keyPrefix: prefix, ...limits }),
  {
    validates: true,
    down: async () => new RedisIdempotencyStore({ client: await deadRedis() }),
  },
);

// ---------------------------------------------------------------- store-specific behavior
const Probe = defineCommand("stores.probe").payload<Record<string, never>>().returns<number>();
describe("PostgresIdempotencyStore", () => {
  it("uses the database clock, hides expired rows at once and purges them in bounded batches", async () => {
    const store = new PostgresIdempotencyStore({ pool, schema, purgeBatchSize: 7 });
    const keys = Array.from({ length: 20 }, (_, i) => `purge:${schema}:${i}`);
    await store.setMany(
      keys.map((key) => ({ key, outcome: { value: key } })),
      100,
    );
    await store.set("purge:keep", { value: "keep" }, 60_000);
    await sleep(250);
    const table = `"${schema}".catga_inbox`;
    const before = await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE key LIKE 'purge:%'`);
    expect(before.rows[0].n).toBe(21); // still there, but invisible
    expect(await store.getMany(keys.slice(0, 3))).toEqual([undefined, undefined, undefined]);
    expect(await store.purgeExpired()).toBeGreaterThanOrEqual(20);
    const after = await pool.query(`SELECT key FROM ${table} WHERE key LIKE 'purge:%'`);
    expect(after.rows.map((r) => r.key)).toEqual(["purge:keep"]);
  });

  it("on a schema before migration 4: get/set keep working, claim fails coded and names the migration", async () => {
    const old = uniqueName("inbox_v3");
    await pool.query(`CREATE SCHEMA "${old}"`);
    try {
      await pool.query(`SET search_path TO "${old}"; ${MIGRATIONS[1]!.sql}; RESET search_path`);
      const store = new PostgresIdempotencyStore({ pool, schema: old });
      await store.set("k", { value: 1 }, 60_000);
      expect(await store.get("k")).toEqual({ value: 1 });
      const error = await expectCode(store.claim("other", "o", 1000), "CATGA_STORE_FAILED", "migration 4");
      expect(error.details).toMatchObject({ operation: "claim" });
      // And so the behavior: a failed claim is CATGA_STORE_FAILED, the handler does not run.
      let runs = 0;
      const catga = createCatga({ logger: silentLogger })
        .withIdempotency({ store })
        .handle(Probe, () => ++runs)
        .build();
      const result = await catga.send(Probe, {}, { messageId: "m" });
      expect(result.ok || result.error.code).toBe("CATGA_STORE_FAILED");
      expect(runs).toBe(0);
    } finally {
      await dropSchema(pool, old);
    }
  });

  it("purges on an interval when asked, and close() stops it", async () => {
    const store = new PostgresIdempotencyStore({ pool, schema, purgeIntervalMs: 50 });
    await store.set("interval:gone", { value: 1 }, 20);
    const table = `"${schema}".catga_inbox`;
    const count = async () =>
      (await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE key = 'interval:gone'`)).rows[0].n;
    for (let i = 0; i < 100 && (await count()) > 0; i++) await sleep(20);
    expect(await count()).toBe(0);
    store.close();
  });

  it("reports a failing background purge through onError with a coded error", async () => {
    const dead = await deadPool();
    const errors: Error[] = [];
    const store = new PostgresIdempotencyStore({
      pool: dead,
      purgeIntervalMs: 30,
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 200 && errors.length === 0; i++) await sleep(20);
    store.close();
    await dead.end();
    expect(errors[0]).toMatchObject({ code: "CATGA_STORE_FAILED", details: { operation: "purgeExpired" } });
  });

  it("reports an unreadable stored outcome as CATGA_STORE_FAILED with the decode error as cause", async () => {
    const store = new PostgresIdempotencyStore({ pool, schema });
    await pool.query(
      `INSERT INTO "${schema}".catga_inbox (key, outcome, expires_at) VALUES ('corrupt', '\\x09ff', now() + interval '1 hour')`,
    );
    const error = await expectCode(store.get("corrupt"), "CATGA_STORE_FAILED", "get");
    expect((error.cause as { code?: string }).code).toBe("CATGA_DECODE");
  });

  it("works with a single pg.Client as well as a Pool (typed structurally)", async () => {
    const client: pg.PoolClient = await pool.connect();
    try {
      const store = new PostgresIdempotencyStore({ pool: client, schema });
      await store.set("client:a", { value: [1, 2] }, 60_000);
      expect(await store.get("client:a")).toEqual({ value: [1, 2] });
    } finally {
      client.release();
    }
  });
});

describe("store options", () => {
  it("are checked like the rest of Catga: one CatgaConfigError lists every bad or unknown field", () => {
    const issues = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(CatgaConfigError);
        return (error as CatgaConfigError).issues.map((i) => i.path).sort();
      }
      throw new Error("expected a CatgaConfigError");
    };
    expect(
      issues(
        () =>
          new PostgresIdempotencyStore({
            pool: {} as never,
            maxValueBytes: 0,
            purgeIntervalMs: -5,
            tabel: "x",
          } as never),
      ),
    ).toEqual([
      "postgresIdempotencyStore.maxValueBytes",
      "postgresIdempotencyStore.pool",
      "postgresIdempotencyStore.purgeIntervalMs",
      "postgresIdempotencyStore.tabel",
    ]);
    expect(
      issues(() => new RedisIdempotencyStore({ client: redis, keyPrefix: 7, maxKeyBytes: 1.5 } as never)),
    ).toEqual(["redisIdempotencyStore.keyPrefix", "redisIdempotencyStore.maxKeyBytes"]);
    expect(issues(() => new PostgresOutbox({ schema: "x".repeat(64), maxEnvelopeBytes: -1 }))).toEqual([
      "postgresOutbox.maxEnvelopeBytes",
      "postgresOutbox.schema",
    ]);
  });
});

describe("structural driver types", () => {
  it("accept the real pg and ioredis classes (checked by tsc)", () => {
    expectTypeOf<pg.Pool>().toExtend<PgPool>();
    expectTypeOf<pg.Client>().toExtend<PgQueryable>();
    expectTypeOf<pg.PoolClient>().toExtend<PgQueryable>();
    expectTypeOf<Redis>().toExtend<RedisClientLike>();
    expectTypeOf<Cluster>().toExtend<RedisClientLike>();
  });
});

describe("RedisIdempotencyStore", () => {
  it("stores with PX (Redis expires the key itself)", async () => {
    const store = new RedisIdempotencyStore({ client: redis, keyPrefix: prefix });
    await store.set("px", { value: 1 }, 5000);
    const ttl = await redis.pttl(`${prefix}px`);
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
    await store.set("forever", { value: 1 }, Number.POSITIVE_INFINITY);
    expect(await redis.pttl(`${prefix}forever`)).toBe(-1);
  });

  it("reads through the read client and writes through the primary client", async () => {
    const replica = new Redis(REDIS_URL); // stands in for a replica of the same data
    const down = await deadRedis();
    try {
      const store = new RedisIdempotencyStore({ client: redis, readClient: replica, keyPrefix: prefix });
      await store.set("rr", { value: "via primary" }, 60_000);
      expect(await store.get("rr")).toEqual({ value: "via primary" });
      expect(await store.getMany(["rr", "nope"])).toEqual([{ value: "via primary" }, undefined]);

      // With the read client unreachable, reads fail and writes still work: reads really go there.
      const split = new RedisIdempotencyStore({ client: redis, readClient: down, keyPrefix: prefix });
      await split.set("rr2", { value: 2 }, 60_000);
      await expectCode(split.get("rr2"), "CATGA_STORE_FAILED", "get");
      await expectCode(split.getMany(["rr2"]), "CATGA_STORE_FAILED", "getMany");
      expect(await store.get("rr2")).toEqual({ value: 2 });
    } finally {
      replica.disconnect();
    }
  });
});

describe("PostgresIdempotencyStore on a stalled connection", () => {
  it("fails a call that gets no answer with CATGA_STORE_FAILED naming it, then works again", async () => {
    const proxy = await StallProxy.start(Number(new URL(PG_URL).port || 5432));
    const stalling = new pg.Pool({ connectionString: PG_URL.replace(/:\d+\//, `:${proxy.port}/`), max: 2 });
    stalling.on("error", () => {});
    const store = new PostgresIdempotencyStore({ pool: stalling, schema, queryTimeoutMs: 500 });
    await store.set("stall-1", { value: 1 }, 60_000);
    proxy.stall();
    const error = await expectCode(store.get("stall-1"), "CATGA_STORE_FAILED");
    expect(error.message).toMatch(/get failed: query got no answer within 500 ms/);
    proxy.resume();
    // The stalled connection answers late or is replaced; either way the store works again.
    expect(await store.get("stall-1")).toEqual({ value: 1 });
    await stalling.end();
    await proxy.close();
  });
});
