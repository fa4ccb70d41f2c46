// The docs' TypeScript and JavaScript blocks: grouped into modules by their snippet markers and
// type-checked in one program against the package's entry points (docs/CONTRIBUTING-docs.md).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { root } from "./root.mjs";

const ts = createRequire(import.meta.url)("typescript");
/**
 * "Implicitly has an 'any' type" (parameters, variables, binding elements, rest parameters): a
 * JavaScript reader writes no types, so in a js block these are not mistakes. Wrong names, wrong
 * arguments and wrong imports still are.
 */
const IMPLICIT_ANY = new Set([7005, 7006, 7008, 7019, 7031, 7034]);
/** Module file extension per check: `.mts`/`.mjs` are ES modules, so top-level `await` works. */
const EXTENSIONS = { typescript: "mts", javascript: "mjs" };

/**
 * Groups a page's type-checked blocks (`triage`'s entries) into modules: a `continues` block joins
 * the one before (in the same language), `context` lines go first; each module line keeps its
 * page line.
 */
export function snippetModules(rel, checked, problems) {
  const modules = [];
  for (const { block, check } of checked) {
    if (!(check in EXTENSIONS)) continue;
    const where = `${rel}:${block.line - 1}`;
    const continues = block.markers.some((marker) => marker.kind === "continues");
    const previous = modules.at(-1);
    if (continues && !previous) problems.push(`${where}: "continues" with no block before it`);
    if (continues && previous && previous.check !== check)
      problems.push(`${where}: "continues" a ${previous.check} block, but this one is ${check}`);
    const module = continues && previous?.check === check ? previous : { check, lines: [], origin: [] };
    if (module !== previous) modules.push(module);
    for (const marker of block.markers.filter((m) => m.kind === "context")) {
      marker.code.forEach((code, k) => {
        module.lines.push(code);
        module.origin.push(`${rel}:${marker.codeLines[k]} (hidden context)`);
      });
    }
    block.body.forEach((code, k) => {
      module.lines.push(code);
      module.origin.push(`${rel}:${block.line + k}`);
    });
  }
  return modules.map((module, index) => ({
    ...module,
    name: `${rel.replace(/[/.]/g, "_")}_${index}.${EXTENSIONS[module.check]}`,
  }));
}

/**
 * Writes `modules` to `dir` and type-checks them in one program (a module that augments another
 * gets its own); each diagnostic goes to `problems` at the page line it comes from.
 */
export function typeCheck(modules, dir, problems) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const byPath = new Map();
  for (const module of modules) {
    const path = join(dir, module.name);
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
      // JavaScript blocks are checked in the same program, against the same declarations.
      allowJs: true,
      checkJs: true,
      paths: {
        "@catga/native": ["./ts/index.ts"],
        "@catga/native/*": ["./ts/entries/*.ts"],
        "@catga/eslint-plugin": ["./eslint-plugin/src/index.ts"],
      },
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
    if (module.check === "javascript" && IMPLICIT_ANY.has(d.code)) continue;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    problems.push(`${module.origin[line] ?? `${module.name}:${line + 1}`}: TS${d.code}: ${message}`);
  }
}
