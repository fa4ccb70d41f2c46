import { afterAll, describe, expect, it } from "vitest";
import { isolatedRun, runExample } from "./helpers.js";

// Each run gets its own NATS prefix (so its own streams) and its own PostgreSQL schema, removed
// afterwards, so runs side by side on the machine's servers never see each other's messages.
const { env, cleanup } = isolatedRun("ex");
afterAll(cleanup);

describe("examples on the machine's NATS and PostgreSQL", { timeout: 60_000 }, () => {
  it("request-reply: a second process answers over NATS, domain codes cross, a gone service is NO_HANDLER", async () => {
    const result = await runExample("request-reply", env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines).toEqual([
      "quote: 1350 cents, served by the pricing process",
      "unknown sku: PRICING_UNKNOWN_SKU",
      "service stopped: CATGA_NO_HANDLER",
    ]);
  });

  it("durable-scheduling: stored, deduplicated, answered, delayed and cancelled on JetStream", async () => {
    const result = await runExample("durable-scheduling", env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines).toEqual([
      "stored: new",
      "stored again: duplicate",
      "result: captured p-2",
      "reminder: delivered after its 300 ms delay",
      "in a minute: pending",
      "after cancel: gone",
    ]);
  });

  it("outbox: a failed handler leaves neither row nor event; a committed event is relayed to JetStream", async () => {
    const result = await runExample("outbox", env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines).toEqual([
      "broken order: CATGA_HANDLER_FAILED; rows: 0; events pending: 0",
      "placed: order row and event committed",
      "shipping: got orders.placed for lamp",
      "relay: 1 sent, 0 pending",
    ]);
  });

  it("exactly-once: redelivered and concurrent duplicates apply each deposit once", async () => {
    const result = await runExample("exactly-once", env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines).toEqual([
      "attempt 1: crashed after its UPDATE, so the UPDATE rolls back",
      "delivery 1: balance 500",
      "delivery 2: balance 500",
      "delivery 3: balance 500",
      "concurrent duplicates answered: 750, 750, 750",
      "balance in PostgreSQL: 750",
    ]);
  });

  it("cluster: one owner per account, a new leader after a SIGKILL, only the dead instance's accounts move", async () => {
    const result = await runExample("cluster", env);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const [up, first, killed, second, overlaps] = result.lines;
    expect(up).toMatch(/^3 instances up; leader of nightly-report: [abc]$/);
    expect(first).toMatch(/^600 deposits over 30 accounts: owners .*; one owner per account: true$/);
    expect(killed).toMatch(/^leader [abc] killed with SIGKILL; [abc] elected /);
    expect(second).toMatch(
      /^600 more: owners [abc] \d+, [abc] \d+; moved \d+ of 30 accounts \(the \d+ the dead instance owned: true\)$/,
    );
    expect(overlaps).toBe("deposits of one account running at once: 0");
  });
});

describe("examples whose server is down", { timeout: 60_000 }, () => {
  // Port 1 on loopback: nothing listens, so the connection is refused at once.
  it.each(["request-reply", "durable-scheduling", "outbox", "cluster"])(
    "%s names NATS and how to start it",
    async (name) => {
      const result = await runExample(name, { ...env, NATS_URL: "nats://127.0.0.1:1" });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("This example needs NATS at nats://127.0.0.1:1");
      expect(result.stderr).toContain("bash scripts/services.sh");
    },
  );

  it.each(["outbox", "exactly-once"])("%s names PostgreSQL and how to start it", async (name) => {
    const result = await runExample(name, { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/test" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("This example needs PostgreSQL at postgres://postgres@127.0.0.1:1/test");
  });
});
