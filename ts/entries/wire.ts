/**
 * `@catga/native/wire`: the Rust wire core on its own — envelopes, CTG1 batch frames, zstd and
 * the consistent-hash ring — and the native addon's platform facts.
 *
 * @module @catga/native/wire
 */
export type {
  CodecLimits,
  DecodedEnvelope,
  EnvelopeInit,
  FrameOptions,
  MessageKind,
} from "../native/codec.js";
export {
  decodeBatch,
  decodeEnvelope,
  encodeBatch,
  encodeEnvelope,
  frameEncoded,
  zstdCompress,
  zstdDecompress,
} from "../native/codec.js";
export type { PlatformTriple } from "../native/platform.js";
export { platformPackage, platformTriple, SUPPORTED_TRIPLES } from "../native/platform.js";
export type { RingNode } from "../native/ring.js";
export { HashRing } from "../native/ring.js";
