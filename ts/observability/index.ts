export type { DispatchHook } from "../mediator/mediator.js";
export type { ClusterSource } from "./cluster-observer.js";
export type { ConsumerLagSource } from "./consumer-observer.js";
export type { DeadLetterSource } from "./dead-letter-observer.js";
export {
  type CheckOutcome,
  type CheckResult,
  fastifyHealthHandlers,
  type HealthOptions,
  type HealthReport,
  type HealthSubject,
  type HealthTarget,
  health,
  healthHandlers,
  type ReplyLike,
} from "./health.js";
export { type InstrumentableBuilder, observability, withObservability } from "./install.js";
export {
  Attr as ObservabilityAttributes,
  CatgaObservability,
  INSTRUMENTATION_SCOPE,
  MetricNames,
  OBSERVABILITY_PRIORITY,
  type ObservabilityOptions,
} from "./instrumentation.js";
export {
  type CreateLoggerOptions,
  createLogger,
  type PinoLike,
  PRESET_LOG_LEVELS,
  pinoLogger,
  tracedLogger,
} from "./logger.js";
export type { NatsSource } from "./nats-stats.js";
export type { MeterProviderLike, TracerProviderLike } from "./otel.js";
export type { RelaySource } from "./relay-observer.js";
