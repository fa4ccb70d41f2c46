import { defineConfig } from "vitest/config";

// The suite stryker.behaviors.config.mjs runs per mutant: the in-process mediator tests only.
export default defineConfig({
  test: {
    include: ["__test__/mediator/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
