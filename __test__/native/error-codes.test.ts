import { describe, expect, it } from "vitest";
import { ErrorCodes } from "../../ts/index.js";
import { loadNativeBinding } from "../../ts/native/loader.js";

describe("error codes across the boundary", () => {
  it("lists every code the Rust core can raise in ErrorCodes", () => {
    const rust = loadNativeBinding().errorCodes();
    expect(rust).toContain("CATGA_DECODE");
    const known = new Set<string>(Object.values(ErrorCodes));
    expect(rust.filter((code) => !known.has(code))).toEqual([]);
  });
});
