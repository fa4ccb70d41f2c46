import type { CircuitBreakerOptions } from "./behaviors/circuit-breaker.js";
import type { LoggingOptions } from "./behaviors/logging.js";
import type { RetryOptions } from "./behaviors/retry.js";
import type { TimeoutOptions } from "./behaviors/timeout.js";
import type { PublishMode } from "./context.js";
import type { Logger } from "./logger.js";
import { consoleLogger } from "./logger.js";

/** The part of the builder a preset uses (keeps this module free of the builder's generics). */
export interface PresetTarget {
  withLogger(logger: Logger): PresetTarget;
  withPublishMode(mode: PublishMode): PresetTarget;
  withLogging(options?: LoggingOptions): PresetTarget;
  withValidation(): PresetTarget;
  withRetry(options?: RetryOptions): PresetTarget;
  withCircuitBreaker(options?: CircuitBreakerOptions): PresetTarget;
  withTimeout(options?: TimeoutOptions): PresetTarget;
}

/** The name of a preset (`CatgaOptions.preset`): a documented set of behaviors, logger and publish mode. */
export type PresetName = "development" | "production" | "highPerformance";

/** Every {@link PresetName}, for validation and tooling. */
export const PRESET_NAMES: readonly PresetName[] = ["development", "production", "highPerformance"];

/**
 * Preset contents (documented in docs/architecture/mediator.md; keep both in sync):
 * - development: every message logged at debug with payloads, validation, 30 s timeout,
 *   sequential publish so logs read in handler order. No retry/breaker: failures surface at once.
 * - production: failures logged (successes not), validation, retry (3 attempts, 50 ms → 1 s
 *   backoff, full jitter), circuit breaker (5 failures, 30 s open), 10 s timeout. Idempotency
 *   and rate limiting stay opt-in: they need your ids, store and limits.
 * - highPerformance: no behaviors at all, the bare fast path; validate at your edges instead.
 */
export function applyPreset(builder: PresetTarget, name: PresetName): void {
  switch (name) {
    case "development":
      builder
        .withLogger(consoleLogger({ level: "debug" }))
        .withPublishMode("sequential")
        .withLogging({ successLevel: "debug", logPayload: true })
        .withValidation()
        .withTimeout({ ms: 30_000 });
      return;
    case "production":
      builder
        .withLogging({ successLevel: "off" })
        .withValidation()
        .withRetry({ maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 1000, jitter: "full" })
        .withCircuitBreaker({ failureThreshold: 5, resetTimeoutMs: 30_000 })
        .withTimeout({ ms: 10_000 });
      return;
    case "highPerformance":
      builder.withPublishMode("concurrent");
      return;
  }
}
