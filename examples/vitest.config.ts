import { defineConfig } from "vitest/config";

// Runs the example test file(s) on their own: the repository's own config only looks in __test__/.
export default defineConfig({ test: { include: ["examples/**/*.test.ts"] } });
