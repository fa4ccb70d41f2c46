// Runs the TypeScript examples on Node 20 with no build step and no extra tool:
// `node --import ./examples/ts-hooks.mjs examples/behaviors.ts`. Each .ts file is transpiled
// as it loads by the project's own TypeScript (types are stripped here, not checked: the
// examples are type-checked with the project by `npm run typecheck`).
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { register } from "node:module";
import { isMainThread } from "node:worker_threads";

// Loading TypeScript costs about a second, so its output is cached by the source's hash and
// TypeScript is loaded only when a file changed.
const cache = new URL("../node_modules/.cache/catga-ts-hooks/", import.meta.url);
let typescript;

/**
 * Legacy decorators with metadata for a folder whose tsconfig.json asks for them (examples/nestjs:
 * Nest's dependency injection reads constructor parameter types from that metadata); every other
 * file keeps TypeScript's defaults, as the root tsconfig does.
 */
async function legacyDecorators(url) {
  const config = await readFile(new URL("tsconfig.json", url), "utf8").catch(() => "");
  return /"emitDecoratorMetadata"\s*:\s*true/.test(config);
}

async function transpile(source, url) {
  const decorators = await legacyDecorators(url);
  const key = new URL(
    `${createHash("sha256")
      .update(`esnext-es2022${decorators ? "-decorators" : ""}\n`)
      .update(url)
      .update(source)
      .digest("hex")}.js`,
    cache,
  );
  const cached = await readFile(key, "utf8").catch(() => undefined);
  if (cached !== undefined) return cached;
  typescript ??= (await import("typescript")).default;
  const { outputText } = typescript.transpileModule(source, {
    fileName: url,
    compilerOptions: {
      module: typescript.ModuleKind.ESNext,
      target: typescript.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      inlineSourceMap: true, // stack traces point at the .ts lines
      ...(decorators ? { experimentalDecorators: true, emitDecoratorMetadata: true } : {}),
    },
  });
  await mkdir(cache, { recursive: true });
  // Several example processes start at once and may transpile the same file: each writes its own
  // temporary file and renames it into place, so no reader ever sees a half-written module (seen
  // in CI as "does not provide an export named …").
  const temporary = new URL(`${key.href}.${process.pid}.${Date.now()}.tmp`);
  await writeFile(temporary, outputText);
  await rename(temporary, key);
  return outputText;
}

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
  return { format: "module", source: await transpile(source, url), shortCircuit: true };
}

// `--import` runs this file on the main thread, which registers it as the hooks module; Node then
// loads it again on its hooks thread, where only `resolve` and `load` are used.
if (isMainThread) register(import.meta.url);
