import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { NatsConnection } from "../../ts/entries/nats.js";
import { listSagaInstances, sagaCounts } from "../../ts/entries/operations.js";
import { NatsKvSagaStore } from "../../ts/entries/persistence.js";
import type { SagaInstance } from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";

// The operator saga views (CLI, dashboard) over a NATS KV saga store, as over PostgreSQL.
const connection = NatsConnection.connect({ servers: NATS_URL });
const bucket = uniquePrefix("opsagas").replaceAll(".", "_");

afterAll(async () => {
  const nats = await connection;
  await nats.native.deleteStream(`KV_${bucket}`).catch(() => undefined);
  await nats.close();
});

function instance(saga: string, id: string, status: SagaInstance["status"], updatedAt: number): SagaInstance {
  return {
    saga,
    id,
    status,
    step: 0,
    revision: 1,
    state: { id },
    progress: { startedAt: updatedAt, done: [] },
    updatedAt,
  };
}

describe("saga views over NATS KV", () => {
  it("counts instances per saga and status with the oldest write, and lists one saga's page", async () => {
    // File storage, the default the CLI opens the bucket with (a bucket is opened with the storage it has).
    const store = new NatsKvSagaStore({ connection: await connection, bucket });
    const rows = [
      instance("order", "o1", "running", 3000),
      instance("order", "o2", "running", 1000),
      instance("order", "o3", "completed", 2000),
      instance("refund", "r1", "compensated", 5000),
    ];
    for (const row of rows) expect(await store.insert(row)).toBe(true);

    expect(await sagaCounts(store)).toEqual([
      { saga: "order", status: "completed", count: 1, oldestUpdatedAt: 2000 },
      { saga: "order", status: "running", count: 2, oldestUpdatedAt: 1000 },
      { saga: "refund", status: "compensated", count: 1, oldestUpdatedAt: 5000 },
    ]);
    const running = await listSagaInstances(store, { saga: "order", status: "running" });
    expect(running.map((each) => each.id)).toEqual(["o1", "o2"]);

    // The same views from the CLI (dist/cli.js, built by `npm run build:ts`).
    const cli = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
    const catga = (...args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          [cli, "sagas", "list", "--nats", NATS_URL, "--kv-bucket", bucket, "--json", ...args],
          (error, out, errors) => (error ? reject(new Error(`${error.message}\n${errors}`)) : resolve(out)),
        ),
      );
    expect(JSON.parse(await catga())).toHaveLength(3);
    expect(JSON.parse(await catga("--saga", "refund"))).toMatchObject([{ id: "r1", status: "compensated" }]);
  });

  it("answers exit 4 for a bucket that does not exist, and creates none", async () => {
    const cli = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
    const missing = `${bucket}_typo`;
    const run = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [cli, "sagas", "list", "--nats", NATS_URL, "--kv-bucket", missing],
        (error, _out, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stderr }),
      ),
    );
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`no NATS KV bucket named ${missing}`);
    const nats = await connection;
    expect(await nats.native.deleteStream(`KV_${missing}`).catch(() => false)).toBe(false);
  });
});
