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
  readonly name: string;
  readonly lines: string[];
  readonly origin: string[];
}
interface Checked {
  readonly block: Block;
  readonly check: string;
}
interface CheckDocs {
  parse(text: string): { blocks: Block[]; prose: { text: string; line: number }[] };
  codeBlocks(text: string): Block[];
  headingAnchors(markdown: string): Set<string>;
  triage(rel: string, blocks: Block[], problems: string[]): Checked[];
  snippetModules(rel: string, checked: Checked[], problems: string[]): Module[];
}

const root = resolve(fileURLToPath(import.meta.url), "../../..");
// Computed specifiers: the scripts are plain JavaScript without declarations.
const script = (name: string) => pathToFileURL(join(root, "scripts", "docs", name)).href;
const { parse, codeBlocks } = (await import(script("markdown.mjs"))) as Pick<
  CheckDocs,
  "parse" | "codeBlocks"
>;
const { triage } = (await import(script("blocks.mjs"))) as Pick<CheckDocs, "triage">;
const { headingAnchors } = (await import(script("links.mjs"))) as Pick<CheckDocs, "headingAnchors">;
const { snippetModules } = (await import(script("snippets.mjs"))) as Pick<CheckDocs, "snippetModules">;

function modulesOf(page: string) {
  const problems: string[] = [];
  const checked = triage("docs/page.md", codeBlocks(page), problems);
  const modules = snippetModules("docs/page.md", checked, problems);
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
      "docs/page.md:7 (hidden context)",
      "docs/page.md:10",
    ]);
  });

  it("makes modules of ts blocks only, skips ignore with a reason, and reports marker mistakes", () => {
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
      "<!-- snippet: continues -->",
      "```text",
      "output",
      "```",
    ].join("\n");
    const { modules, problems } = modulesOf(page);
    expect(modules.map((m) => m.lines)).toEqual([["x;"]]);
    expect(problems).toEqual([
      // a block's problems point at its opening fence, a marker's at the marker
      'docs/page.md:5: "ignore" needs a reason',
      'docs/page.md:11: unknown snippet marker "contineus"',
      "docs/page.md:16: a snippet marker above a block that is not type-checked",
      // modules are made after every block is triaged
      'docs/page.md:2: "continues" with no block before it',
    ]);
  });

  it("makes js blocks modules of their own language, which a ts block cannot continue", () => {
    const page = ["```js", "const a = 1;", "```", "<!-- snippet: continues -->", "```ts", "a;", "```"].join(
      "\n",
    );
    const { modules, problems } = modulesOf(page);
    expect(modules.map((m) => m.name)).toEqual(["docs_page_md_0.mjs", "docs_page_md_1.mts"]);
    expect(problems).toEqual(['docs/page.md:5: "continues" a javascript block, but this one is typescript']);
  });

  it("checks the blocks an md block shows, at their page lines, unless it is ignored", () => {
    const page = [
      "````md",
      "<!-- snippet: context",
      "declare const b: number;",
      "-->",
      "```ts",
      "const c = b;",
      "```",
      "````",
      "````md ignore: shows a mistake",
      "```",
      "untagged",
      "```",
      "````",
    ].join("\n");
    const { modules, problems } = modulesOf(page);
    expect(problems).toEqual([]);
    expect(modules.map((m) => m.origin)).toEqual([["docs/page.md:3 (hidden context)", "docs/page.md:6"]]);
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
