#!/usr/bin/env node
// Keeps the Markdown honest (docs/CONTRIBUTING-docs.md):
// 1. every ```ts block in README.md and docs/**/*.md is type-checked against the package's
//    public entry points, all blocks in one TypeScript program;
// 2. every relative link in the repository's Markdown resolves, anchors included.
// `npm run lint` runs it. The entry points map to their sources (ts/index.ts, ts/entries/*.ts),
// not to dist/, so the check needs no build and always sees the current API.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ts = createRequire(import.meta.url)("typescript");
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
const CHECKED_LANGS = new Set(["ts", "typescript"]);
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;
const MARKER = /^\s*<!--\s*snippet:\s*([a-z]+)\s*(.*)$/;

function* markdownFiles(dir) {
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name) && dir === root) continue;
    if (name === "node_modules" || name === ".git") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* markdownFiles(path);
    else if (name.endsWith(".md")) yield path;
  }
}

/**
 * Splits a Markdown file into fenced code blocks (with the snippet marker just above each, if
 * any) and prose lines (with their line numbers), so links and headings inside code are ignored.
 */
export function parse(text) {
  const lines = text.split("\n");
  const blocks = [];
  const prose = [];
  let markers = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const open = FENCE.exec(line);
    if (open) {
      const [, , fence, lang, rest] = open;
      const body = [];
      let j = i + 1;
      while (j < lines.length && !lines[j].trim().startsWith(fence)) body.push(lines[j++]);
      blocks.push({ lang: lang.toLowerCase(), info: rest.trim(), line: i + 2, body, markers });
      markers = [];
      i = j;
      continue;
    }
    const mark = MARKER.exec(line);
    if (mark) {
      // A marker runs to its closing "-->"; a context marker's lines in between are code.
      const [, kind, first] = mark;
      const code = [];
      let j = i;
      let tail = first;
      while (!tail.includes("-->") && j + 1 < lines.length) {
        if (tail.trim()) code.push(tail);
        tail = lines[++j];
      }
      const last = tail.slice(0, tail.indexOf("-->"));
      if (last.trim()) code.push(last);
      markers.push({ kind, code, line: i + 1 });
      i = j;
      continue;
    }
    if (line.trim() !== "") markers = [];
    prose.push({ text: line, line: i + 1 });
  }
  return { blocks, prose };
}

// ---------------------------------------------------------------------------------------------
// Code blocks

const problems = [];
const snippetDir = join(root, "build", "doc-snippets");

/**
 * Groups a page's checked blocks into modules (a `continues` block joins the one before), with the
 * page line of every module line; marker mistakes go to `problems`.
 */
export function snippetModules(rel, blocks, problems) {
  const modules = [];
  for (const block of blocks) {
    const where = `${rel}:${block.line - 1}`;
    for (const marker of block.markers) {
      if (!["continues", "context", "file"].includes(marker.kind)) {
        problems.push(`${rel}:${marker.line}: unknown snippet marker "${marker.kind}"`);
      }
    }
    const copyOf = block.markers.find((marker) => marker.kind === "file");
    if (copyOf) {
      checkCopy(rel, block, copyOf, problems);
      continue;
    }
    if (!CHECKED_LANGS.has(block.lang)) {
      if (block.markers.length > 0)
        problems.push(`${where}: a snippet marker above a block that is not checked`);
      continue;
    }
    if (block.info.startsWith("ignore")) {
      if (!/^ignore\s*[-—:]?\s*\S/.test(block.info)) problems.push(`${where}: "ignore" needs a reason`);
      continue;
    }
    if (block.info) problems.push(`${where}: unknown words after the language: "${block.info}"`);
    const continues = block.markers.some((marker) => marker.kind === "continues");
    if (continues && modules.length === 0) problems.push(`${where}: "continues" with no block before it`);
    const module = continues && modules.length > 0 ? modules.at(-1) : { lines: [], origin: [] };
    if (module !== modules.at(-1)) modules.push(module);
    for (const marker of block.markers.filter((m) => m.kind === "context")) {
      marker.code.forEach((code, k) => {
        module.lines.push(code);
        module.origin.push(`${rel}:${marker.line + k} (hidden context)`);
      });
    }
    block.body.forEach((code, k) => {
      module.lines.push(code);
      module.origin.push(`${rel}:${block.line + k}`);
    });
  }
  return modules.map((module, index) => ({ ...module, name: `${rel.replace(/[/.]/g, "_")}_${index}.mts` }));
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

function checkSnippets(files) {
  rmSync(snippetDir, { recursive: true, force: true });
  mkdirSync(snippetDir, { recursive: true });
  const modules = files.flatMap((file) =>
    snippetModules(
      relative(root, file).split(sep).join("/"),
      parse(readFileSync(file, "utf8")).blocks,
      problems,
    ),
  );
  const byPath = new Map();
  for (const module of modules) {
    const path = join(snippetDir, module.name);
    // `export {}` makes a block without imports a module, so blocks never share names.
    writeFileSync(path, `${module.lines.join("\n")}\nexport {};\n`);
    byPath.set(path, module);
  }
  const base = ts.readConfigFile(join(root, "tsconfig.json"), ts.sys.readFile).config.compilerOptions;
  const { options } = ts.convertCompilerOptionsFromJson(
    {
      ...base,
      // Checked as a user's project would be: strict, but without this project's extra
      // noUncheckedIndexedAccess (docs read `items[0].id`, not `items[0]!.id`).
      noUncheckedIndexedAccess: false,
      // The NestJS pages show decorators; Nest needs the legacy ones.
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      paths: { "@catga/native": ["./ts/index.ts"], "@catga/native/*": ["./ts/entries/*.ts"] },
      noEmit: true,
    },
    root,
  );
  // A block that augments a module (`declare module`) changes the types every other block sees,
  // so it gets a program of its own; all other blocks share one.
  const globals = join(root, "docs", "snippets.d.ts");
  const augmenting = (path) => /^\s*declare module\s/m.test(byPath.get(path).lines.join("\n"));
  const groups = [[...byPath.keys()].filter((path) => !augmenting(path))];
  for (const path of byPath.keys()) if (augmenting(path)) groups.push([path]);
  const diagnostics = [];
  let program;
  for (const group of groups) {
    program = ts.createProgram([...group, globals], options, undefined, program);
    diagnostics.push(...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics());
    for (const path of [...group, globals]) {
      const source = program.getSourceFile(path);
      // Only the snippets are checked here: ts/ itself is `tsc -p tsconfig.json`'s job.
      diagnostics.push(...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source));
    }
  }
  for (const d of diagnostics) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n  ");
    const module = d.file && byPath.get(resolve(d.file.fileName));
    if (!module) {
      problems.push(`${d.file ? relative(root, d.file.fileName) : "(options)"}: TS${d.code}: ${message}`);
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    problems.push(`${module.origin[line] ?? `${module.name}:${line + 1}`}: TS${d.code}: ${message}`);
  }
  return modules.length;
}

// ---------------------------------------------------------------------------------------------
// Links

/** GitHub's heading anchors (github-slugger): lower case, punctuation dropped, spaces to "-". */
export function headingAnchors(markdown) {
  const anchors = new Set();
  const seen = new Map();
  for (const { text } of parse(markdown).prose) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const plain = heading[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/<[^>]+>/g, "")
      .replace(/`/g, "");
    const slug = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  for (const [, id] of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(id);
  return anchors;
}

function checkLinks(files) {
  const anchorCache = new Map();
  let count = 0;
  for (const file of files) {
    const rel = relative(root, file).split(sep).join("/");
    for (const { text, line } of parse(readFileSync(file, "utf8")).prose) {
      const outsideCode = text.replace(/`[^`]*`/g, "");
      const targets = [
        ...[...outsideCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)].map((m) => m[1]),
        ...[...outsideCode.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/g)].map((m) => m[1]),
      ];
      for (const target of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        count++;
        const hash = target.indexOf("#");
        const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
        const anchor = hash < 0 ? null : target.slice(hash + 1);
        const resolved = pathPart === "" ? rel : posix.normalize(posix.join(posix.dirname(rel), pathPart));
        const absolute = join(root, pathPart.startsWith("/") ? pathPart.slice(1) : resolved);
        if (!existsSync(absolute)) {
          problems.push(`${rel}:${line}: broken link ${target} (no ${relative(root, absolute)})`);
          continue;
        }
        if (anchor === null || !absolute.endsWith(".md")) continue;
        if (!anchorCache.has(absolute))
          anchorCache.set(absolute, headingAnchors(readFileSync(absolute, "utf8")));
        if (!anchorCache.get(absolute).has(decodeURIComponent(anchor))) {
          problems.push(
            `${rel}:${line}: broken anchor ${target} (no heading "#${anchor}" in ${relative(root, absolute)})`,
          );
        }
      }
    }
  }
  return count;
}

// ---------------------------------------------------------------------------------------------

function main() {
  const started = performance.now();
  const all = [...markdownFiles(root)];
  const withSnippets = all.filter((file) => {
    const rel = relative(root, file).split(sep).join("/");
    return rel === "README.md" || rel.startsWith("docs/");
  });
  const links = checkLinks(all);
  const snippets = checkSnippets(withSnippets);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (problems.length > 0) {
    console.error([...new Set(problems)].join("\n"));
    console.error(
      `\ncheck-docs: ${problems.length} problem(s) in ${all.length} Markdown files (${seconds} s)`,
    );
    process.exit(1);
  }
  console.log(
    `check-docs: ${snippets} TypeScript snippets and ${links} links in ${all.length} files are fine (${seconds} s)`,
  );
}

// Run as a script (npm run docs:snippets); imported, it only lends its parts (__test__/docs).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
