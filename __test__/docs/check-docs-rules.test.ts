// scripts/check-docs.mjs run on the pages in __test__/docs/fixtures/, as `npm run lint` runs it
// on README.md and docs/: each rule fires on a mistake, at the mistake's line, and the correct
// blocks beside it pass (every fixture page holds both).
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, run } from "../../ts/operations/cli/main.js";

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

  it("checks that shell blocks name scripts, CLI commands and options, and files that exist", () => {
    const commands =
      "dlq list, dlq inspect, dlq replay, dlq purge, dlq counts, outbox, inbox, sagas list, cluster members";
    expect(problemsOf("shell.md")).toEqual([
      `${fixtures}/shell.md:21: npm script "dmeo" is not in package.json`,
      `${fixtures}/shell.md:22: "catga dlq lsit" is not a CLI command (${commands})`,
      `${fixtures}/shell.md:23: "catga outbox" has no option --saga`,
      `${fixtures}/shell.md:24: examples/nowhere.mjs is not a file of the repository`,
      `${fixtures}/shell.md:25: scripts/nowhere.sh is not a file of the repository`,
      `${fixtures}/shell.md:25: "catga dlq replay" has no option --limit`,
    ]);
  });

  it("type-checks js blocks in the same program, without asking for types", () => {
    expect(problemsOf("javascript.md")).toEqual([
      `${fixtures}/javascript.md:19: TS2551: Property 'bulid' does not exist on type 'CatgaBuilder<never, never, never>'. Did you mean 'build'?`,
    ]);
  });
});

describe("check-docs reads the CLI's own command table", () => {
  const io = { out: () => {}, err: () => {}, errIsTty: false, env: {} };

  it("finds every command, each of which the CLI runs (its --help), and the CLI refuses others", async () => {
    const { cliTable } = (await import(pathToFileURL(join(root, "scripts", "docs", "shell.mjs")).href)) as {
      cliTable(): { commands: Map<string, Set<string>> };
    };
    const commands = [...cliTable().commands.keys()];
    expect(commands).toContain("dlq list");
    for (const command of commands) expect(await run([...command.split(" "), "--help"], io)).toBe(EXIT.ok);
    expect(await run(["dlq", "lsit"], io)).toBe(EXIT.usage);
  });
});
