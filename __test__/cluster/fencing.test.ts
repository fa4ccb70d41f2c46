import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fencedWrite, fenceTableSql } from "../../ts/entries/cluster.js";
import { ErrorCodes } from "../../ts/index.js";
import { newPool, uniqueName } from "../persistence/helpers.js";

const pool = newPool(6);
const fences = uniqueName("fences");
const rows = uniqueName("rows");
const options = { table: fences };
const insert = (token: number) => (client: { query(text: string, values?: unknown[]): Promise<unknown> }) =>
  client.query(`INSERT INTO ${rows} (token) VALUES ($1)`, [token]);

beforeAll(async () => {
  await pool.query(fenceTableSql(options));
  await pool.query(`CREATE TABLE ${rows} (token bigint NOT NULL)`);
});
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${fences}, ${rows}`);
  await pool.end();
});

describe("fencedWrite", () => {
  it("accepts equal or higher tokens and refuses lower ones without running the work", async () => {
    expect(await fencedWrite(pool, "a", 5, insert(5), options)).toEqual({
      accepted: true,
      value: expect.anything(),
    });
    expect((await fencedWrite(pool, "a", 5, insert(5), options)).accepted).toBe(true);
    expect(await fencedWrite(pool, "a", 4, insert(4), options)).toEqual({ accepted: false, highestToken: 5 });
    expect((await fencedWrite(pool, "a", 9, insert(9), options)).accepted).toBe(true);
    expect(await fencedWrite(pool, "a", 5, insert(5), options)).toEqual({ accepted: false, highestToken: 9 });
    // Resources are fenced apart.
    expect((await fencedWrite(pool, "b", 1, async () => "ok", options)).accepted).toBe(true);
    const { rows: written } = await pool.query(`SELECT token::int AS token FROM ${rows} ORDER BY token`);
    expect(written.map((r: { token: number }) => r.token)).toEqual([5, 5, 9]);
  });

  it("rolls the fence back with the work when the work throws", async () => {
    const boom = new Error("boom");
    await expect(
      fencedWrite(
        pool,
        "c",
        50,
        async () => {
          throw boom;
        },
        options,
      ),
    ).rejects.toBe(boom);
    // 50 was not recorded: a lower token still passes.
    expect((await fencedWrite(pool, "c", 10, async () => 1, options)).accepted).toBe(true);
  });

  it("lets only the higher of two concurrent writers win once it committed", async () => {
    const outcomes = await Promise.all([
      fencedWrite(pool, "d", 20, async () => 20, options),
      fencedWrite(pool, "d", 21, async () => 21, options),
    ]);
    // Either order is possible; the lower token is accepted only if it committed first.
    const accepted = outcomes.filter((o) => o.accepted).map((o) => (o.accepted ? o.value : 0));
    expect(accepted).toContain(21);
    expect((await fencedWrite(pool, "d", 20, async () => 20, options)).accepted).toBe(false);
  });

  it("rejects a missing resource, a bad token and a bad table with CATGA_INVALID_ARGUMENT", async () => {
    for (const [resource, token, table] of [
      ["", 1, fences],
      [undefined, 1, fences],
      ["r", -1, fences],
      ["r", 1.5, fences],
      ["r", undefined, fences],
      ["r", 1, 'x"; DROP'],
    ] as const) {
      await expect(
        fencedWrite(pool, resource as never, token as never, async () => 1, { table }),
      ).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    }
    // Found from outside: these were a TypeError, STORE_FAILED, or silently accepted.
    const named = (field: string) =>
      expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT, details: { field } });
    await expect(fencedWrite(pool, "r", 1, "work" as never, options)).rejects.toEqual(named("work"));
    await expect(fencedWrite(null as never, "r", 1, async () => 1, options)).rejects.toEqual(named("pool"));
    await expect(fencedWrite(pool, "r", 1, async () => 1, { tabel: fences } as never)).rejects.toEqual(
      named("options.tabel"),
    );
  });

  it("fails with CATGA_STORE_FAILED, pointing at fenceTableSql, when the fence table does not exist", async () => {
    const missing = uniqueName("nofence");
    let ran = false;
    const error = await fencedWrite(
      pool,
      "r",
      1,
      async () => {
        ran = true;
      },
      { table: missing },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCodes.STORE_FAILED,
      message: expect.stringContaining("fenceTableSql"),
    });
    expect(ran).toBe(false);
  });
});
