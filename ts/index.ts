export * from "./errors.js";
export * from "./native/index.js";
export * from "./mediator/index.js";
