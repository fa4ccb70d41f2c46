import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, PostgresSagaStore } from "../../ts/entries/persistence.js";
import { CatgaConfigError, InMemorySagaStore } from "../../ts/index.js";
import { deadPool, dropSchema, eventually, newPool, uniqueName } from "../persistence/helpers.js";
import { host, PlaceOrder, services } from "./fixtures.js";
import { describeSagaStoreContract } from "./store-contract.js";

describeSagaStoreContract("in memory", async () => new InMemorySagaStore());

const pool = newPool(12);
const schema = uniqueName("saga");
let tables = 0;
beforeAll(() => migrate(pool, { schema }));
afterAll(async () => {
  await dropSchema(pool, schema);
  await pool.end();
});

describeSagaStoreContract(
  "PostgreSQL",
  async () => {
    // A fresh table per test, shaped by the migration.
    const table = `saga_${++tables}`;
    await pool.query(`CREATE TABLE "${schema}".${table} (LIKE "${schema}".catga_saga INCLUDING ALL)`);
    return new PostgresSagaStore({ pool, schema, table });
  },
  { down: async () => new PostgresSagaStore({ pool: await deadPool(), queryTimeoutMs: 5_000 }) },
);

describe("PostgresSagaStore options", () => {
  it("bad and unknown options are one CatgaConfigError", () => {
    expect(
      () => new PostgresSagaStore({ pool: {} as never, table: "", queryTimeoutMs: -1, extra: 1 } as never),
    ).toThrow(CatgaConfigError);
  });
});

describe("the engine on PostgreSQL", () => {
  it("completes one order and compensates another, state kept in catga_saga", async () => {
    const store = new PostgresSagaStore({ pool, schema });
    const s = services();
    s.captureInline = true;
    const { catga } = host(s, store);
    await catga.send(PlaceOrder, { orderId: "pg1", amount: 5 });
    await eventually(async () => (await store.get("order", "pg1"))?.status === "completed");
    s.fail.ship = 1;
    await catga.send(PlaceOrder, { orderId: "pg2", amount: 5 });
    await eventually(async () => (await store.get("order", "pg2"))?.status === "compensated");
    const done = await store.get("order", "pg1");
    expect(done).toMatchObject({ status: "completed", state: { trackingId: "t-pg1", paidAt: 42 } });
    expect(s.calls.filter((c) => c.includes(":pg2:")).map((c) => c.split(" ")[0])).toEqual([
      "reserve",
      "charge",
      "ship",
      "refund",
      "release",
    ]);
    const { rows } = await pool.query(
      `SELECT status, step, revision FROM "${schema}".catga_saga ORDER BY id`,
    );
    expect(rows.map((r) => r.status)).toEqual(["completed", "compensated"]);
  });
});
