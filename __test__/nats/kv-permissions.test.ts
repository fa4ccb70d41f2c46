import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsConnection } from "../../ts/entries/nats.js";
import { NatsKvIdempotencyStore } from "../../ts/entries/persistence.js";
import { ok } from "../../ts/index.js";
import { PrivateNats } from "./helpers.js";

// Issue 14: a KV call the server refuses (a permissions violation, which NATS reports
// asynchronously and never as a reply) used to wait for its whole timeout. It now fails as soon
// as the refusal arrives, coded CATGA_PERMISSION_DENIED (inside the store's CATGA_STORE_FAILED).
const dir = mkdtempSync(join(tmpdir(), "catga-kvperm-"));
let server: PrivateNats;

beforeAll(async () => {
  const config = join(dir, "server.conf");
  writeFileSync(
    config,
    `jetstream { store_dir: "${join(dir, "js")}" }
authorization {
  users = [
    # Everything but writes to the "locked" bucket, and reads of it (direct gets).
    { user: reader, password: pw, permissions: {
        publish: { deny: ["$KV.locked.>", "$JS.API.DIRECT.GET.KV_locked.>"] } } }
    { user: admin, password: pw }
  ]
}
`,
  );
  server = await PrivateNats.start(["-c", config], false);
});

afterAll(async () => {
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(user: string): Promise<NatsConnection> {
  // A long request timeout: a refusal that were not noticed would show as CATGA_TIMEOUT.
  return NatsConnection.connect({ servers: server.url, user, pass: "pw", requestTimeoutMs: 20_000 });
}

describe("KV calls the server refuses", () => {
  it("fail at once with CATGA_PERMISSION_DENIED naming the subject, writes and reads", async () => {
    const admin = await connect("admin");
    const reader = await connect("reader");
    const options = { bucket: "locked", storage: "memory" as const };
    // The admin creates the bucket and writes a key; the reader may open it but not use it.
    await new NatsKvIdempotencyStore({ connection: admin, ...options }).set("k1", ok("done"), 60_000);
    const store = new NatsKvIdempotencyStore({ connection: reader, ...options });
    const write = await store.set("k2", ok("done"), 60_000).catch((error: unknown) => error);
    expect(write).toMatchObject({
      code: "CATGA_STORE_FAILED",
      details: { transportCode: "CATGA_PERMISSION_DENIED" },
    });
    expect(String((write as Error).message)).toMatch(/publish to "\$KV\.locked\./);
    const read = await store.get("k1").catch((error: unknown) => error);
    expect(read).toMatchObject({
      code: "CATGA_STORE_FAILED",
      details: { transportCode: "CATGA_PERMISSION_DENIED" },
    });
    await Promise.all([admin.close(), reader.close()]);
  });
});
