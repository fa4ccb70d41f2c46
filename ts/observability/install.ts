import { CatgaConfigError } from "../errors.js";
import type { BuilderState } from "../mediator/builder.js";
import type { SagaTelemetry } from "../mediator/extension.js";
import type { DispatchHook } from "../mediator/mediator.js";
import type { Behavior } from "../mediator/pipeline.js";
import { CatgaObservability, type ObservabilityOptions } from "./instrumentation.js";

/** Creates the instrumentation (spans, metrics) without installing it; see `withObservability`. */
export function observability(options?: ObservabilityOptions): CatgaObservability {
  return new CatgaObservability(options);
}

/** The builder methods `withObservability` uses (any `CatgaBuilder`, whatever contracts it holds). */
export interface InstrumentableBuilder {
  /** @internal The builder's state, read for its transport. */
  state(): BuilderState;
  /** @internal Installs the dispatch hook (spans, `catga.requests.*`, trace context). */
  withDispatchHook(hook: DispatchHook | undefined): unknown;
  /** Adds the innermost `observability` behavior (a span and `catga.handler.*` per handler run). */
  use(behavior: Behavior): unknown;
  /** @internal Present on `CatgaBuilder`: spans and metrics for the sagas it hosts. */
  withSagaTelemetry?(telemetry: SagaTelemetry | undefined): unknown;
}

/**
 * Instruments a builder with OpenTelemetry: a hook around every dispatch (send/query/publish spans,
 * `catga.requests.*`, W3C trace context in headers), an innermost `observability` behavior (a span
 * and `catga.handler.*` per handler execution), a trace per hosted saga with `catga.saga.*`
 * metrics (sagas hosted before or after this call), and — when the builder's transport is NATS — the
 * engine's counters as observable instruments. Call it after the transport is set. With no OTel
 * SDK registered (and `enabled: "auto"`, the default) it installs nothing: zero cost.
 *
 * ```ts
 * const catga = withObservability(createCatga({ preset: "production", transport })).handle(...).build();
 * ```
 */
export function withObservability<B extends InstrumentableBuilder>(
  builder: B,
  options?: ObservabilityOptions | CatgaObservability,
): B {
  if (typeof (builder as { state?: unknown } | null | undefined)?.state !== "function")
    throw new CatgaConfigError([
      {
        path: "withObservability.builder",
        message: "must be a builder from createCatga(...) (before build()), got something else",
      },
    ]);
  const instrumentation = options instanceof CatgaObservability ? options : new CatgaObservability(options);
  if (!instrumentation.enabled) return builder;
  const transport = builder.state().transport;
  instrumentation.useTransportName(transport?.name);
  builder.withDispatchHook(instrumentation.hook);
  builder.use(instrumentation.behavior);
  builder.withSagaTelemetry?.(instrumentation.sagas);
  const connection = (transport as { connection?: { stats?: unknown } } | undefined)?.connection;
  if (instrumentation.metrics && typeof connection?.stats === "function")
    instrumentation.observeNats(connection as Parameters<CatgaObservability["observeNats"]>[0]);
  return builder;
}
