// scripts/check-docs.mjs run on the pages in __test__/docs/fixtures/, as `npm run lint` runs it
// on README.md and docs/: each rule fires on a mistake, at the mistake's line, and the correct
// blocks beside it pass (every fixture page holds both).
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

interface Page {
  readonly rel: string;
  readonly text: string;
}
interface CheckDocs {
  checkDocs(options: { blockPages: Page[]; linkPages: Page[]; snippetDir: string }): {
    problems: string[];
    snippets: number;
  };
}

const root = resolve(fileURLToPath(import.meta.url), "../../..");
// A computed specifier: the script is plain JavaScript without declarations.
const script = pathToFileURL(join(root, "scripts", "check-docs.mjs")).href;
const { checkDocs } = (await import(script)) as CheckDocs;

const fixtures = "__test__/docs/fixtures";
// Not build/doc-snippets: a lint running meanwhile would remove these files.
const snippetDir = join(root, "build", `doc-snippets-test-${process.pid}`);
let result: ReturnType<CheckDocs["checkDocs"]>;

beforeAll(() => {
  const pages = readdirSync(join(root, fixtures))
    .filter((name) => name.endsWith(".md"))
    .map((name) => ({ rel: `${fixtures}/${name}`, text: readFileSync(join(root, fixtures, name), "utf8") }));
  // One TypeScript program for every page, as in lint; it loads the package's sources.
  result = checkDocs({ blockPages: pages, linkPages: pages, snippetDir });
}, 120_000);

afterAll(() => rmSync(snippetDir, { recursive: true, force: true }));

/** The problems found on one fixture page. */
const problemsOf = (page: string) =>
  result.problems.filter((problem) => problem.startsWith(`${fixtures}/${page}:`));

describe("check-docs on fixture pages", () => {
  it("asks for a language on an untagged block and refuses one it does not know", () => {
    const tags = "ts, typescript, js, sh, bash, json, sql, text, md";
    expect(problemsOf("untagged.md")).toEqual([
      `${fixtures}/untagged.md:3: a code block without a language; tag it (${tags})`,
      `${fixtures}/untagged.md:7: unknown language "yaml"; use one of ${tags}`,
    ]);
  });

  it("type-checks ts blocks against the package's current exports", () => {
    expect(problemsOf("typescript.md")).toEqual([
      `${fixtures}/typescript.md:12: TS2724: '"@catga/native"' has no exported member named 'createCatgo'. Did you mean 'createCatga'?`,
      `${fixtures}/typescript.md:14: TS2322: Type 'string' is not assignable to type 'number'.`,
    ]);
  });

  it("parses json blocks and names the line of the mistake", () => {
    expect(problemsOf("json.md")).toEqual([
      `${fixtures}/json.md:11: invalid JSON: Expected double-quoted property name`,
      `${fixtures}/json.md:18: invalid JSON: Unexpected end of JSON input`,
    ]);
  });

  it("type-checks js blocks in the same program, without asking for types", () => {
    expect(problemsOf("javascript.md")).toEqual([
      `${fixtures}/javascript.md:19: TS2551: Property 'bulid' does not exist on type 'CatgaBuilder<never, never, never>'. Did you mean 'build'?`,
    ]);
  });
});
