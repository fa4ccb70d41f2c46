import { defineConfig } from "tsup";

export default defineConfig({
  // One entry per public entry point (package.json "exports"); shared code lands in chunks that
  // every entry imports, so `CatgaError` is one class whichever entry a user imported it from.
  entry: {
    index: "ts/index.ts",
    nats: "ts/entries/nats.ts",
    jetstream: "ts/entries/jetstream.ts",
    persistence: "ts/entries/persistence.ts",
    observability: "ts/entries/observability.ts",
    testing: "ts/entries/testing.ts",
    wire: "ts/entries/wire.ts",
    nestjs: "ts/entries/nestjs.ts",
    operations: "ts/entries/operations.ts",
    cli: "ts/entries/cli.ts",
    fastify: "ts/entries/fastify.ts",
    cluster: "ts/entries/cluster.ts",
    dashboard: "ts/entries/dashboard.ts",
    protobuf: "ts/entries/protobuf.ts",
    internal: "ts/entries/internal.ts",
  },
  format: ["esm", "cjs"],
  // Chunks for CJS too (tsup's flag beyond esbuild's ESM-only splitting): without them each CJS
  // entry would carry its own copy of the shared classes and `instanceof` would fail across entries.
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // `import.meta.url` is shimmed in the CJS build so the native loader works in both.
  shims: true,
});
