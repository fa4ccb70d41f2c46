export * from "./errors.js";
export * from "./jetstream/index.js";
export * from "./mediator/index.js";
export * from "./native/index.js";
export * from "./nats/index.js";
export * from "./observability/index.js";
export * from "./persistence/index.js";
export * from "./transport/index.js";
