#!/usr/bin/env node
// Fails when a module in ts/ imports from a layer above its own (docs/architecture/overview.md, "Layers").
// Each folder under ts/ is a layer; a layer may import its own folder and the layers listed
// before it, never a peer of the same rank or one after it. The entry points (ts/index.ts and
// ts/entries/*.ts) sit on top and may import anything; ts/errors.ts and ts/checks.ts (the
// base: coded errors and the option-check vocabulary) are below every layer.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tsRoot = join(root, "ts");

/** Bottom to top; layers in one inner list share a rank and must not import each other. */
export const LAYERS = [
  ["base"],
  ["mediator", "native"],
  ["saga"],
  ["nats"],
  ["jetstream"],
  ["transport"],
  ["persistence"],
  ["cluster"],
  ["operations"],
  ["observability"],
  // Framework integrations: they wire the layers below into a host framework's lifecycle.
  ["nestjs", "http", "dashboard"],
  ["entry"],
];
const rank = new Map(LAYERS.flatMap((names, index) => names.map((name) => [name, index])));

function layerOf(file) {
  const parts = relative(tsRoot, file).split(sep);
  if (parts.length === 1) return /^(errors|checks)\.[jt]s$/.test(parts[0]) ? "base" : "entry";
  return parts[0] === "entries" ? "entry" : parts[0];
}

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith(".ts")) yield path;
  }
}

// `import … from "x"`, `export … from "x"`, `import("x")`, `import "x"`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;

const problems = [];
for (const file of sources(tsRoot)) {
  const layer = layerOf(file);
  if (!rank.has(layer)) {
    problems.push(`${relative(root, file)}: folder "${layer}" is not in a layer (scripts/check-layers.mjs)`);
    continue;
  }
  const text = readFileSync(file, "utf8");
  for (const [, specifier] of text.matchAll(SPECIFIER)) {
    if (!specifier.startsWith(".")) continue;
    const target = resolve(dirname(file), specifier);
    if (!target.startsWith(tsRoot + sep)) continue;
    const targetLayer = layerOf(target);
    if (targetLayer === layer) continue;
    if (!(rank.get(targetLayer) < rank.get(layer)))
      problems.push(
        `${relative(root, file)} (${layer}) imports ${specifier} (${targetLayer}): ` +
          `a layer imports only the layers below it`,
      );
  }
}
if (problems.length > 0) {
  console.error(`Layer check failed:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`layers ok: ${LAYERS.map((names) => names.join("|")).join(" → ")}`);
