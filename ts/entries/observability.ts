/**
 * `@catga/native/observability`: OpenTelemetry traces, metrics and logs, and health checks.
 *
 * @module @catga/native/observability
 */
export * from "../observability/index.js";
