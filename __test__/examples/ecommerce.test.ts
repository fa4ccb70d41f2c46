import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { PG_URL } from "../persistence/helpers.js";
import { isolatedRun, runExample } from "./helpers.js";

// The e-commerce example (five service processes, the outbox, the order saga) on the machine's
// NATS and PostgreSQL, with its own prefix and schema, removed afterwards.
const { env, cleanup } = isolatedRun("shop");
afterAll(cleanup);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("ecommerce example", () => {
  it("100 orders through the gateway: each ends once as scripted, compensations undo, ledgers balance", async () => {
    const result = await runExample("ecommerce", env, 120_000);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const { lines } = result;
    expect(lines[0]).toMatch(
      /^up after [\d.]+ s: gateway \d+, orders \d+, payments \d+, inventory \d+, shipping \d+$/,
    );
    expect(lines).toContain(
      "http: 102 orders posted, 100 accepted (202), refused: 400 CATGA_VALIDATION ×1, 422 ORDERS_UNKNOWN_SKU ×1",
    );
    expect(
      lines.some((line) => /^saga: all 100 accepted orders ended [\d.]+ s after the start$/.test(line)),
    ).toBe(true);
    // Declined payment → stock released; shipping failed → refunded and released; out of stock → nothing to undo.
    expect(lines).toContain("  cancelled INVENTORY_OUT_OF_STOCK: 5 (0 stock released, 0 refunded)");
    expect(lines).toContain("  cancelled PAYMENT_DECLINED: 9 (9 stock released, 0 refunded)");
    expect(lines).toContain("  cancelled SHIPPING_UNREACHABLE: 11 (11 stock released, 11 refunded)");
    expect(lines).toContain("  confirmed: 75 (75 shipped)");
    expect(
      lines.some((l) => /^GET \/orders\/o-\d+: 200 .*"status":"confirmed".*"trackingId":"trk-o-\d+"/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => /^GET \/orders\/o-\d+: 200 .*"reason":"SHIPPING_UNREACHABLE"/.test(l))).toBe(
      true,
    );
    expect(lines.some((l) => l.startsWith('GET /orders/o-0: 404 {"type":"about:blank"'))).toBe(true);
    expect(lines).toContain("payments: 86 charges 1663.50, 11 refunds 174.00");
    expect(lines).toContain("stock: lamp 3 → 0, mug 1000 → 917, tea 1000 → 923");
    expect(lines.filter((line) => line.startsWith("ok: "))).toHaveLength(7);
    expect(lines.filter((line) => line.startsWith("BROKEN"))).toEqual([]);
    expect(lines.at(-1)).toBe("stopped 5 processes");
    // Every service process it started is gone.
    const pids = [...(lines[0] ?? "").matchAll(/ (\d+)(,|$)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(5);
    expect(pids.filter(alive)).toEqual([]);
  }, 150_000);

  it("names NATS and how to start it when the server is down", async () => {
    const result = await runExample("ecommerce", { ...env, NATS_URL: "nats://127.0.0.1:1" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("This example needs NATS at nats://127.0.0.1:1");
    expect(result.stderr).toContain("bash scripts/services.sh");
  }, 60_000);
});

// The checks must be able to fail: a database where a compensation went missing breaks them.
describe("ecommerce invariants", () => {
  it("report a cancelled order whose charge was not refunded, and the money that no longer balances", async () => {
    const { resetDatabase } = await import("../../examples/ecommerce/database.js");
    const { checkInvariants } = await import("../../examples/ecommerce/invariants.js");
    const schema = `${env.CATGA_SCHEMA}_broken`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    try {
      await resetDatabase(pool, schema);
      const s = `"${schema}"`;
      await pool.query(`INSERT INTO ${s}.orders (id, customer, sku, qty, amount, status)
        VALUES ('o-1', 'c', 'tea', 1, 450, 'cancelled')`);
      await pool.query(`INSERT INTO ${s}.catga_saga (saga, id, status, step, revision, state, progress, updated_at)
        VALUES ('order', 'o-1', 'compensated', 0, 1, '{}', '{"error":{"code":"SHIPPING_UNREACHABLE"}}', now())`);
      await pool.query(`INSERT INTO ${s}.payments (order_id, kind, amount) VALUES ('o-1', 'charge', 450)`);
      const checks = await checkInvariants(pool, schema, new Map([["o-1", "SHIPPING_UNREACHABLE" as const]]));
      const broken = checks.filter((c) => !c.ok).map((c) => c.text);
      expect(broken).toHaveLength(3);
      expect(broken[0]).toContain("cancelled = every reservation released, every charge refunded");
      expect(broken[0]).toContain("o-1 cancelled 0/0/1/0/0");
      expect(broken[1]).toContain("charged − refunded = total of confirmed orders; broken: 450 − 0 ≠ 0");
      expect(broken[2]).toContain("outbox"); // no OrderPlaced row was written for it
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });
});
