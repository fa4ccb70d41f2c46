import { afterAll } from "vitest";
import { NatsConnection, NatsKvIdempotencyStore } from "../../ts/index.js";
import { NATS_URL, PrivateNats, uniquePrefix } from "../nats/helpers.js";
import { describeIdempotencyStoreContract } from "../persistence/contract.js";

// The same contract the in-memory, PostgreSQL and Redis stores pass, against a real NATS KV bucket.
const connection = NatsConnection.connect({ servers: NATS_URL });
const bucket = uniquePrefix("kv").replaceAll(".", "_");
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  const nats = await connection;
  await nats.native.deleteStream(`KV_${bucket}`).catch(() => undefined);
  for (const cleanup of cleanups) await cleanup();
  await nats.close();
});

describeIdempotencyStoreContract(
  "NATS KV",
  async (limits) =>
    new NatsKvIdempotencyStore({ connection: await connection, bucket, storage: "memory", ...limits }),
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
