import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  MIGRATIONS,
  migrate,
  PostgresIdempotencyStore,
  PostgresOutbox,
} from "../../ts/entries/persistence.js";
import { expectCode } from "./contract.js";
import { deadPool, dropSchema, newPool, PG_URL, uniqueName } from "./helpers.js";

const pool = newPool();
const schemas: string[] = [];
function schema(name: string): string {
  const s = uniqueName(name);
  schemas.push(s);
  return s;
}
afterAll(async () => {
  for (const s of schemas) await dropSchema(pool, s);
  await pool.end();
});

async function columns(s: string, table: string): Promise<Record<string, string>> {
  const { rows } = await pool.query(
    "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
    [s, table],
  );
  return Object.fromEntries(
    rows.map((r) => [r.column_name, `${r.data_type}${r.is_nullable === "YES" ? "?" : ""}`]),
  );
}

describe("migrate", () => {
  it("ships the same SQL as sql/*.sql, numbered from 1 without gaps", () => {
    const dir = join(import.meta.dirname, "../../sql");
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".sql"))
      .sort();
    expect(MIGRATIONS.map((m) => m.file)).toEqual(files);
    MIGRATIONS.forEach((m, i) => {
      expect(m.version).toBe(i + 1);
      expect(m.file.startsWith(String(m.version).padStart(3, "0"))).toBe(true);
      expect(m.sql).toBe(readFileSync(join(dir, m.file), "utf8"));
    });
  });

  it("creates the schema and tables once; a second run applies nothing", async () => {
    const s = schema("mig");
    expect(await migrate(pool, { schema: s })).toEqual({ applied: [1, 2, 3, 4, 5], version: 5 });
    expect(await migrate(pool, { schema: s })).toEqual({ applied: [], version: 5 });
    expect(await columns(s, "catga_outbox")).toEqual({
      id: "bigint",
      message_id: "text",
      subject: "text",
      envelope: "bytea",
      created_at: "timestamp with time zone",
      sent_at: "timestamp with time zone?",
      attempts: "integer",
      last_error: "text?",
      next_attempt_at: "timestamp with time zone",
    });
    expect(await columns(s, "catga_inbox")).toEqual({
      key: "text",
      outcome: "bytea?", // NULL: the row is a claim (migration 4)
      owner: "text?",
      expires_at: "timestamp with time zone",
    });
    expect(await columns(s, "catga_saga")).toEqual({
      saga: "text",
      id: "text",
      status: "text",
      step: "integer",
      revision: "bigint",
      state: "jsonb",
      progress: "jsonb",
      created_at: "timestamp with time zone",
      updated_at: "timestamp with time zone",
    });
    const { rows } = await pool.query(
      `SELECT version, name FROM "${s}".catga_schema_migrations ORDER BY version`,
    );
    expect(rows).toEqual([
      { version: 1, name: "catga_outbox" },
      { version: 2, name: "catga_inbox" },
      { version: 3, name: "catga_outbox_due" },
      { version: 4, name: "catga_inbox_claims" },
      { version: 5, name: "catga_saga" },
    ]);
  });

  it("is safe when several instances migrate at once", async () => {
    const s = schema("race");
    const results = await Promise.all(Array.from({ length: 4 }, () => migrate(pool, { schema: s })));
    expect(results.flatMap((r) => r.applied).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(results.every((r) => r.version === 5)).toBe(true);
  });

  it("refuses a database migrated by a newer build", async () => {
    const s = schema("newer");
    await migrate(pool, { schema: s });
    await pool.query(`INSERT INTO "${s}".catga_schema_migrations (version, name) VALUES (99, 'future')`);
    const error = await expectCode(migrate(pool, { schema: s }), "CATGA_CONFIG");
    expect(error.message).toContain("version 99");
  });

  it("rolls back completely when a migration fails", async () => {
    const s = schema("partial");
    await pool.query(`CREATE SCHEMA "${s}"; CREATE TABLE "${s}".catga_inbox (x int)`); // migration 2 will collide
    const error = await expectCode(migrate(pool, { schema: s }), "CATGA_STORE_FAILED", "migrate");
    expect(String((error.cause as Error).message)).toContain("already exists");
    const { rows } = await pool.query("SELECT to_regclass($1) AS t", [`"${s}".catga_outbox`]);
    expect(rows[0].t).toBeNull(); // migration 1 did not stay behind
  });

  it("without a schema option uses the connection's search_path, and so do the stores", async () => {
    const s = schema("path");
    await pool.query(`CREATE SCHEMA "${s}"`);
    const scoped = new pg.Pool({ connectionString: PG_URL, max: 2, options: `-c search_path=${s}` });
    try {
      expect(await migrate(scoped)).toEqual({ applied: [1, 2, 3, 4, 5], version: 5 });
      const { rows } = await pool.query("SELECT to_regclass($1) AS t", [`"${s}".catga_outbox`]);
      expect(rows[0].t).not.toBeNull();
      const outbox = new PostgresOutbox();
      expect(
        await outbox.add(scoped, { subject: "a.b", messageId: "m1", envelope: new Uint8Array([1]) }),
      ).toBe(true);
      expect(await outbox.pending(scoped)).toBe(1);
      const store = new PostgresIdempotencyStore({ pool: scoped });
      await store.set("k", { value: 1 }, 60_000);
      expect(await store.get("k")).toEqual({ value: 1 });
    } finally {
      await scoped.end();
    }
  });

  it("reports a database that is down as CATGA_STORE_FAILED", async () => {
    const dead = await deadPool();
    await expectCode(migrate(dead, { schema: "x" }), "CATGA_STORE_FAILED", "connect");
    await dead.end();
  });

  it("refuses a misspelt or invalid option, or a pool that is not one, before touching the database", async () => {
    const pool = newPool();
    try {
      const typo = await expectCode(migrate(pool, { schem: "x" } as never), "CATGA_CONFIG");
      expect(typo.message).toContain("migrate.schem: unknown option");
      await expectCode(migrate(pool, "x" as never), "CATGA_CONFIG", "options must be an object");
      await expectCode(migrate(pool, { schema: "" }), "CATGA_CONFIG", "migrate.schema");
      await expectCode(migrate({} as never, { schema: "x" }), "CATGA_CONFIG", "migrate.pool");
      // Nothing was created in the connection's schema by any of them.
      const { rows } = await pool.query(
        "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'x'",
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await pool.end();
    }
  });
});
