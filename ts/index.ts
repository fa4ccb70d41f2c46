/**
 * `@catga/native`: the mediator — contracts, handlers, results, behaviors, errors and the
 * in-memory transport. It never loads the native addon. Optional areas have their own entry
 * points: `@catga/native/nats`, `/jetstream`, `/persistence`, `/observability`, `/testing`,
 * `/wire` (docs/architecture/overview.md lists where each public name lives).
 *
 * @module @catga/native
 */
export type {
  CheckedCode,
  ConfigIssue,
  DomainErrorCode,
  ErrorCode,
  ErrorDetails,
  ErrorDetailsByCode,
  HandlerFailure,
  ValidationIssue,
} from "./errors.js";
export { CatgaConfigError, CatgaError, ErrorCodes, hasErrorCode } from "./errors.js";
export type {
  CircuitBreakerOptions,
  CircuitState,
  CircuitStateChange,
} from "./mediator/behaviors/circuit-breaker.js";
export { CIRCUIT_BREAKER_PRIORITY } from "./mediator/behaviors/circuit-breaker.js";
export type { IdempotencyOptions } from "./mediator/behaviors/idempotency.js";
export { IDEMPOTENCY_PRIORITY } from "./mediator/behaviors/idempotency.js";
export type {
  ClaimingIdempotencyStore,
  ClaimResult,
  IdempotencyClaims,
  IdempotencyStore,
  StoredOutcome,
} from "./mediator/behaviors/idempotency-store.js";
export { InMemoryIdempotencyStore } from "./mediator/behaviors/idempotency-store.js";
export type { LoggingOptions } from "./mediator/behaviors/logging.js";
export { LOGGING_PRIORITY } from "./mediator/behaviors/logging.js";
export type { RateLimitOptions } from "./mediator/behaviors/rate-limit.js";
export { RATE_LIMIT_PRIORITY } from "./mediator/behaviors/rate-limit.js";
export type { RetryOptions } from "./mediator/behaviors/retry.js";
export { DEFAULT_RETRYABLE, RETRY_PRIORITY } from "./mediator/behaviors/retry.js";
export type { TimeoutOptions } from "./mediator/behaviors/timeout.js";
export { TIMEOUT_PRIORITY } from "./mediator/behaviors/timeout.js";
export type { ValidationOptions } from "./mediator/behaviors/validation.js";
export { VALIDATION_PRIORITY } from "./mediator/behaviors/validation.js";
export type { CatgaOptions, HandleOptions, HandlerFor } from "./mediator/builder.js";
export { CatgaBuilder, createCatga } from "./mediator/builder.js";
export type {
  AcceptedSendOptions,
  DurableAwait,
  DurableSendOptions,
  HandlerContext,
  Headers,
  MessageMeta,
  Messaging,
  PublishMode,
  PublishOptions,
  PublishReport,
  ResultSendOptions,
  SendOptions,
} from "./mediator/context.js";
export type {
  Accepted,
  AnyCommand,
  AnyContract,
  AnyEvent,
  AnyQuery,
  CommandContract,
  CommandDelivery,
  Contract,
  ContractKind,
  DurableCommand,
  DurableCommandContract,
  EventContract,
  InputOf,
  PayloadOf,
  QueryContract,
  RequestCommand,
  ResultOf,
  StandardSchemaV1,
  TypeOf,
  UntypedCommand,
  UntypedEvent,
  UntypedQuery,
} from "./mediator/contracts.js";
export { defineCommand, defineEvent, defineQuery } from "./mediator/contracts.js";
export { uuidv7, uuidv7Time } from "./mediator/ids.js";
export type { Logger, LogLevel } from "./mediator/logger.js";
export { consoleLogger, silentLogger } from "./mediator/logger.js";
export type { Catga, DispatchHook, PipelineDescription } from "./mediator/mediator.js";
export type { Behavior, BehaviorContext, Middleware, Next, PipelineTarget } from "./mediator/pipeline.js";
export { defineBehavior } from "./mediator/pipeline.js";
export type { PresetName } from "./mediator/presets.js";
export { PRESET_NAMES } from "./mediator/presets.js";
export type { ErrorInfo, ErrResult, OkResult, Result } from "./mediator/result.js";
export { err, ok, unwrap } from "./mediator/result.js";
export {
  BALANCE_STRATEGIES,
  type BalanceStrategy,
  type RouteOptions,
  type RouteSpec,
} from "./mediator/routing.js";
export type {
  ScheduleAt,
  Scheduled,
  SchedulePublishOptions,
  ScheduleSendOptions,
} from "./mediator/schedule.js";
export { SCHEDULE_LIMITS } from "./mediator/schedule.js";
export type { ShardBy } from "./mediator/sharding.js";
export type {
  Envelope,
  InboundDispatcher,
  ReceivedMeta,
  ShardGate,
  Transport,
  WireResult,
} from "./mediator/transport.js";
export { InMemoryBus, inMemoryTransport } from "./mediator/transport.js";
export type {
  SagaAdvance,
  SagaAdvanceContract,
  SagaCompensation,
  SagaParallelBranch,
  SagaParallelOptions,
  SagaSendStep,
  SagaStarted,
  SagaStartOptions,
  SagaWaitStep,
} from "./saga/define.js";
export { defineSaga, SagaDefinition } from "./saga/define.js";
export type { SagaHostOptions } from "./saga/host.js";
export type {
  SagaError,
  SagaInstance,
  SagaListQuery,
  SagaProgress,
  SagaStatus,
  SagaStatusCount,
  SagaStore,
} from "./saga/instance.js";
export { FINAL_STATUSES, SAGA_LIST_LIMIT } from "./saga/instance.js";
export { InMemorySagaStore } from "./saga/memory-store.js";
export type { SagaOperations } from "./saga/operations.js";
export { sagaOperations } from "./saga/operations.js";
