import { defineConfig } from "tsup";

// Built like the main package (tsup, ESM + CJS + .d.ts, node20): `npm run build` in eslint-plugin/
// or `npm run build:eslint-plugin` at the root. The rules import `typescript` for types only, so
// the output loads without it (JS-only projects lint by names).
export default defineConfig({
  entry: { index: "src/index.ts" },
  format: ["esm", "cjs"],
  dts: { compilerOptions: { rootDir: "src" } },
  tsconfig: "tsconfig.json",
  sourcemap: true,
  clean: true,
  // `require("@catga/eslint-plugin")` is the plugin itself, as for `import`, not `{ default }`.
  cjsInterop: true,
  splitting: true, // cjsInterop needs it
  target: "node20",
  external: ["@typescript-eslint/utils", "eslint", "typescript"],
});
