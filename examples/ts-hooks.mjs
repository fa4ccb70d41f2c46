// Runs the TypeScript examples on Node 20 with no build step and no extra tool:
// `node --import ./examples/ts-hooks.mjs examples/behaviors.ts`. Each .ts file is transpiled
// as it loads by the project's own TypeScript (types are stripped here, not checked: the
// examples are type-checked with the project by `npm run typecheck`).
import { readFile } from "node:fs/promises";
import { register } from "node:module";
import { isMainThread } from "node:worker_threads";
import ts from "typescript";

const compilerOptions = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  verbatimModuleSyntax: true,
  inlineSourceMap: true, // stack traces point at the .ts lines
};

/**
 * Node's `resolve` hook: a .ts file imports its TypeScript neighbours as `./x.js` (what the
 * project's `NodeNext` settings ask for); when no such .js exists, `./x.ts` is meant.
 */
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const fromTs =
      context.parentURL?.endsWith(".ts") && specifier.startsWith(".") && specifier.endsWith(".js");
    if (!fromTs || error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
    return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
  }
}

/** Node's `load` hook: hands back .ts files as JavaScript modules, everything else untouched. */
export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const source = await readFile(new URL(url), "utf8");
  const { outputText } = ts.transpileModule(source, { fileName: url, compilerOptions });
  return { format: "module", source: outputText, shortCircuit: true };
}

// `--import` runs this file on the main thread, which registers it as the hooks module; Node then
// loads it again on its hooks thread, where only `load` is used.
if (isMainThread) register(import.meta.url);
