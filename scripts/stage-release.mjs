#!/usr/bin/env node
// Stages what is published into one directory: the facade (dist/, README.md, LICENSE, sql/ and a
// package.json without the repository-only `scripts` and `devDependencies`, which refer to files
// that are not in the tarball) and the npm/<triple> platform packages with their binaries.
// The release job and the pack smoke test both publish from it, the same way:
//   node scripts/stage-release.mjs <dir> [--this-platform]
//   cd <dir> && npx napi prepublish -t npm --no-gh-release && npm publish
// --this-platform keeps only this machine's target (the smoke test has only its binary).
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { platformTriple } from "./platform.mjs";

const root = resolve(import.meta.dirname, "..");
const [out] = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
if (out === undefined) {
  console.error("usage: node scripts/stage-release.mjs <dir> [--this-platform]");
  process.exit(2);
}
const stage = resolve(out);
const thisPlatform = process.argv.includes("--this-platform");
if (!existsSync(join(root, "dist", "index.js"))) {
  console.error("stage-release: dist/ is missing; run npm run build:ts first");
  process.exit(1);
}

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
for (const file of manifest.files) cpSync(join(root, file), join(stage, file), { recursive: true });
cpSync(join(root, "LICENSE"), join(stage, "LICENSE"));

// Repository-only: `prepare` builds from source, `pretest` starts services; neither has its
// files in the tarball, and a consumer's `npm rebuild` or git install must not run them.
delete manifest.scripts;
delete manifest.devDependencies;
const triple = platformTriple();
if (thisPlatform) {
  const target = manifest.napi.targets.find((t) => packageDirOf(t) === triple);
  if (target === undefined) throw new Error(`stage-release: no napi target for ${triple}`);
  manifest.napi.targets = [target];
}
writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);

// Platform packages: every npm/<triple> of the staged targets, with its binary when present.
for (const target of manifest.napi.targets) {
  const dir = packageDirOf(target);
  cpSync(join(root, "npm", dir), join(stage, "npm", dir), { recursive: true });
  const binary = `catga.${dir}.node`;
  if (!existsSync(join(stage, "npm", dir, binary)) && existsSync(join(root, binary)))
    cpSync(join(root, binary), join(stage, "npm", dir, binary));
}
console.log(
  `staged ${manifest.name}@${manifest.version} in ${stage}: ${readdirSync(join(stage, "npm")).join(", ")}`,
);

/** npm/<dir> name of a Rust target triple, as napi-rs names them (scripts/platform.mjs). */
function packageDirOf(target) {
  const [arch, , , abi] = target.split("-");
  const cpu = { x86_64: "x64", aarch64: "arm64" }[arch] ?? arch;
  if (target.includes("apple")) return `darwin-${cpu}`;
  if (target.includes("windows")) return `win32-${cpu}-${abi}`;
  return `linux-${cpu}-${abi}`;
}
