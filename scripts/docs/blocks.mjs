// What each code block of the docs is checked as, from its language tag, its markers and the
// words after the tag (docs/CONTRIBUTING-docs.md). Every block has a language, and every
// language but `text` has a check.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./root.mjs";

/** Language tag → the check it gets. */
export const LANGUAGES = new Map([
  ["ts", "typescript"],
  ["typescript", "typescript"],
  ["js", "javascript"],
  ["sh", "shell"],
  ["bash", "shell"],
  ["json", "json"],
  // Prepared by PostgreSQL in __test__/docs/sql-blocks.test.ts: lint needs no services.
  ["sql", "sql"],
  // Program output, diagrams, trees: nothing to check.
  ["text", "none"],
  // Markdown source shown on a page: the blocks inside it are checked (markdown.mjs, codeBlocks).
  ["md", "markdown"],
]);
const TAGS = [...LANGUAGES.keys()].join(", ");
const MARKERS = ["continues", "context", "file"];
/** Checks that read the `continues` and `context` markers. */
const MODULE_CHECKS = new Set(["typescript", "javascript"]);

/**
 * Decides how each block of a page is checked: returns `{ block, check }` for the blocks to check
 * (not ignored, not a copy of a file), and pushes every mistake (no language, an unknown one, a
 * marker that means nothing there, an ignore without a reason) to `problems` as "file:line: …".
 */
export function triage(rel, blocks, problems) {
  const checked = [];
  for (const block of blocks) {
    const where = `${rel}:${block.line - 1}`;
    for (const marker of block.markers) {
      if (!MARKERS.includes(marker.kind))
        problems.push(`${rel}:${marker.line}: unknown snippet marker "${marker.kind}"`);
    }
    const copyOf = block.markers.find((marker) => marker.kind === "file");
    if (copyOf) {
      checkCopy(rel, block, copyOf, problems);
      continue;
    }
    const check = LANGUAGES.get(block.lang);
    if (check === undefined) {
      problems.push(
        block.lang === ""
          ? `${where}: a code block without a language; tag it (${TAGS})`
          : `${where}: unknown language "${block.lang}"; use one of ${TAGS}`,
      );
      continue;
    }
    if (!MODULE_CHECKS.has(check) && block.markers.some((marker) => MARKERS.includes(marker.kind)))
      problems.push(`${where}: a snippet marker above a block that is not type-checked`);
    if (block.info.startsWith("ignore")) {
      if (check === "none") problems.push(`${where}: a text block is not checked, so it needs no "ignore"`);
      else if (!/^ignore\s*[-—:]?\s*\S/.test(block.info)) problems.push(`${where}: "ignore" needs a reason`);
      continue;
    }
    if (block.info) problems.push(`${where}: unknown words after the language: "${block.info}"`);
    checked.push({ block, check });
  }
  return checked;
}

/**
 * A block marked `<!-- snippet: file <path> -->` must be that file (a runnable example that a test
 * runs), with its `../dist/<entry>.js` imports written as the package's public names.
 */
function checkCopy(rel, block, marker, problems) {
  const path = marker.code.join("").trim();
  const absolute = join(root, path);
  if (!path || !existsSync(absolute)) {
    problems.push(`${rel}:${marker.line}: "file" names no file of the repository: "${path}"`);
    return;
  }
  const publicNames = (text) =>
    text
      .replace(/(["'])(?:\.\.\/)+dist\/index\.js\1/g, '"@catga/native"')
      .replace(/(["'])(?:\.\.\/)+dist\/([\w-]+)\.js\1/g, '"@catga/native/$2"')
      .trim();
  if (publicNames(readFileSync(absolute, "utf8")) !== block.body.join("\n").trim()) {
    problems.push(`${rel}:${block.line - 1}: the block differs from ${path}, which it says it is`);
  }
}
