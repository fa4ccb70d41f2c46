// `CatgaObservability`, the front of the OpenTelemetry instrumentation: it resolves the options once
// and hands each job to its module (dispatch.ts, nats-stats.ts, relay-observer.ts, store-metrics.ts,
// cluster-observer.ts).

import { boolean, describe, type FieldCheck, IssueList, nonEmptyString } from "../checks.js";
import type { IdempotencyStore } from "../mediator/behaviors/idempotency-store.js";
import type { SagaTelemetry } from "../mediator/extension.js";
import type { DispatchHook } from "../mediator/mediator.js";
import type { Behavior } from "../mediator/pipeline.js";
import { type ClusterSource, observeCluster } from "./cluster-observer.js";
import { type ConsumerLagSource, observeConsumers } from "./consumer-observer.js";
import { type DeadLetterSource, observeDeadLetters } from "./dead-letter-observer.js";
import { DispatchInstrumentation } from "./dispatch.js";
import { observeFailureSignals } from "./failure-signals.js";
import { createInstruments, type Instruments } from "./metrics.js";
import { Attr, INSTRUMENTATION_SCOPE, SCOPE_VERSION } from "./names.js";
import { NatsObserver, type NatsSource } from "./nats-stats.js";
import {
  hasGlobalMeter,
  hasGlobalTracer,
  loadOtelApi,
  type MeterProviderLike,
  type OtelApi,
  type OtelMeter,
  type OtelTracer,
  type TracerProviderLike,
} from "./otel.js";
import { observeRelay, type RelaySource } from "./relay-observer.js";
import { SagaInstrumentation } from "./saga-telemetry.js";
import { StoreMetrics } from "./store-metrics.js";

export type { ClusterSource } from "./cluster-observer.js";
export type { ConsumerLagSource } from "./consumer-observer.js";
export { OBSERVABILITY_PRIORITY } from "./dispatch.js";
export { Attr, INSTRUMENTATION_SCOPE, MetricNames } from "./names.js";
export type { NatsSource } from "./nats-stats.js";

/** Options of `withObservability`: OpenTelemetry traces and metrics for the mediator. */
export interface ObservabilityOptions {
  /**
   * The `@opentelemetry/api` module (`import * as api from "@opentelemetry/api"`); without it
   * observability stays off.
   * @default loaded from the application's dependencies if installed
   */
  readonly api?: unknown;
  /**
   * Tracer provider for spans; giving one turns tracing on under `enabled: "auto"`.
   * @default the global tracer provider (what `NodeSDK.start()` / `provider.register()` set)
   */
  readonly tracerProvider?: TracerProviderLike;
  /**
   * Meter provider for metrics; giving one turns metrics on under `enabled: "auto"`.
   * @default the global meter provider
   */
  readonly meterProvider?: MeterProviderLike;
  /**
   * `"auto"`: traces only when a tracer provider is registered (or given), metrics only when a
   * meter provider is; with no SDK nothing is installed and the mediator keeps its fast paths.
   * `true` installs everything even on the no-op API; `false` installs nothing.
   * @default "auto"
   */
  readonly enabled?: boolean | "auto";
  /**
   * Record spans; `false` turns them off whatever {@link ObservabilityOptions.enabled} says.
   * @default true (subject to `enabled`)
   */
  readonly tracing?: boolean;
  /**
   * Record metrics; `false` turns them off whatever {@link ObservabilityOptions.enabled} says.
   * @default true (subject to `enabled`)
   */
  readonly metrics?: boolean;
  /**
   * `messaging.system` attribute for messages that cross the transport.
   * @default the transport's name, else "catga"
   */
  readonly wireSystem?: string;
}

/**
 * OpenTelemetry instrumentation for a Catga mediator: a span per send/query/publish and per
 * handler execution, W3C trace context in envelope headers, the `catga.*` metrics, and observable
 * instruments over the counters the Rust core keeps. Depends only on `@opentelemetry/api`.
 */
export class CatgaObservability {
  /** True when spans are produced. */
  readonly tracing: boolean;
  /** True when metrics are recorded. */
  readonly metrics: boolean;
  /** The hook the mediator calls around every dispatch. */
  readonly hook: DispatchHook;
  /** Innermost behavior: one span and one measurement per handler execution. */
  readonly behavior: Behavior;
  /** Spans and `catga.saga.*` metrics of the sagas a builder hosts. */
  readonly sagas: SagaTelemetry;
  private readonly meter: OtelMeter | undefined;
  private readonly dispatch: DispatchInstrumentation;
  private readonly explicitWireSystem: boolean;
  private readonly unobserve = new Set<() => void>();
  /** Created by the first `observeNats`: the NATS instruments, summing every observed connection. */
  private nats: NatsObserver | undefined;
  /** Created by the first `instrumentStore`: the store instruments every wrapped store records into. */
  private store: StoreMetrics | undefined;

  /** The instrumentation, not yet installed (see `withObservability`); prefer {@link observability}. */
  constructor(options: ObservabilityOptions = {}) {
    checkObservabilityOptions(options);
    const api = (options.api as OtelApi | undefined) ?? loadOtelApi();
    const enabled = options.enabled ?? "auto";
    const on = (wanted: boolean | undefined, explicit: unknown, registered: (api: OtelApi) => boolean) =>
      api !== undefined &&
      wanted !== false &&
      enabled !== false &&
      (enabled === true || explicit !== undefined || registered(api));
    this.tracing = on(options.tracing, options.tracerProvider, hasGlobalTracer);
    let metrics = on(options.metrics, options.meterProvider, hasGlobalMeter);
    let meter: OtelMeter | undefined;
    if (api !== undefined && metrics) {
      const provider = options.meterProvider ?? api.metrics.getMeterProvider();
      meter = provider.getMeter(INSTRUMENTATION_SCOPE, SCOPE_VERSION) as OtelMeter;
      // A meter from the no-op provider stays no-op for good (the metrics API has no proxy).
      if (meter === api.createNoopMeter()) metrics = false;
    }
    this.metrics = metrics;
    this.explicitWireSystem = options.wireSystem !== undefined;
    let tracer: OtelTracer | undefined;
    if (api !== undefined && this.tracing) {
      const provider = options.tracerProvider ?? api.trace.getTracerProvider();
      tracer = provider.getTracer(INSTRUMENTATION_SCOPE, SCOPE_VERSION) as OtelTracer;
    }
    let instruments: Instruments | undefined;
    if (meter !== undefined && metrics) {
      this.meter = meter;
      instruments = createInstruments(meter);
      // Retries, breaker transitions, JetStream redeliveries and ack latency (until shutdown()).
      this.track(observeFailureSignals(meter));
    }
    this.dispatch = new DispatchInstrumentation(api, tracer, instruments, options.wireSystem ?? "catga");
    this.hook = this.dispatch.hook;
    this.behavior = this.dispatch.behavior;
    this.sagas = new SagaInstrumentation(api, tracer, this.meter);
  }

  /** True when anything (traces or metrics) is on. */
  get enabled(): boolean {
    return this.tracing || this.metrics;
  }

  /** Sets the `messaging.system` used for the wire (the transport's name) unless given explicitly. */
  useTransportName(name: string | undefined): void {
    if (!this.explicitWireSystem && name !== undefined) this.dispatch.wireSystem = name;
  }

  /**
   * Reads a NATS connection's engine counters (bytes, frames, reconnects, backpressure waits...)
   * in bulk at each metric collection, through observable instruments: nothing per message.
   * Accepts a `NatsConnection`, a `NatsTransport` (its connection) or anything with `stats()`.
   * Every connection observed by one instance is reported as one series (their counters summed,
   * attribute `messaging.system` only); observing the same connection twice counts it once. The
   * counts of a connection that closed or stopped being observed stay in the sums, so the counters
   * never go down. Returns a function that stops observing this connection.
   */
  observeNats(source: NatsSource | { readonly connection: NatsSource }): () => void {
    const meter = this.meter;
    if (meter === undefined) return () => undefined;
    const target: NatsSource = "stats" in source ? source : source.connection;
    this.nats ??= new NatsObserver(meter, {
      [Attr.system]: this.dispatch.wireSystem === "catga" ? "nats" : this.dispatch.wireSystem,
    });
    const nats = this.nats;
    nats.add(target);
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      nats.remove(target);
      this.unobserve.delete(stop);
    };
    this.unobserve.add(stop);
    return stop;
  }

  /**
   * Observes an outbox relay: `catga.outbox.pending` (rows waiting, read with `pending()` at each
   * collection) and `catga.outbox.relayed` (its counters: sent, duplicates, failed, errors).
   */
  observeRelay(relay: RelaySource, options: { name?: string } = {}): () => void {
    const meter = this.meter;
    if (meter === undefined) return () => undefined;
    const remove = observeRelay(meter, relay, options.name ?? "default");
    return this.track(remove);
  }

  /**
   * Observes dead letters: `catga.deadletters` (a gauge per `catga.message.kind` and
   * `catga.message.type`), read with `counts()` at each collection. Pass `deadLetters(transport)`
   * from `@catga/native/operations`.
   */
  observeDeadLetters(source: DeadLetterSource): () => void {
    const meter = this.meter;
    if (meter === undefined) return () => undefined;
    const remove = observeDeadLetters(meter, source);
    return this.track(remove);
  }

  /**
   * Observes JetStream consumers: `catga.jetstream.consumer.pending` (messages not yet delivered:
   * the consumer's lag) and `.ack_pending`, per stream and consumer, read with `consumers()` at each
   * collection. Pass `jetstreamConsumers(transport)` from `@catga/native/operations`.
   */
  observeConsumers(source: ConsumerLagSource): () => void {
    const meter = this.meter;
    if (meter === undefined) return () => undefined;
    return this.track(observeConsumers(meter, source));
  }

  /**
   * Observes a cluster (`@catga/native/cluster`): `catga.cluster.members.active` (instances in
   * its membership view, per service) and `catga.cluster.leader.elections` (elections it won,
   * per leadership name), read at each collection.
   */
  observeCluster(cluster: ClusterSource): () => void {
    const meter = this.meter;
    if (meter === undefined) return () => undefined;
    const remove = observeCluster(meter, cluster);
    return this.track(remove);
  }

  /**
   * Wraps an idempotency (inbox) store: `catga.persistence.latency` per operation and
   * `catga.inbox.processed` (a `set` = one message processed and recorded; a `get` hit = a
   * duplicate, as is a `claim` answered "done"). Batch methods (`getMany`, `setMany`) and claim
   * methods (`claim`, `extend`, `release`) are passed through and measured too.
   */
  instrumentStore<S extends IdempotencyStore>(store: S, name = "inbox"): S {
    const meter = this.meter;
    if (meter === undefined) return store;
    this.store ??= new StoreMetrics(meter);
    return this.store.wrap(store, name);
  }

  /** Keeps `remove` until it is called or `shutdown()` runs, whichever comes first. */
  private track(remove: () => void): () => void {
    const stop = () => {
      remove();
      this.unobserve.delete(stop);
    };
    this.unobserve.add(stop);
    return stop;
  }

  /**
   * Stops every observable callback registered by `observeNats` / `observeRelay` /
   * `observeDeadLetters` / `observeConsumers` / `observeCluster`, and the failure-path signals.
   */
  shutdown(): void {
    for (const stop of [...this.unobserve]) stop();
  }
}

const withMethod =
  (method: string): FieldCheck =>
  (value) =>
    typeof (value as Record<string, unknown> | null)?.[method] === "function"
      ? undefined
      : `must be an object with ${method}(), got ${describe(value)}`;

/** The options' fields: a misspelt or mistyped one would quietly instrument less (or throw later). */
const OBSERVABILITY_FIELDS: Record<keyof ObservabilityOptions, FieldCheck> = {
  api: (value) =>
    typeof value === "object" && value !== null
      ? undefined
      : `must be the @opentelemetry/api module, got ${describe(value)}`,
  tracerProvider: withMethod("getTracer"),
  meterProvider: withMethod("getMeter"),
  enabled: (value) =>
    typeof value === "boolean" || value === "auto"
      ? undefined
      : `must be true, false or "auto", got ${describe(value)}`,
  tracing: boolean,
  metrics: boolean,
  wireSystem: nonEmptyString,
};

/** Throws one CatgaConfigError listing every bad option. */
function checkObservabilityOptions(options: unknown): void {
  const issues = new IssueList();
  issues.checkObject("observability", options, OBSERVABILITY_FIELDS);
  issues.throwIfAny();
}
