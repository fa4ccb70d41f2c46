export type { CircuitBreakerOptions, CircuitState, CircuitStateChange } from "./behaviors/circuit-breaker.js";
export { CIRCUIT_BREAKER_PRIORITY } from "./behaviors/circuit-breaker.js";
export type { IdempotencyOptions, IdempotencyStore, StoredOutcome } from "./behaviors/idempotency.js";
export { IDEMPOTENCY_PRIORITY, InMemoryIdempotencyStore } from "./behaviors/idempotency.js";
export type { LoggingOptions } from "./behaviors/logging.js";
export { LOGGING_PRIORITY } from "./behaviors/logging.js";
export type { RateLimitOptions } from "./behaviors/rate-limit.js";
export { RATE_LIMIT_PRIORITY } from "./behaviors/rate-limit.js";
export type { RetryOptions } from "./behaviors/retry.js";
export { DEFAULT_RETRYABLE, RETRY_PRIORITY } from "./behaviors/retry.js";
export type { TimeoutOptions } from "./behaviors/timeout.js";
export { TIMEOUT_PRIORITY } from "./behaviors/timeout.js";
export type { ValidationIssue, ValidationOptions } from "./behaviors/validation.js";
export { VALIDATION_PRIORITY } from "./behaviors/validation.js";
export type { CatgaOptions, HandlerFor } from "./builder.js";
export { CatgaBuilder, createCatga } from "./builder.js";
export type {
  HandlerContext,
  Headers,
  MessageMeta,
  PublishMode,
  PublishOptions,
  PublishReport,
  SendOptions,
} from "./context.js";
export type {
  AnyCommand,
  AnyContract,
  AnyEvent,
  AnyQuery,
  CommandContract,
  Contract,
  ContractKind,
  EventContract,
  InputOf,
  PayloadOf,
  QueryContract,
  ResultOf,
  StandardSchemaV1,
  TypeOf,
} from "./contracts.js";
export { defineCommand, defineEvent, defineQuery } from "./contracts.js";
export { uuidv7, uuidv7Time } from "./ids.js";
export type { Logger, LogLevel } from "./logger.js";
export { consoleLogger, silentLogger } from "./logger.js";
export type { Catga, PipelineDescription } from "./mediator.js";
export type { Behavior, BehaviorContext, Middleware, Next, PipelineTarget } from "./pipeline.js";
export { defineBehavior } from "./pipeline.js";
export type { PresetName } from "./presets.js";
export { PRESET_NAMES } from "./presets.js";
export type { ErrorInfo, ErrResult, OkResult, Result } from "./result.js";
export { err, ok, unwrap } from "./result.js";
export type { RecordedMessage } from "./testing.js";
export { createTestCatga, TestCatga } from "./testing.js";
export type { Envelope, InboundDispatcher, Transport, WireResult } from "./transport.js";
export { InMemoryBus, inMemoryTransport } from "./transport.js";
