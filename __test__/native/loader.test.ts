import { execFileSync } from "node:child_process";
import { basename, dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { platformTriple } from "../../ts/entries/wire.js";
import { CatgaError } from "../../ts/index.js";
import { loadNativeBinding } from "../../ts/native/loader.js";

const nativeFile = process.env.CATGA_NATIVE_PATH ?? join(process.cwd(), `catga.${platformTriple()}.node`);

describe("native loader", () => {
  it("maps platforms to napi-rs triples", () => {
    expect(platformTriple("linux", "x64", () => false)).toBe("linux-x64-gnu");
    expect(platformTriple("linux", "x64", () => true)).toBe("linux-x64-musl");
    expect(platformTriple("darwin", "arm64")).toBe("darwin-arm64");
    expect(platformTriple("win32", "x64")).toBe("win32-x64-msvc");
    expect(platformTriple("freebsd", "x64")).toBeUndefined();
  });

  it("loads the binary for this machine", () => {
    expect(typeof loadNativeBinding().encodeBatchNative).toBe("function");
  });

  it("fails with one clear error naming platform and arch when nothing fits", () => {
    try {
      loadNativeBinding("freebsd", "riscv64");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CatgaError);
      expect((error as CatgaError).code).toBe("CATGA_NATIVE_NOT_FOUND");
      expect((error as CatgaError).message).toContain("freebsd/riscv64");
    }
  });

  it("names the platform package it looked for when that package is missing", () => {
    try {
      // musl x64 is supported, but neither its package nor a local build exists here.
      loadNativeBinding("linux", "x64", () => true);
      expect.unreachable();
    } catch (error) {
      expect((error as CatgaError).code).toBe("CATGA_NATIVE_NOT_FOUND");
      expect((error as CatgaError).message).toContain("@catga/native-linux-x64-musl");
    }
  });

  it("says musl when a musl platform has no binary", () => {
    expect(() => loadNativeBinding("linux", "arm64", () => true)).toThrowError(/linux\/arm64 \(musl libc\)/);
  });

  it("resolves CATGA_NATIVE_PATH from the working directory, and fails rather than fall back when it does not load", () => {
    const saved = process.env.CATGA_NATIVE_PATH;
    const cwd = process.cwd();
    try {
      process.chdir(dirname(nativeFile));
      process.env.CATGA_NATIVE_PATH = `./${basename(nativeFile)}`;
      expect(typeof loadNativeBinding().encodeBatchNative).toBe("function");
      process.env.CATGA_NATIVE_PATH = "/nonexistent/catga.node";
      expect(() => loadNativeBinding()).toThrowError(
        /CATGA_NATIVE_PATH=\/nonexistent\/catga\.node could not be loaded/,
      );
    } finally {
      process.chdir(cwd);
      if (saved === undefined) delete process.env.CATGA_NATIVE_PATH;
      else process.env.CATGA_NATIVE_PATH = saved;
    }
  });
});

describe("native loading is lazy", () => {
  it("an in-memory mediator built and used from the package never loads Catga's addon", () => {
    const script = `
      import { createRequire } from "node:module";
      import { createCatga, defineCommand, defineEvent } from ${JSON.stringify(join(process.cwd(), "dist/index.js"))};
      const Ping = defineCommand("ping"); const Pinged = defineEvent("pinged");
      const catga = createCatga({ preset: "production" }).handle(Ping, () => "pong").handle(Pinged, () => {}).build();
      (await catga.send(Ping, {})).unwrap(); (await catga.publish(Pinged, {})).unwrap();
      const cache = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify(cache.filter((path) => /catga[^/\\\\]*\\.node$/.test(path))));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual([]);
  });
});
