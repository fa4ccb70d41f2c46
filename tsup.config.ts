import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "ts/index.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // `import.meta.url` is shimmed in the CJS build so the native loader works in both.
  shims: true,
});
