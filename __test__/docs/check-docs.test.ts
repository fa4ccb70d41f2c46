// The parts of scripts/check-docs.mjs that decide what a docs block means (markers, modules) and
// where a link may point (GitHub's heading anchors). `npm run lint` runs the whole script on the
// real docs; these pin down its rules on small pages.
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

interface Marker {
  readonly kind: string;
  readonly code: string[];
  readonly line: number;
}
interface Block {
  readonly lang: string;
  readonly info: string;
  readonly line: number;
  readonly body: string[];
  readonly markers: Marker[];
}
interface Module {
  readonly lines: string[];
  readonly origin: string[];
}
interface CheckDocs {
  parse(text: string): { blocks: Block[]; prose: { text: string; line: number }[] };
  headingAnchors(markdown: string): Set<string>;
  snippetModules(rel: string, blocks: Block[], problems: string[]): Module[];
}

const root = resolve(fileURLToPath(import.meta.url), "../../..");
// Computed specifiers: the scripts are plain JavaScript without declarations.
const script = (name: string) => pathToFileURL(join(root, "scripts", "docs", name)).href;
const { parse } = (await import(script("markdown.mjs"))) as Pick<CheckDocs, "parse">;
const { headingAnchors } = (await import(script("links.mjs"))) as Pick<CheckDocs, "headingAnchors">;
const { snippetModules } = (await import(script("snippets.mjs"))) as Pick<CheckDocs, "snippetModules">;

function modulesOf(page: string) {
  const problems: string[] = [];
  const modules = snippetModules("docs/page.md", parse(page).blocks, problems);
  return { modules, problems };
}

describe("check-docs: blocks", () => {
  it("joins a block marked continues to the one before, and puts hidden context before a block", () => {
    const page = [
      "```ts",
      "const a = 1;",
      "```",
      "",
      "<!-- snippet: continues -->",
      "<!-- snippet: context",
      "declare const b: number;",
      "-->",
      "```ts",
      "const c = a + b;",
      "```",
      "```ts",
      "const a = 2;",
      "```",
    ].join("\n");
    const { modules, problems } = modulesOf(page);
    expect(problems).toEqual([]);
    expect(modules.map((m) => m.lines)).toEqual([
      ["const a = 1;", "declare const b: number;", "const c = a + b;"],
      ["const a = 2;"],
    ]);
    expect(modules[0]?.origin).toEqual([
      "docs/page.md:2",
      "docs/page.md:6 (hidden context)",
      "docs/page.md:10",
    ]);
  });

  it("checks only ts blocks, skips ignore with a reason, and reports marker mistakes", () => {
    const page = [
      "<!-- snippet: continues -->",
      "```ts",
      "x;",
      "```",
      "```ts ignore",
      "y;",
      "```",
      "```ts ignore: pseudo-code",
      "z;",
      "```",
      "<!-- snippet: contineus -->",
      "```sh",
      "npm test",
      "```",
    ].join("\n");
    const { modules, problems } = modulesOf(page);
    expect(modules.map((m) => m.lines)).toEqual([["x;"]]);
    expect(problems).toEqual([
      // a block's problems point at its opening fence, a marker's at the marker
      'docs/page.md:2: "continues" with no block before it',
      'docs/page.md:5: "ignore" needs a reason',
      'docs/page.md:11: unknown snippet marker "contineus"',
      "docs/page.md:12: a snippet marker above a block that is not checked",
    ]);
  });

  it("keeps a fenced block whole when it shows another fence, and leaves code out of the prose", () => {
    const { blocks, prose } = parse(
      ["````md", "```ts", "[not a link](nowhere.md)", "```", "````", "after"].join("\n"),
    );
    expect(blocks).toHaveLength(1);
    expect(blocks[0]?.lang).toBe("md");
    expect(prose.map((p) => p.text)).toEqual(["after"]);
  });
});

describe("check-docs: anchors", () => {
  it("slugs headings as GitHub does: lower case, punctuation and code marks dropped, repeats numbered", () => {
    const anchors = headingAnchors(
      [
        "# Durable commands",
        "## Exactly once (with PostgreSQL): `exactlyOnce`",
        "## HTTP edge: Fastify + an in-process command vs bare Fastify (issue 19, load part a)",
        "### Per-key order",
        "### Per-key order",
        "```sh",
        "# not a heading",
        "```",
      ].join("\n"),
    );
    expect([...anchors]).toEqual([
      "durable-commands",
      "exactly-once-with-postgresql-exactlyonce",
      "http-edge-fastify--an-in-process-command-vs-bare-fastify-issue-19-load-part-a",
      "per-key-order",
      "per-key-order-1",
    ]);
  });
});
