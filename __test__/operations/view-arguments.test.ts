import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { inboxStatus, listSagaInstances, outboxBacklog, sagaCounts } from "../../ts/entries/operations.js";
import { CatgaError, ErrorCodes } from "../../ts/index.js";
import { PG_URL } from "../persistence/helpers.js";

// The operator views refuse a wrong call with CATGA_INVALID_ARGUMENT naming the field, before any
// query: a number where the pool goes used to surface as CATGA_STORE_FAILED ("pool.query is not a
// function"), and a misspelt option was ignored.
const pool = new pg.Pool({ connectionString: PG_URL });
afterAll(() => pool.end());

async function refusal(
  call: () => Promise<unknown>,
): Promise<{ code: string; field: unknown; message: string }> {
  const error = await Promise.resolve()
    .then(call)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(CatgaError);
  const coded = error as CatgaError;
  return { code: coded.code, field: (coded.details as { field?: unknown })?.field, message: coded.message };
}

describe("operator views: argument checks", () => {
  it("outboxBacklog names a pool that is not one and a misspelt or bad option", async () => {
    expect(await refusal(() => outboxBacklog(5 as never))).toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      field: "pool",
    });
    expect(await refusal(() => outboxBacklog(undefined as never))).toMatchObject({ field: "pool" });
    const misspelt = await refusal(() => outboxBacklog(pool, { limt: 5 } as never));
    expect(misspelt).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, field: "options.limt" });
    expect(misspelt.message).toContain("expected one of: schema, limit");
    expect(await refusal(() => outboxBacklog(pool, { limit: 5000 }))).toMatchObject({
      field: "options.limit",
    });
    expect(await refusal(() => outboxBacklog(pool, "public" as never))).toMatchObject({ field: "options" });
    expect(await refusal(() => inboxStatus({} as never))).toMatchObject({ field: "pool" });
    expect(await refusal(() => inboxStatus(pool, { keyprefix: "once:" } as never))).toMatchObject({
      field: "options.keyprefix",
    });
    expect(await refusal(() => inboxStatus(pool, { keyPrefix: "" }))).toMatchObject({
      field: "options.keyPrefix",
    });
  });

  it("sagaCounts and listSagaInstances name a bad source, location or query", async () => {
    expect(await refusal(() => sagaCounts(5 as never))).toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      field: "source",
    });
    expect(await refusal(() => sagaCounts(pool, { tabel: "x" } as never))).toMatchObject({
      field: "location.tabel",
    });
    expect(await refusal(() => listSagaInstances(pool, null as never))).toMatchObject({ field: "query" });
    expect(await refusal(() => listSagaInstances(pool, { status: "failed" } as never))).toMatchObject({
      field: "saga",
    });
    expect(await refusal(() => listSagaInstances(42 as never, { saga: "order" }))).toMatchObject({
      field: "source",
    });
    expect(
      await refusal(() => listSagaInstances(pool, { saga: "order" }, { schema: "" } as never)),
    ).toMatchObject({ field: "location.schema" });
  });

  it("still reads a real store once the call is right", async () => {
    const schema = `opviews_${process.pid}`;
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.query(`CREATE SCHEMA ${schema}`);
    try {
      // No tables yet: a store failure, coded as such (not an argument problem).
      expect(await refusal(() => outboxBacklog(pool, { schema }))).toMatchObject({
        code: ErrorCodes.STORE_FAILED,
      });
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});
