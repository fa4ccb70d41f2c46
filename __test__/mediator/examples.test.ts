import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

// The examples import the built package (../dist/index.js). Here they run against the TypeScript
// sources instead, so the test needs no build and checks exactly the code shown in the README.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const scratch = join(root, "node_modules", ".cache", "catga-examples");

async function runExample(name: string): Promise<string[]> {
  const source = readFileSync(join(root, "examples", name), "utf8");
  expect(source).toContain('from "../dist/index.js"');
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, `${name.replace(/\.mjs$/, "")}.${Date.now()}.ts`);
  writeFileSync(file, source.replace('"../dist/index.js"', JSON.stringify(join(root, "ts", "index.ts"))));
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
  });
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    rmSync(file, { force: true });
  }
  return lines;
}

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe("examples", () => {
  it("quickstart.mjs (the README snippet) runs and prints the result", async () => {
    const lines = await runExample("quickstart.mjs");
    expect(lines[0]).toMatch(/^placed book correlation [0-9a-f-]{36}$/);
    expect(lines[1]).toBe('{"orderId":"o-book"}');
  });

  it("demo.mjs runs the order flow end to end", async () => {
    const lines = await runExample("demo.mjs");
    expect(process.exitCode).toBe(0);
    expect(lines.at(-1)).toBe("demo ok");
    expect(lines.join("\n")).toContain("CATGA_VALIDATION");
  });
});
