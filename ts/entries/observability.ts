/** `@catga/native/observability`: OpenTelemetry traces, metrics and logs, and health checks. */
export * from "../observability/index.js";
