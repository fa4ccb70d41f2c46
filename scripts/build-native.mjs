#!/usr/bin/env node
// Builds the native addon from source with the napi-rs CLI, unless a prebuilt binary for this
// platform is already installed. `npm install` runs this through the `prepare` script.
// --force always builds (npm run build / build:native); CATGA_SKIP_NATIVE_BUILD=1 never does.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { platformTriple } from "./platform.mjs";

const force = process.argv.includes("--force");
const debug = process.argv.includes("--debug");
const triple = platformTriple();

if (process.env.CATGA_SKIP_NATIVE_BUILD === "1" && !force) {
  console.log("[catga] CATGA_SKIP_NATIVE_BUILD=1: not building the native addon");
  process.exit(0);
}

if (!force && triple) {
  try {
    createRequire(import.meta.url).resolve(`@catga/native-${triple}`);
    console.log(`[catga] prebuilt @catga/native-${triple} found: not building from source`);
    process.exit(0);
  } catch {
    // No prebuilt binary: build below.
  }
}

const args = [
  "napi",
  "build",
  "--platform",
  "--manifest-path",
  "crates/catga-napi/Cargo.toml",
  "--package-json-path",
  "package.json",
  "--output-dir",
  ".",
  "--no-js",
  "--dts",
  "ts/native/binding.generated.d.ts",
  ...(debug ? [] : ["--release"]),
];
// Without cargo the napi CLI fails with a stack trace about `cargo metadata`: say what is missing.
if (spawnSync("cargo", ["--version"], { stdio: "ignore" }).status !== 0) {
  console.error(
    `[catga] no prebuilt @catga/native-${triple ?? "<platform>"} is installed and cargo is not on PATH, ` +
      "so the native addon cannot be built from source. Install Rust (https://rustup.rs, 1.89 or newer) " +
      "and a C compiler, then run npm install again (README.md, 'Quick start').",
  );
  process.exit(1);
}
console.log(
  `[catga] building the native addon from source (${triple ?? "unknown platform"}): npx ${args.join(" ")}`,
);
const result = spawnSync("npx", args, { stdio: "inherit" });
if (result.status !== 0) {
  console.error(
    "[catga] native build failed. It needs a Rust toolchain (https://rustup.rs) and a C compiler; " +
      "see README.md, 'Quick start'.",
  );
  process.exit(result.status ?? 1);
}
