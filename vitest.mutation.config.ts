import { defineConfig } from "vitest/config";

// The suite StrykerJS runs per mutant (stryker.config.mjs): the runtime tests of the mutated
// layers, without the type tests (tsc per mutant would dominate the run).
export default defineConfig({
  test: {
    include: ["__test__/mediator/**/*.test.ts", "__test__/nats/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
