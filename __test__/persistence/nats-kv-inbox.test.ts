import { afterAll, describe, expect, it } from "vitest";
import { NatsConnection } from "../../ts/entries/nats.js";
import { NatsKvIdempotencyStore } from "../../ts/entries/persistence.js";
import { CatgaConfigError } from "../../ts/index.js";
import { fromNativeError } from "../../ts/native/errors.js";
import { NATS_URL, PrivateNats, uniquePrefix } from "../nats/helpers.js";
import { describeIdempotencyStoreContract, expectCode } from "../persistence/contract.js";

// The same contract the in-memory, PostgreSQL and Redis stores pass, against a real NATS KV bucket.
// The contract keeps entries with an Infinity TTL, which only a bucket without a max age can do.
const connection = NatsConnection.connect({ servers: NATS_URL });
const bucket = uniquePrefix("kv").replaceAll(".", "_");
const buckets = [bucket];
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  const nats = await connection;
  for (const name of buckets) await nats.native.deleteStream(`KV_${name}`).catch(() => undefined);
  for (const cleanup of cleanups) await cleanup();
  await nats.close();
});

describeIdempotencyStoreContract(
  "NATS KV",
  async (limits) =>
    new NatsKvIdempotencyStore({
      connection: await connection,
      bucket,
      maxAgeMs: 0,
      storage: "memory",
      ...limits,
    }),
  {
    validates: true,
    // A bucket on a private server that is then stopped: every operation fails fast, coded.
    down: async () => {
      const server = await PrivateNats.start();
      const dead = await NatsConnection.connect({
        servers: server.url,
        whenDisconnected: "reject",
        maxReconnects: 1,
      });
      const store = new NatsKvIdempotencyStore({ connection: dead, bucket: "down", storage: "memory" });
      await store.get("warm-up");
      await server.dispose();
      cleanups.push(() => dead.close().catch(() => undefined));
      return store;
    },
  },
);

describe("NATS KV store options", () => {
  it("rejects bad and unknown options in the constructor, all in one CatgaConfigError", async () => {
    const nats = await connection;
    let error: unknown;
    try {
      new NatsKvIdempotencyStore({
        connection: nats,
        bucket: "bad.name",
        maxAgeMs: -5,
        storage: "disk",
        maxKeyBytes: 0,
        bukket: "x",
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CatgaConfigError);
    const issues = (error as CatgaConfigError).issues;
    expect((error as CatgaConfigError).code).toBe("CATGA_CONFIG");
    expect(issues.map((i) => i.path).sort()).toEqual(
      [
        "natsKvIdempotencyStore.bucket",
        "natsKvIdempotencyStore.bukket",
        "natsKvIdempotencyStore.maxAgeMs",
        "natsKvIdempotencyStore.maxKeyBytes",
        "natsKvIdempotencyStore.storage",
      ].sort(),
    );
    expect(issues.find((i) => i.path.endsWith("bukket"))!.message).toContain("unknown option");
  });

  it("requires a connection and checks maxAgeMs against what JetStream accepts", async () => {
    const nats = await connection;
    const paths = (options: unknown) => {
      try {
        new NatsKvIdempotencyStore(options as never);
      } catch (e) {
        expect(e).toBeInstanceOf(CatgaConfigError);
        return (e as CatgaConfigError).issues.map((i) => i.path);
      }
      return [];
    };
    expect(paths(undefined)).toContain("natsKvIdempotencyStore");
    expect(paths({})).toEqual(["natsKvIdempotencyStore.connection"]);
    expect(paths({ connection: {} })).toEqual(["natsKvIdempotencyStore.connection"]);
    expect(paths({ connection: nats, bucket: "" })).toEqual(["natsKvIdempotencyStore.bucket"]);
    // JetStream refuses a max age under 100 ms, and one over int64 nanoseconds wraps around.
    for (const maxAgeMs of [99, 0.5, 1500.5, Number.NaN, -1, "1000", 9_223_372_036_855, 1e300]) {
      expect(paths({ connection: nats, maxAgeMs }), String(maxAgeMs)).toEqual([
        "natsKvIdempotencyStore.maxAgeMs",
      ]);
    }
    for (const maxAgeMs of [0, Number.POSITIVE_INFINITY, 100, 9_223_372_036_854]) {
      expect(paths({ connection: nats, maxAgeMs, storage: "file" }), String(maxAgeMs)).toEqual([]);
    }
  });
});

describe("NATS KV TTLs the bucket cannot keep", () => {
  const limited = uniquePrefix("kvlim").replaceAll(".", "_");
  buckets.push(limited);

  it("rejects a TTL longer than the bucket's maxAgeMs, or Infinity, naming both", async () => {
    const store = new NatsKvIdempotencyStore({
      connection: await connection,
      bucket: limited,
      maxAgeMs: 1000,
      storage: "memory",
    });
    for (const ttl of [1001, Number.POSITIVE_INFINITY, 1e20]) {
      const error = await expectCode(store.set("a", { value: 1 }, ttl), "CATGA_INVALID_ARGUMENT");
      expect(error.message).toContain(`ttlMs ${ttl}`);
      expect(error.message).toContain("maxAgeMs 1000");
      expect(error.details).toMatchObject({ bucket: limited, ttlMs: ttl, maxAgeMs: 1000 });
      await expectCode(store.setMany([{ key: "b", outcome: { value: 1 } }], ttl), "CATGA_INVALID_ARGUMENT");
    }
    expect(await store.getMany(["a", "b"])).toEqual([undefined, undefined]);
    // Up to maxAgeMs is fine (rounded up first: 999.5 → 1000).
    await store.set("a", { value: "kept" }, 999.5);
    expect(await store.get("a")).toEqual({ value: "kept" });
  });

  it("opening an existing bucket with other settings is refused, never rewrites the bucket", async () => {
    const name = uniquePrefix("kvreopen").replaceAll(".", "_");
    buckets.push(name);
    const nats = await connection;
    const open = (maxAgeMs: number, storage: "memory" | "file" = "memory") =>
      new NatsKvIdempotencyStore({ connection: nats, bucket: name, maxAgeMs, storage });
    const forever = open(0);
    await forever.set("k", { value: 1 }, Number.POSITIVE_INFINITY);
    // Another store asking for a 500 ms limit would cut the first one's entries short if applied.
    for (const other of [open(500), open(0, "file")]) {
      const refused = await expectCode(other.get("k"), "CATGA_STORE_FAILED");
      expect(refused.message).toContain(`KV bucket ${name} exists with maxAgeMs 0 and Memory storage`);
    }
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await forever.get("k")).toEqual({ value: 1 });
    expect(await open(0).get("k")).toEqual({ value: 1 });
  });

  it("the default bucket (24 h) refuses Infinity rather than dropping the entry after a day", async () => {
    const store = new NatsKvIdempotencyStore({ connection: await connection });
    const error = await expectCode(
      store.set("a", { value: 1 }, Number.POSITIVE_INFINITY),
      "CATGA_INVALID_ARGUMENT",
    );
    expect(error.message).toContain("maxAgeMs 86400000");
    await expectCode(store.set("a", { value: 1 }, 86_400_001), "CATGA_INVALID_ARGUMENT");
  });

  it("a huge finite TTL is a coded error, not a RangeError, on an unlimited bucket too", async () => {
    const store = new NatsKvIdempotencyStore({
      connection: await connection,
      bucket,
      maxAgeMs: Number.POSITIVE_INFINITY,
      storage: "memory",
    });
    for (const ttl of [1e20, Number.MAX_VALUE]) {
      await expectCode(store.set("huge", { value: 1 }, ttl), "CATGA_INVALID_ARGUMENT");
      await expectCode(
        store.setMany([{ key: "huge", outcome: { value: 1 } }], ttl),
        "CATGA_INVALID_ARGUMENT",
      );
    }
    await store.set("long", { value: "long" }, 8_000_000_000_000_000);
    await store.set("forever", { value: "forever" }, Number.POSITIVE_INFINITY);
    expect(await store.getMany(["huge", "long", "forever"])).toEqual([
      undefined,
      { value: "long" },
      { value: "forever" },
    ]);
  });
});

describe("NATS KV binding: revision-checked writes (what claims are built on)", () => {
  it("swap writes only at the revision last seen (0 = never written); entry answers value and revision", async () => {
    const nats = await connection;
    const kv = await nats.native.keyValue(bucket, 0, true);
    const key = `swap-${Math.random().toString(36).slice(2, 8)}`;
    expect(await kv.entry(key)).toBeNull();
    const first = await kv.swap(key, Buffer.from("a"), 0);
    expect(first).toBeGreaterThan(0);
    // A second create loses, as does a write at a revision that is no longer the latest.
    expect(await kv.swap(key, Buffer.from("b"), 0)).toBeNull();
    const second = await kv.swap(key, Buffer.from("c"), first!);
    expect(second).toBeGreaterThan(first!);
    expect(await kv.swap(key, Buffer.from("d"), first!)).toBeNull();
    const entry = await kv.entry(key);
    expect(entry!.revision).toBe(second);
    expect(entry!.value.toString()).toBe("c");
  });

  it("refuses a revision that is not a whole number in [0, 2^53), naming it", async () => {
    const nats = await connection;
    const kv = await nats.native.keyValue(bucket, 0, true);
    for (const revision of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      const swapped = kv.swap("k", Buffer.from("x"), revision).catch((thrown: unknown) => {
        throw fromNativeError(thrown); // as every caller of the binding does
      });
      const error = await expectCode(swapped, "CATGA_INVALID_ARGUMENT");
      expect(error.message).toContain("revision");
    }
  });
});
