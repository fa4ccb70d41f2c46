export * from "./codec.js";
export { fromNativeError } from "./errors.js";
export { loadNativeBinding, type NativeBinding } from "./loader.js";
export { type PlatformTriple, platformPackage, platformTriple, SUPPORTED_TRIPLES } from "./platform.js";
export * from "./ring.js";
