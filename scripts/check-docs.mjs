#!/usr/bin/env node
// Keeps the Markdown honest (docs/CONTRIBUTING-docs.md):
// 1. every code block in README.md and docs/**/*.md names a language the check knows, and gets
//    that language's check (scripts/docs/blocks.mjs);
// 2. ```ts and ```js blocks are type-checked against the package's public entry points, all
//    blocks in one TypeScript program (scripts/docs/snippets.mjs);
//    ```json blocks parse (scripts/docs/json.mjs); ```sh blocks name scripts, CLI commands and
//    files that exist (scripts/docs/shell.mjs); ```sql blocks are run in PostgreSQL by a test
//    instead, since lint needs no services (scripts/docs/sql.mjs);
// 3. every relative link in the repository's Markdown resolves, anchors included
//    (scripts/docs/links.mjs).
// `npm run lint` runs it. The entry points map to their sources (ts/index.ts, ts/entries/*.ts),
// not to dist/, so the check needs no build and always sees the current API.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { triage } from "./docs/blocks.mjs";
import { jsonProblems } from "./docs/json.mjs";
import { checkLinks } from "./docs/links.mjs";
import { codeBlocks } from "./docs/markdown.mjs";
import { root } from "./docs/root.mjs";
import { shellContext, shellProblems } from "./docs/shell.mjs";
import { snippetModules, typeCheck } from "./docs/snippets.mjs";

const SKIP_DIRS = new Set([
  "node_modules",
  ".git",
  "target",
  "dist",
  "build",
  "reports",
  ".stryker-tmp",
  "api",
]);

function* markdownFiles(dir) {
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name) && dir === root) continue;
    if (name === "node_modules" || name === ".git") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* markdownFiles(path);
    else if (name.endsWith(".md")) yield path;
  }
}

/** A Markdown file as the checks take it: its path from the root ("/"-separated) and its text. */
function page(file) {
  return { rel: relative(root, file).split(sep).join("/"), text: readFileSync(file, "utf8") };
}

/** Whether a page's code blocks are checked: README.md and docs/ (other pages only for links). */
function hasCheckedBlocks(rel) {
  return rel === "README.md" || rel.startsWith("docs/");
}

/**
 * Checks the code blocks of `blockPages` and the links of `linkPages` ({ rel, text }), writing the
 * type-checked modules to `snippetDir`. Returns every problem found ("file:line: what") and counts.
 */
export function checkDocs({ blockPages, linkPages, snippetDir }) {
  const problems = [];
  const links = checkLinks(root, linkPages, problems);
  const modules = [];
  const shell = shellContext();
  for (const { rel, text } of blockPages) {
    const checked = triage(rel, codeBlocks(text), problems);
    modules.push(...snippetModules(rel, checked, problems));
    for (const { block, check } of checked) {
      if (check === "json") jsonProblems(rel, block, problems);
      if (check === "shell") shellProblems(rel, block, shell, problems);
    }
  }
  typeCheck(modules, snippetDir, problems);
  return { problems: [...new Set(problems)], snippets: modules.length, links };
}

/**
 * The blocks of README.md and docs/ that get a check, each `{ rel, block, check }`, for the checks
 * that need services and so run as tests (__test__/docs/sql-blocks.test.ts); lint reports mistakes.
 */
export function docBlocks() {
  const ignored = [];
  return [...markdownFiles(root)]
    .map(page)
    .filter(({ rel }) => hasCheckedBlocks(rel))
    .flatMap(({ rel, text }) => triage(rel, codeBlocks(text), ignored).map((entry) => ({ rel, ...entry })));
}

function main() {
  const started = performance.now();
  const all = [...markdownFiles(root)].map(page);
  const { problems, snippets, links } = checkDocs({
    blockPages: all.filter(({ rel }) => hasCheckedBlocks(rel)),
    linkPages: all,
    snippetDir: join(root, "build", "doc-snippets"),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    console.error(
      `\ncheck-docs: ${problems.length} problem(s) in ${all.length} Markdown files (${seconds} s)`,
    );
    process.exit(1);
  }
  console.log(
    `check-docs: ${snippets} TypeScript and JavaScript snippets and ${links} links in ${all.length} files are fine (${seconds} s)`,
  );
}

// Run as a script (npm run docs:snippets); imported, it only lends its parts (__test__/docs).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
