// The `catga` CLI as a user runs it: `node dist/cli.js …` in a child process (dist/ is built by
// `npm run test:ts` before the tests, as for the other worker processes), output and exit codes.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { natsTransport } from "../../ts/entries/nats.js";
import {
  migrate,
  outboxEvent,
  PostgresIdempotencyStore,
  PostgresOutbox,
  PostgresSagaStore,
} from "../../ts/entries/persistence.js";
import { CatgaError, createCatga, defineCommand, defineEvent, silentLogger } from "../../ts/index.js";
import { run } from "../../ts/operations/cli/main.js";
import type { NatsTransport } from "../../ts/transport/nats-transport.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";
import { dropSchema, eventually, newPool, PG_URL, uniqueName } from "../persistence/helpers.js";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const Refund = defineCommand("billing.refund").payload<{ orderId: string }>().returns<void>().durable();
const Shipped = defineEvent("orders.shipped").payload<{ orderId: string }>();

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function catga(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, CATGA_NATS_URL: NATS_URL, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function json(run: Run): unknown {
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
}

function billing(transport: NatsTransport) {
  return createCatga({ logger: silentLogger, transport })
    .handle(Refund, ({ orderId }) => {
      if (failing) throw new CatgaError("REFUNDS_CLOSED", "refunds are closed");
      refunded.push(orderId);
    })
    .build();
}

const prefix = uniquePrefix("cli");
const schema = uniqueName("cli");
const pool = newPool(2);
let transport: NatsTransport;
let app: ReturnType<typeof billing>;
let failing = true;
const refunded: string[] = [];

beforeAll(async () => {
  transport = await natsTransport({
    servers: NATS_URL,
    service: "billing",
    prefix,
    durableCommands: {
      provision: { storage: "memory" },
      consumer: { maxDeliver: 1, fetchWaitMs: 100 },
    },
  });
  app = billing(transport);
  await transport.ready();
  await migrate(pool, { schema });
}, 60_000);

afterAll(async () => {
  const js = new JetStream(transport.connection);
  const base = prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase();
  for (const name of ["COMMANDS", "COMMANDS_DLQ", "COMMANDS_RESULTS"])
    await js.deleteStream(`${base}_${name}`).catch(() => false);
  await app.close();
  await dropSchema(pool, schema);
  await pool.end();
});

describe("catga CLI", () => {
  it("lists, inspects and replays a dead letter with --json, and the handler gets it", async () => {
    for (const orderId of ["o-1", "o-2", "o-3"])
      expect((await app.send(Refund, { orderId }, { messageId: `refund-${orderId}` })).ok).toBe(true);
    const common = ["--prefix", prefix, "--json"];
    await eventually(
      async () => (json(await catga(["dlq", "counts", ...common])) as { total: number }).total === 3,
      20_000,
      "three dead letters",
    );

    const page = json(await catga(["dlq", "list", ...common])) as {
      items: { id: string; messageId: string; errorCode: string; deliveries: number; kind: string }[];
    };
    expect(page.items.map((d) => d.messageId)).toEqual(["refund-o-1", "refund-o-2", "refund-o-3"]);
    expect(page.items.every((d) => d.errorCode === "REFUNDS_CLOSED" && d.deliveries === 1)).toBe(true);
    expect(page.items.every((d) => d.kind === "command")).toBe(true);

    const first = page.items[0]!.id;
    const letter = json(await catga(["dlq", "inspect", first, ...common])) as Record<string, unknown>;
    expect(letter).toMatchObject({
      id: first,
      type: "billing.refund",
      messageId: "refund-o-1",
      errorMessage: "refunds are closed",
      body: { orderId: "o-1" },
    });

    // The readable table has a header row and one row per dead letter.
    const table = await catga(["dlq", "list", "--prefix", prefix]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+TYPE\s+MESSAGE ID\s+CODE/);
    expect(table.stdout).toContain("refund-o-2");

    failing = false;
    const one = json(await catga(["dlq", "replay", first, ...common])) as {
      replayed: unknown[];
      failed: unknown[];
    };
    expect(one).toEqual({
      replayed: [{ id: first, messageId: "refund-o-1", type: "billing.refund" }],
      failed: [],
    });
    await eventually(() => refunded.includes("o-1"), 15_000, "the replayed command");

    const rest = json(await catga(["dlq", "replay", "--all", ...common])) as {
      replayed: { messageId: string }[];
    };
    expect(rest.replayed.map((r) => r.messageId).sort()).toEqual(["refund-o-2", "refund-o-3"]);
    await eventually(() => refunded.length === 3, 15_000, "every replayed command");
    expect(refunded.sort()).toEqual(["o-1", "o-2", "o-3"]);
    expect(json(await catga(["dlq", "counts", ...common]))).toMatchObject({ total: 0 });
  }, 90_000);

  it("purges by filter", async () => {
    failing = true;
    expect((await app.send(Refund, { orderId: "o-4" }, { messageId: "refund-o-4" })).ok).toBe(true);
    const common = ["--prefix", prefix, "--json"];
    await eventually(
      async () => (json(await catga(["dlq", "counts", ...common])) as { total: number }).total === 1,
      20_000,
      "the dead letter",
    );
    expect(json(await catga(["dlq", "purge", "--code", "REFUNDS_CLOSED", ...common]))).toEqual({ purged: 1 });
    expect(json(await catga(["dlq", "list", ...common]))).toEqual({ items: [] });
    failing = false;
  }, 60_000);

  it("reports progress on stderr while replaying more than one batch", async () => {
    failing = true;
    const ids = Array.from({ length: 70 }, (_, i) => `bulk-${i}`);
    for (const orderId of ids)
      expect((await app.send(Refund, { orderId }, { messageId: orderId })).ok).toBe(true);
    const common = ["--prefix", prefix, "--json"];
    await eventually(
      async () => (json(await catga(["dlq", "counts", ...common])) as { total: number }).total === 70,
      30_000,
      "70 dead letters",
    );
    failing = false;
    // In process, as the bin runs it, with stderr a log (not a terminal): a line per batch.
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(["dlq", "replay", "--type", "billing.refund", ...common], {
      out: (text) => out.push(text),
      err: (text) => err.push(text),
      errIsTty: false,
      env: { CATGA_NATS_URL: NATS_URL },
    });
    expect(code).toBe(0);
    expect(err).toEqual(["replayed 64 (64 found so far)\n", "replayed 70/70\n"]);
    expect((JSON.parse(out.join("")) as { replayed: unknown[] }).replayed).toHaveLength(70);
    await eventually(() => ids.every((id) => refunded.includes(id)), 30_000, "every bulk replay handled");
  }, 90_000);

  it("shows the outbox backlog, the inbox and saga instances from PostgreSQL", async () => {
    await new PostgresOutbox({ schema }).add(
      pool,
      outboxEvent(
        Shipped,
        { orderId: "o-7" },
        { subject: `${prefix}.evt.orders.shipped`, messageId: "ship-7" },
      ),
    );
    const inbox = new PostgresIdempotencyStore({ pool, schema });
    await inbox.set("orders:handled-1", { value: 1 }, 60_000);
    await inbox.claim("orders:running-2", "worker-a", 60_000);
    const now = Date.now();
    await new PostgresSagaStore({ pool, schema }).insert({
      saga: "checkout",
      id: "c-1",
      status: "failed",
      step: 1,
      revision: 1,
      state: {},
      progress: { startedAt: now, done: [], error: { code: "PAYMENT_DECLINED", message: "declined" } },
      updatedAt: now,
    });
    const pg = ["--pg", PG_URL, "--schema", schema, "--json"];

    const backlog = json(await catga(["outbox", ...pg])) as Record<string, unknown>;
    expect(backlog).toMatchObject({ pending: 1, failing: 0, sent: 0 });
    expect(backlog.rows).toMatchObject([{ messageId: "ship-7", type: "orders.shipped", attempts: 0 }]);

    const status = json(await catga(["inbox", ...pg])) as Record<string, unknown>;
    expect(status).toMatchObject({ outcomes: 1, claims: 1, expired: 0 });

    expect(json(await catga(["sagas", "list", ...pg]))).toEqual([
      { saga: "checkout", status: "failed", count: 1, oldestUpdatedAt: expect.any(Number) },
    ]);
    const instances = json(await catga(["sagas", "list", "--saga", "checkout", "--status", "failed", ...pg]));
    expect(instances).toMatchObject([{ id: "c-1", status: "failed" }]);

    // The env var works like --pg, and the readable output names what it shows.
    const text = await catga(["outbox", "--schema", schema], { CATGA_PG_URL: PG_URL });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^pending:\s+1$/m);
  }, 60_000);

  it("fails with clear messages and exit codes scripts can rely on", async () => {
    const usage = await catga(["dlq", "list", "--limit", "many"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--limit must be a whole number");
    expect((await catga(["dlq", "frobnicate"])).code).toBe(2);
    expect((await catga(["dlq", "list", "--bogus"])).code).toBe(2);
    expect((await catga(["dlq", "replay", "--prefix", prefix])).stderr).toContain(
      "by id, by filters, or --all",
    );
    expect((await catga(["dlq", "inspect", "orders-12", "--prefix", prefix])).code).toBe(2);
    expect((await catga(["outbox"], { CATGA_PG_URL: "", DATABASE_URL: "" })).code).toBe(2);
    // A prefix no transport takes: was "no dead letters", exit 0 (found from outside).
    const badPrefix = await catga(["dlq", "list", "--prefix", "a b"]);
    expect(badPrefix.code).toBe(2);
    expect(badPrefix.stderr).toContain("options.prefix");
    expect((await catga(["cluster", "members", "--prefix", "orders.>"])).code).toBe(2);
    // A bucket name no bucket can have is a usage mistake too (was exit 1, found from outside).
    const badBucket = await catga(["sagas", "list", "--kv-bucket", "bad.bucket"]);
    expect(badBucket.code).toBe(2);

    const missing = await catga(["dlq", "inspect", "command:999999", "--prefix", prefix]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("no dead letter has id command:999999");

    const down = await catga(["dlq", "list", "--nats", "nats://127.0.0.1:1"]);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain("cannot connect to NATS at nats://127.0.0.1:1");
    // A value that is no server URL is a usage mistake, not a server that is down (a bare host
    // name is a URL: one that does not resolve is unreachable, 3).
    const notUrl = await catga(["dlq", "counts", "--nats", "not a url"]);
    expect(notUrl.code).toBe(2);
    expect(notUrl.stderr).toContain("--nats not a url: must be a NATS URL");
    const pgDown = await catga(["outbox", "--pg", "postgres://postgres@127.0.0.1:1/test"]);
    expect(pgDown.code).toBe(3);

    for (const command of [
      [],
      ["dlq", "list"],
      ["dlq", "inspect"],
      ["dlq", "replay"],
      ["dlq", "purge"],
      ["outbox"],
      ["inbox"],
      ["sagas", "list"],
    ]) {
      const help = await catga([...command, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: catga /);
    }
  }, 90_000);
});
