// The docs' ```sql blocks, run by the test database (lint needs no services, so this is not in
// scripts/check-docs.mjs): each in a transaction and a schema of its own, rolled back.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_URL, uniqueName } from "../persistence/helpers.js";

interface Block {
  readonly line: number;
  readonly body: string[];
}
interface Entry {
  readonly rel: string;
  readonly block: Block;
  readonly check: string;
}

const root = resolve(fileURLToPath(import.meta.url), "../../..");
// Computed specifiers: the scripts are plain JavaScript without declarations.
const script = (path: string) => pathToFileURL(join(root, "scripts", path)).href;
const { docBlocks } = (await import(script("check-docs.mjs"))) as { docBlocks(): Entry[] };
const { codeBlocks } = (await import(script("docs/markdown.mjs"))) as { codeBlocks(text: string): Block[] };
const { sqlProblems } = (await import(script("docs/sql.mjs"))) as {
  sqlProblems(
    query: (text: string) => Promise<unknown>,
    blocks: Entry[],
    schemaPrefix: string,
  ): Promise<string[]>;
};

let client: pg.Client;
const query = (text: string) => client.query(text);

beforeAll(async () => {
  client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
});
afterAll(() => client.end());

describe("sql blocks", () => {
  it("runs every sql block of README.md and docs/ in PostgreSQL without a refusal", async () => {
    const blocks = docBlocks().filter((entry) => entry.check === "sql");
    expect(blocks.map((entry) => entry.rel)).toContain("docs/architecture/cluster.md");
    expect(await sqlProblems(query, blocks, uniqueName("docs"))).toEqual([]);
  });

  it("reports each refused statement at its line, keeps going, and leaves nothing behind", async () => {
    const rel = "__test__/docs/fixtures/sql.md";
    const blocks = codeBlocks(readFileSync(join(root, rel), "utf8")).map((block) => ({
      rel,
      block,
      check: "sql",
    }));
    const prefix = uniqueName("docs");
    expect(await sqlProblems(query, blocks, prefix)).toEqual([
      `${rel}:12: column "tokn" does not exist`,
      `${rel}:19: relation "docs_fixture_fences" does not exist`,
    ]);
    const left = await client.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", [`${prefix}%`]);
    expect(left.rows).toEqual([]);
    const table = await client.query("SELECT to_regclass('docs_fixture_fences') AS name");
    expect(table.rows).toEqual([{ name: null }]);
  });
});
