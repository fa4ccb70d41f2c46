import { afterAll, describe, expect, it } from "vitest";
import { NatsConnection } from "../../ts/entries/nats.js";
import { NatsKvSagaStore } from "../../ts/entries/persistence.js";
import { CatgaConfigError } from "../../ts/index.js";
import { NATS_URL, outageConnection, PrivateNats, uniquePrefix } from "../nats/helpers.js";
import { eventually } from "../persistence/helpers.js";
import { host, PlaceOrder, services } from "./fixtures.js";
import { describeSagaStoreContract } from "./store-contract.js";

// The contract the in-memory and PostgreSQL stores pass, against real NATS KV buckets: on the
// shared server (a bucket per test), and on private servers stopped and started by PID.
const connection = NatsConnection.connect({ servers: NATS_URL });
const buckets: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
const bucketName = () => {
  const name = uniquePrefix("saga").replaceAll(".", "_");
  buckets.push(name);
  return name;
};

afterAll(async () => {
  const nats = await connection;
  for (const name of buckets) await nats.native.deleteStream(`KV_${name}`).catch(() => undefined);
  for (const cleanup of cleanups) await cleanup();
  await nats.close();
});

/** A file-backed bucket on a private server, so what it stored survives a stop and start. */
async function privateStore() {
  const server = await PrivateNats.start();
  const own = await outageConnection(server, 2000);
  cleanups.push(async () => {
    await own.close().catch(() => undefined);
    await server.dispose();
  });
  return {
    store: new NatsKvSagaStore({ connection: own, bucket: "sagas" }),
    stop: () => server.stop(),
    start: () => server.start(),
  };
}

describeSagaStoreContract(
  "NATS KV",
  async () => new NatsKvSagaStore({ connection: await connection, bucket: bucketName(), storage: "memory" }),
  {
    down: async () => {
      const { store, stop } = await privateStore();
      await store.get("order", "warm-up");
      await stop();
      return store;
    },
    outage: privateStore,
  },
);

describe("NatsKvSagaStore", () => {
  it("bad and unknown options are one CatgaConfigError", async () => {
    const nats = await connection;
    let error: unknown;
    try {
      new NatsKvSagaStore({
        connection: nats,
        bucket: "bad.name",
        storage: "disk",
        maxListedInstances: 0,
        extra: 1,
      } as never);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(CatgaConfigError);
    const message = (error as Error).message;
    for (const field of ["bucket", "storage", "maxListedInstances", "extra"])
      expect(message).toContain(field);
    expect(() => new NatsKvSagaStore({} as never)).toThrow(/connection/);
  });

  it("refuses a saga or id that is not a KV key token with CATGA_INVALID_ARGUMENT", async () => {
    const store = new NatsKvSagaStore({
      connection: await connection,
      bucket: bucketName(),
      storage: "memory",
    });
    await expect(store.get("order", "a.b")).rejects.toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
    await expect(store.get("ord er", "a")).rejects.toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
    await expect(store.list({ saga: "x>" })).rejects.toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
  });

  it("lists more instances than one page, and refuses past maxListedInstances with CATGA_LIMIT", async () => {
    const nats = await connection;
    const bucket = bucketName();
    const store = new NatsKvSagaStore({ connection: nats, bucket, storage: "memory" });
    const ids = Array.from({ length: 30 }, (_, i) => `i${String(i).padStart(3, "0")}`);
    for (const id of ids)
      await store.insert({
        saga: "many",
        id,
        status: Number(id.slice(1)) % 3 === 0 ? "failed" : "completed",
        step: 0,
        revision: 1,
        state: {},
        progress: { startedAt: 1, done: [] },
        updatedAt: 1,
      });
    const failed = await store.list({ saga: "many", status: "failed", limit: 4, after: "i003" });
    expect(failed.map((i) => i.id)).toEqual(["i006", "i009", "i012", "i015"]);
    const small = new NatsKvSagaStore({
      connection: nats,
      bucket,
      storage: "memory",
      maxListedInstances: 10,
    });
    await expect(small.list({ saga: "many" })).rejects.toMatchObject({ code: "CATGA_LIMIT" });
  });
});

describe("the engine on NATS KV", () => {
  it("completes one order and compensates another", async () => {
    const store = new NatsKvSagaStore({
      connection: await connection,
      bucket: bucketName(),
      storage: "memory",
    });
    const s = services();
    s.captureInline = true;
    const { catga } = host(s, store);
    await catga.send(PlaceOrder, { orderId: "kv1", amount: 5 });
    await eventually(async () => (await store.get("order", "kv1"))?.status === "completed");
    s.fail.ship = 1;
    await catga.send(PlaceOrder, { orderId: "kv2", amount: 5 });
    await eventually(async () => (await store.get("order", "kv2"))?.status === "compensated");
    expect(await store.get("order", "kv1")).toMatchObject({ state: { trackingId: "t-kv1", paidAt: 42 } });
    expect((await store.list({ saga: "order" })).map((i) => i.status)).toEqual(["completed", "compensated"]);
  });
});
