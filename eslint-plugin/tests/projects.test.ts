// The plugin run the way a user runs it (the ESLint API, flat config, `configs.recommended`):
// over the repository's examples (no findings) and over fixtures/ (one finding per rule, with `configs.all`).
import { readdirSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import tsParser from "@typescript-eslint/parser";
import { ESLint, type Linter } from "eslint";
import { describe, expect, it } from "vitest";
import plugin from "../src/index.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));
const examplesProject = fileURLToPath(new URL("./examples/", import.meta.url));
// The NestJS examples need decorators, so they have their own tsconfig (the root one excludes them).
const nestExamplesProject = fileURLToPath(new URL("../../examples/nestjs/", import.meta.url));

function lint(cwd: string, config: Linter.Config[]): ESLint {
  return new ESLint({ cwd, overrideConfigFile: true, overrideConfig: config });
}

function typedFor(tsconfigRootDir: string, files: string[]): Linter.Config {
  return {
    files,
    languageOptions: { parser: tsParser, parserOptions: { project: "./tsconfig.json", tsconfigRootDir } },
  };
}

// typescript-eslint's config type and ESLint's differ only in their RuleContext types.
const recommended = plugin.configs.recommended as unknown as Linter.Config;
const all = plugin.configs.all as unknown as Linter.Config;

function findings(results: ESLint.LintResult[], root: string): string[] {
  return results
    .flatMap((r) => r.messages.map((m) => `${relative(root, r.filePath)}: ${m.ruleId ?? m.message}`))
    .sort();
}

describe("@catga/eslint-plugin on real code", () => {
  // Type-aware lint of every example builds a TypeScript program over them: ~10 s on a quiet
  // machine, 40 s seen at load 20, so more than the suite's default 30 s.
  it("finds nothing in examples/ (TypeScript with types, .mjs by names)", { timeout: 120_000 }, async () => {
    const eslint = lint(repoRoot, [
      typedFor(examplesProject, ["examples/**/*.ts"]),
      typedFor(nestExamplesProject, ["examples/nestjs/**/*.ts"]),
      recommended,
    ]);
    const results = await eslint.lintFiles(["examples/**/*.ts", "examples/**/*.mjs"]);
    // every example was linted (typed-orders.ts at least), so "no findings" means something
    const examples = readdirSync(`${repoRoot}examples`, { recursive: true, encoding: "utf8" }).filter(
      (name) => /\.(ts|mjs)$/.test(name),
    );
    expect(results.map((r) => relative(repoRoot, r.filePath)).sort()).toEqual(
      examples.map((name) => `examples/${name}`).sort(),
    );
    expect(examples).toContain("typed-orders.ts");
    expect(findings(results, repoRoot)).toEqual([]);
  });

  it("finds exactly one violation per rule in fixtures/", async () => {
    const eslint = lint(fixtures, [typedFor(fixtures, ["**/*.ts"]), all]);
    const results = await eslint.lintFiles(["*.ts"]);
    expect(findings(results, fixtures)).toEqual([
      "blocking.ts: @catga/no-blocking-in-handler",
      "durable-idempotency.ts: @catga/require-idempotency-for-durable",
      "error-message.ts: @catga/no-error-message-match",
      "floating-result.ts: @catga/no-floating-result",
      "request-timeout.ts: @catga/max-request-timeout",
      "retained-buffer.ts: @catga/no-retained-payload-buffer",
      "saga-state.ts: @catga/bounded-saga-state",
      "unhandled-event.ts: @catga/no-unhandled-event",
    ]);
    // every rule of the plugin is exercised by a fixture
    expect(Object.keys(all.rules ?? {})).toHaveLength(Object.keys(plugin.rules).length);
    expect(Object.keys(plugin.rules)).toHaveLength(8);
  });
});
