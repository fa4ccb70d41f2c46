import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CatgaError, ErrorCodes } from "../errors.js";
import type * as Binding from "./binding.generated.js";
import { isMusl, platformPackage, platformTriple, SUPPORTED_TRIPLES } from "./platform.js";

export type NativeBinding = typeof Binding;

const requireNative = createRequire(import.meta.url);

/** Walks up from this file to the package root (works from ts/native and from dist). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, "utf8")).name === "@catga/native") return dir;
      } catch {
        // An unreadable package.json on the way up is not ours; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return dirname(fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export interface LoadAttempt {
  readonly source: string;
  readonly error: string;
}

/**
 * Loads the native addon: `CATGA_NATIVE_PATH` if set, else a binary built in the package root
 * (`npm run build:native`), else the platform package `@catga/native-<triple>`. When none fits it
 * throws one `CatgaError` (`CATGA_NATIVE_NOT_FOUND`) naming the platform, arch and package.
 */
export function loadNativeBinding(
  platform: string = process.platform,
  arch: string = process.arch,
  musl?: () => boolean,
): NativeBinding {
  const attempts: LoadAttempt[] = [];
  const tryLoad = (source: string): NativeBinding | undefined => {
    try {
      return requireNative(source) as NativeBinding;
    } catch (error) {
      attempts.push({ source, error: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
  };

  const override = process.env.CATGA_NATIVE_PATH;
  if (override) {
    // Relative to the working directory, as a user means it; and an explicit choice that fails is
    // an error, not a silent fall-back to another binary.
    const path = resolve(override);
    const binding = tryLoad(path);
    if (binding) return binding;
    throw new CatgaError(
      ErrorCodes.NATIVE_NOT_FOUND,
      `CATGA_NATIVE_PATH=${override} could not be loaded (${path}): ${attempts[0]?.error.split("\n")[0] ?? "unknown error"}`,
      { details: attempts },
    );
  }
  const triple = platformTriple(platform, arch, musl);
  if (!triple) {
    const libc = platform === "linux" ? ((musl ?? isMusl)() ? " (musl libc)" : " (glibc)") : "";
    throw new CatgaError(
      ErrorCodes.NATIVE_NOT_FOUND,
      `@catga/native has no native binary for ${platform}/${arch}${libc}. ` +
        `Supported: ${SUPPORTED_TRIPLES.join(", ")}. Set CATGA_NATIVE_PATH to a catga.*.node you built yourself.`,
      { details: attempts },
    );
  }
  const local = join(packageRoot(), `catga.${triple}.node`);
  if (existsSync(local)) {
    const binding = tryLoad(local);
    if (binding) return binding;
  }
  const pkg = platformPackage(triple);
  const binding = tryLoad(pkg);
  if (binding) return binding;
  throw new CatgaError(
    ErrorCodes.NATIVE_NOT_FOUND,
    `@catga/native could not load its native binary for ${platform}/${arch} (${triple}): ` +
      `looked for the package ${pkg} and for ${local}. Reinstall with optional dependencies ` +
      `enabled (npm i ${pkg}); in a clone of the repository, build it with 'npm run build:native'.\n` +
      attempts.map((a) => `  - ${a.source}: ${a.error.split("\n")[0]}`).join("\n"),
    { details: attempts },
  );
}

let cached: NativeBinding | undefined;

/** The addon, loaded on first use: the in-memory mediator never needs it. */
export function native(): NativeBinding {
  cached ??= loadNativeBinding();
  return cached;
}
