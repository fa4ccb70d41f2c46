/**
 * Plumbing for this repository's own benches (benches/core.bench.mjs, benches/nats/batcher.bench.mjs):
 * built to dist/internal.js but absent from package.json "exports", so users cannot import it.
 */
export { loadNativeBinding } from "../native/loader.js";
export { OutboundBatcher } from "../nats/batcher.js";
