import type { CatgaBuilder } from "./builder.js";
import { consoleLogger } from "./logger.js";

export type PresetName = "development" | "production" | "highPerformance";

export const PRESET_NAMES: readonly PresetName[] = ["development", "production", "highPerformance"];

/**
 * Preset contents (documented in docs/mediator.md; keep both in sync):
 * - development: every message logged at debug with payloads, validation, 30 s timeout,
 *   sequential publish so logs read in handler order. No retry/breaker: failures surface at once.
 * - production: failures logged (successes not), validation, retry (3 attempts, 50 ms → 1 s
 *   backoff, full jitter), circuit breaker (5 failures, 30 s open), 10 s timeout. Idempotency
 *   and rate limiting stay opt-in: they need your ids, store and limits.
 * - highPerformance: no behaviors at all, the bare fast path; validate at your edges instead.
 */
export function applyPreset(builder: CatgaBuilder<any, any>, name: PresetName): void {
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
