export * from "./errors.js";
export * from "./native/index.js";
