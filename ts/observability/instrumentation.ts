import { CatgaError, ErrorCodes } from "../errors.js";
import type { IdempotencyStore, StoredOutcome } from "../mediator/behaviors/idempotency.js";
import type { HandlerContext, Headers } from "../mediator/context.js";
import type { ContractKind } from "../mediator/contracts.js";
import type { DispatchHook } from "../mediator/mediator.js";
import {
  type Behavior,
  type BehaviorContext,
  markBuiltIn,
  type PipelineTarget,
} from "../mediator/pipeline.js";
import type { Result } from "../mediator/result.js";
import type { NatsStats } from "../nats/connection.js";
import {
  extractTraceContext,
  hasGlobalMeter,
  hasGlobalTracer,
  injectTraceContext,
  loadOtelApi,
  type MeterProviderLike,
  type OtelApi,
  type OtelAttributes,
  type OtelContext,
  type OtelMeter,
  type OtelSpan,
  type OtelTracer,
  type TracerProviderLike,
} from "./otel.js";

export interface ObservabilityOptions {
  /**
   * The `@opentelemetry/api` module (`import * as api from "@opentelemetry/api"`). Default: loaded
   * from the application's dependencies if installed; without it observability stays off.
   */
  readonly api?: unknown;
  /** Default: the global tracer provider (what `NodeSDK.start()` / `provider.register()` set). */
  readonly tracerProvider?: TracerProviderLike;
  /** Default: the global meter provider. */
  readonly meterProvider?: MeterProviderLike;
  /**
   * `"auto"` (default): traces only when a tracer provider is registered (or given), metrics only
   * when a meter provider is; with no SDK nothing is installed and the mediator keeps its fast
   * paths. `true` installs everything even on the no-op API; `false` installs nothing.
   */
  readonly enabled?: boolean | "auto";
  /** Default true (subject to `enabled`). */
  readonly tracing?: boolean;
  /** Default true (subject to `enabled`). */
  readonly metrics?: boolean;
  /** `messaging.system` for messages that cross the transport. Default: the transport's name, else "catga". */
  readonly wireSystem?: string;
}

/** Name and version of the instrumentation scope. */
export const INSTRUMENTATION_SCOPE = "@catga/native";
const SCOPE_VERSION = "0.1.0";

/** Metric names (fixed; see docs/observability.md). */
export const MetricNames = Object.freeze({
  requestsTotal: "catga.requests.total",
  requestsDuration: "catga.requests.duration",
  requestsActive: "catga.requests.active",
  requestsFailed: "catga.requests.failed",
  handlerExecutions: "catga.handler.executions",
  handlerDuration: "catga.handler.duration",
  transportSent: "catga.transport.messages.sent",
  transportReceived: "catga.transport.messages.received",
  transportBatchSize: "catga.transport.batch.size",
  transportCompressionRatio: "catga.transport.compression.ratio",
  transportBytesSent: "catga.transport.bytes.sent",
  transportBytesUncompressed: "catga.transport.bytes.uncompressed",
  transportFramesSent: "catga.transport.frames.sent",
  transportReconnects: "catga.transport.reconnects",
  transportBackpressureWaits: "catga.transport.backpressure.waits",
  transportBackpressureRejections: "catga.transport.backpressure.rejections",
  transportMalformed: "catga.transport.malformed.received",
  transportRequestFailures: "catga.transport.request.failures",
  outboxPending: "catga.outbox.pending",
  outboxRelayed: "catga.outbox.relayed",
  inboxProcessed: "catga.inbox.processed",
  persistenceLatency: "catga.persistence.latency",
});

/** Attribute keys used on spans and metrics. */
export const Attr = Object.freeze({
  system: "messaging.system",
  destination: "messaging.destination.name",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  messageId: "messaging.message.id",
  conversationId: "messaging.message.conversation_id",
  /**
   * Inbound handler spans: the size of the transport batch the message came in (> 1). Not
   * `messaging.batch.message_count`, which OTel reserves for spans covering a whole batch.
   */
  batchSize: "catga.batch.size",
  type: "catga.message.type",
  kind: "catga.message.kind",
  correlationId: "catga.correlation_id",
  causationId: "catga.causation_id",
  handler: "catga.handler",
  outcome: "catga.outcome",
  errorCode: "catga.error.code",
  errorType: "error.type",
});

/** Envelopes per inbound batch (the engine delivers up to `inboundBatchMax`, 4096 by default, per batch). */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/** What `observeNats` reads: engine counters, and (a `NatsConnection`) a per-batch callback. */
export interface NatsSource {
  stats(): NatsStats;
  observeBatches?(listener: (size: number) => void): () => void;
}

const DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Behaviors of this priority run innermost: a handler span times one handler execution (one retry attempt). */
export const OBSERVABILITY_PRIORITY = Number.MIN_SAFE_INTEGER;

// biome-ignore lint/suspicious/noExplicitAny: OTel instruments are generic over attributes
type Instrument = any;

interface Instruments {
  requestsTotal: Instrument;
  requestsDuration: Instrument;
  requestsActive: Instrument;
  requestsFailed: Instrument;
  handlerExecutions: Instrument;
  handlerDuration: Instrument;
  sent: Instrument;
  received: Instrument;
}

/**
 * A counter kept in process and reported through an observable instrument at collection time:
 * `add` is one Map update keyed by a cached attributes object, far cheaper than an SDK counter's
 * per-call attribute hashing. Same `add(value, attributes)` shape as an OTel counter.
 */
class Tally {
  readonly values = new Map<OtelAttributes, number>();

  add(value: number, attributes: OtelAttributes): void {
    this.values.set(attributes, (this.values.get(attributes) ?? 0) + value);
  }
}

/** Attributes for one message type and route, with one outcome variant per code (made once, reused). */
class AttributeSet {
  readonly base: OtelAttributes;
  readonly span: OtelAttributes;
  readonly spanName: string;
  /** Span options made once (kind + attributes): nothing allocated per span for them. */
  readonly spanOptions: { readonly kind: number; readonly attributes: OtelAttributes };
  private readonly outcomes = new Map<string, OtelAttributes>();

  constructor(base: OtelAttributes, span: OtelAttributes, spanName: string, spanKind: number) {
    this.spanOptions = { kind: spanKind, attributes: span };
    this.base = base;
    this.span = span;
    this.spanName = spanName;
  }

  outcome(code: string): OtelAttributes {
    let attributes = this.outcomes.get(code);
    if (attributes === undefined) {
      // Codes are few in practice; past 256 distinct ones they share "other" (bounded cardinality).
      const key = this.outcomes.size < 256 ? code : "other";
      attributes = this.outcomes.get(key) ?? { ...this.base, [Attr.outcome]: key };
      this.outcomes.set(key, attributes);
    }
    return attributes;
  }
}

/** A parent registered for the headers object a message carries (identity, not content). */
interface ParentEntry {
  readonly context: OtelContext;
  readonly inbound: boolean;
  /** Inbound only: the size of the transport batch the message came in, when > 1. */
  readonly batchSize?: number | undefined;
}

function operationOf(kind: ContractKind): { type: string; name: string } {
  // OTel messaging semconv: operation type `send` (`publish` is deprecated), name `publish`.
  if (kind === "event") return { type: "send", name: "publish" };
  return { type: "send", name: kind === "query" ? "query" : "send" };
}

function seconds(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
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
  private readonly api: OtelApi | undefined;
  private readonly tracer: OtelTracer | undefined;
  private readonly meter: OtelMeter | undefined;
  private readonly instruments: Instruments | undefined;
  private wireSystem: string;
  private readonly explicitWireSystem: boolean;
  /** Parent context per headers object: the send span (local) or the remote parent (inbound). */
  private readonly parents = new WeakMap<Headers, ParentEntry>();
  /** The handler span per handler context, so messages a handler sends become its children. */
  private readonly handlerContexts = new WeakMap<object, OtelContext>();
  /** Per type: one attribute set per (route, kind), indexed `route * 3 + kind` (no key strings per call). */
  private readonly attributeSets = new Map<string, (AttributeSet | undefined)[]>();
  private readonly unobserve = new Set<() => void>();
  /** Created by the first `observeNats`: the NATS instruments, summing every observed connection. */
  private nats: NatsObserver | undefined;
  private persistenceLatency: Instrument | undefined;
  /**
   * True when a context manager carries the active context across awaits (NodeSDK registers
   * AsyncLocalStorage): parents then come from the active context alone. Without one, parents are
   * found through weak maps keyed by the message's headers and the handler's context.
   */
  private readonly ambient: boolean;
  private readonly inboundKey: symbol | undefined;
  /** Ambient mode: carries an inbound message's batch size (when > 1) to its handler spans. */
  private readonly batchKey: symbol | undefined;
  private inboxProcessed: Instrument | undefined;

  constructor(options: ObservabilityOptions = {}) {
    const api = (options.api as OtelApi | undefined) ?? loadOtelApi();
    this.api = api;
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
    this.ambient = api !== undefined && hasContextManager(api);
    this.inboundKey = api?.createContextKey("catga.inbound");
    this.batchKey = api?.createContextKey("catga.batchSize");
    this.explicitWireSystem = options.wireSystem !== undefined;
    this.wireSystem = options.wireSystem ?? "catga";
    if (api !== undefined && this.tracing) {
      const provider = options.tracerProvider ?? api.trace.getTracerProvider();
      this.tracer = provider.getTracer(INSTRUMENTATION_SCOPE, SCOPE_VERSION) as OtelTracer;
    }
    if (meter !== undefined && metrics) {
      this.meter = meter;
      this.instruments = this.createInstruments(meter);
    }
  }

  /** True when anything (traces or metrics) is on. */
  get enabled(): boolean {
    return this.tracing || this.metrics;
  }

  private createInstruments(meter: OtelMeter): Instruments {
    const histogram = { unit: "s", advice: { explicitBucketBoundaries: DURATION_BUCKETS } };
    // Counters are tallied in process and read at collection; only durations are recorded per call.
    const tallies: [Tally, Instrument][] = [];
    const tally = (create: () => Instrument): Tally => {
      const counts = new Tally();
      tallies.push([counts, create()]);
      return counts;
    };
    const instruments: Instruments = {
      requestsTotal: tally(() =>
        meter.createObservableCounter(MetricNames.requestsTotal, {
          description: "Messages dispatched (send, query, publish, and inbound from a transport)",
        }),
      ),
      requestsDuration: meter.createHistogram(MetricNames.requestsDuration, {
        ...histogram,
        description: "Time from dispatch to result, including behaviors and remote round trips",
      }),
      requestsActive: tally(() =>
        meter.createObservableUpDownCounter(MetricNames.requestsActive, {
          description: "Messages dispatched and not yet completed",
        }),
      ),
      requestsFailed: tally(() =>
        meter.createObservableCounter(MetricNames.requestsFailed, {
          description: "Dispatches that ended with an error Result (catga.outcome = the Catga code)",
        }),
      ),
      handlerExecutions: tally(() =>
        meter.createObservableCounter(MetricNames.handlerExecutions, {
          description: "Handler executions (each retry attempt counts)",
        }),
      ),
      handlerDuration: meter.createHistogram(MetricNames.handlerDuration, {
        ...histogram,
        description: "Duration of one handler execution",
      }),
      sent: tally(() =>
        meter.createObservableCounter(MetricNames.transportSent, {
          description: "Messages handed to the transport (remote commands/queries, published events)",
        }),
      ),
      received: tally(() =>
        meter.createObservableCounter(MetricNames.transportReceived, {
          description: "Envelopes received from the transport and dispatched",
        }),
      ),
    };
    meter.addBatchObservableCallback(
      (result) => {
        for (const [counts, observable] of tallies)
          for (const [attributes, value] of counts.values) result.observe(observable, value, attributes);
      },
      tallies.map(([, observable]) => observable),
    );
    return instruments;
  }

  /** Sets the `messaging.system` used for the wire (the transport's name) unless given explicitly. */
  useTransportName(name: string | undefined): void {
    if (!this.explicitWireSystem && name !== undefined) this.wireSystem = name;
  }

  private attributesFor(kind: ContractKind, type: string, routeIndex: 0 | 1 | 2): AttributeSet {
    let sets = this.attributeSets.get(type);
    if (sets === undefined) {
      sets = new Array<AttributeSet | undefined>(9).fill(undefined);
      this.attributeSets.set(type, sets);
    }
    const index = routeIndex * 3 + (kind === "command" ? 0 : kind === "query" ? 1 : 2);
    let set = sets[index];
    if (set === undefined) {
      const system = routeIndex === 0 ? "catga" : this.wireSystem;
      const operation = routeIndex === 2 ? { type: "process", name: "process" } : operationOf(kind);
      const base: OtelAttributes = { [Attr.type]: type, [Attr.kind]: kind, [Attr.system]: system };
      set = new AttributeSet(
        base,
        {
          [Attr.system]: system,
          [Attr.destination]: type,
          [Attr.operationType]: operation.type,
          [Attr.operationName]: operation.name,
          [Attr.type]: type,
          [Attr.kind]: kind,
        },
        `${operation.name} ${type}`,
        kind === "event" ? SPAN_KIND_PRODUCER : SPAN_KIND_CLIENT,
      );
      sets[index] = set;
    }
    return set;
  }

  /** The hook the mediator calls around every dispatch. */
  readonly hook: DispatchHook = {
    around: (context, wire, inbound, run, batchSize) => {
      const api = this.api!;
      const attributes = this.attributesFor(context.kind, context.type, inbound ? 2 : wire ? 1 : 0);
      const instruments = this.instruments;
      const started = instruments === undefined ? 0 : performance.now();
      if (instruments !== undefined) {
        instruments.requestsActive.add(1, attributes.base);
        if (inbound) instruments.received.add(1, attributes.base);
        else if (wire) instruments.sent.add(1, attributes.base);
      }
      let span: OtelSpan | undefined;
      let running: Promise<Result<unknown>>;
      if (inbound) {
        // No span of its own: the handler spans are children of the remote sender's span.
        const remote =
          (this.tracer === undefined ? undefined : extractTraceContext(api, context.headers)) ??
          api.ROOT_CONTEXT;
        if (this.ambient) {
          let marked = remote.setValue(this.inboundKey!, api.trace.getSpan(remote) ?? NO_SPAN);
          if (batchSize !== undefined) marked = marked.setValue(this.batchKey!, batchSize);
          running = api.context.with(marked, run);
        } else {
          this.parents.set(context.headers, { context: remote, inbound: true, batchSize });
          running = run();
        }
      } else if (this.tracer === undefined) {
        running = run();
      } else {
        const parent = this.parentFor(context);
        span = this.tracer.startSpan(attributes.spanName, attributes.spanOptions, parent);
        const spanContext = span.spanContext();
        if (api.isSpanContextValid(spanContext)) {
          const active = api.trace.setSpan(parent, span);
          const headers = injectTraceContext(spanContext, context.headers);
          // The hook's documented right: the message carries its trace context from here on.
          (context as { headers: Headers }).headers = headers;
          if (!this.ambient) this.parents.set(headers, { context: active, inbound: false });
          if (span.isRecording()) describeMessage(span, context);
          running = api.context.with(active, run);
        } else {
          // No trace to continue or record (no-op API): nothing to end or propagate.
          span = undefined;
          running = run();
        }
      }
      if (instruments === undefined && span === undefined) return running;
      return running.then((result) => {
        if (span !== undefined) endSpan(api, span, result);
        if (instruments !== undefined) {
          const outcome = attributes.outcome(result.ok ? "ok" : result.error.code);
          instruments.requestsActive.add(-1, attributes.base);
          instruments.requestsTotal.add(1, outcome);
          instruments.requestsDuration.record(seconds(started), outcome);
          if (!result.ok) instruments.requestsFailed.add(1, outcome);
        }
        return result;
      });
    },
  };

  /** The parent of a message's span: the handler that sent it, else the active span, else W3C headers. */
  private parentFor(context: HandlerContext & { readonly parent?: object | undefined }): OtelContext {
    const api = this.api!;
    if (!this.ambient && context.parent !== undefined) {
      const handler = this.handlerContexts.get(context.parent);
      if (handler !== undefined) return handler;
    }
    const active = api.context.active();
    if (api.trace.getSpan(active) === undefined) {
      const remote = extractTraceContext(api, context.headers);
      if (remote !== undefined) return remote;
    }
    return active;
  }

  /** Innermost behavior: one span and one measurement per handler execution. */
  readonly behavior: Behavior = markBuiltIn({
    name: "observability",
    priority: OBSERVABILITY_PRIORITY,
    create: (target: PipelineTarget) => {
      if (target.remote || (this.tracer === undefined && this.instruments === undefined)) return undefined;
      const type = target.contract.type;
      const sets = [false, true].map((inbound) => {
        const system = inbound ? undefined : "catga";
        const base: OtelAttributes = {
          [Attr.type]: type,
          [Attr.kind]: target.kind,
          [Attr.handler]: target.handlerName,
        };
        const span: OtelAttributes = {
          [Attr.destination]: type,
          [Attr.operationType]: "process",
          [Attr.operationName]: "process",
          [Attr.type]: type,
          [Attr.kind]: target.kind,
          [Attr.handler]: target.handlerName,
        };
        if (system !== undefined) {
          base[Attr.system] = system;
          span[Attr.system] = system;
        }
        return { base, span };
      });
      let local: AttributeSet | undefined;
      let wire: AttributeSet | undefined;
      const setFor = (inbound: boolean): AttributeSet => {
        if (inbound) {
          // The wire system is known once the transport is (at install time or later).
          wire ??= new AttributeSet(
            { ...sets[1]!.base, [Attr.system]: this.wireSystem },
            { ...sets[1]!.span, [Attr.system]: this.wireSystem },
            `process ${type}`,
            SPAN_KIND_CONSUMER,
          );
          return wire;
        }
        local ??= new AttributeSet(sets[0]!.base, sets[0]!.span, `process ${type}`, SPAN_KIND_CONSUMER);
        return local;
      };
      const tracer = this.tracer;
      const instruments = this.instruments;
      const api = this.api!;
      const ambient = this.ambient;
      const inboundKey = this.inboundKey!;
      const batchKey = this.batchKey!;
      return (payload: unknown, ctx: BehaviorContext, next) => {
        const started = instruments === undefined ? 0 : performance.now();
        let parent: OtelContext;
        let inbound: boolean;
        let entry: ParentEntry | undefined;
        if (ambient) {
          // The active context says it all: the send span, or the remote parent marked inbound.
          parent = api.context.active();
          const mark = parent.getValue(inboundKey);
          inbound = mark !== undefined && mark === (api.trace.getSpan(parent) ?? NO_SPAN);
        } else {
          entry = this.parents.get(ctx.headers);
          parent = entry?.context ?? api.context.active();
          inbound = entry?.inbound === true;
        }
        const attributes = setFor(inbound);
        let span: OtelSpan | undefined;
        let running: Promise<Result<unknown>>;
        if (tracer === undefined) {
          // Messages this handler sends are not inbound themselves: drop the mark for them.
          running =
            inbound && ambient
              ? api.context.with(parent.deleteValue(inboundKey), next, undefined, payload, ctx)
              : next(payload, ctx);
        } else {
          span = tracer.startSpan(attributes.spanName, attributes.spanOptions, parent);
          if (api.isSpanContextValid(span.spanContext())) {
            const active = api.trace.setSpan(parent, span);
            if (!ambient) this.handlerContexts.set(ctx, active);
            if (span.isRecording()) {
              describeMessage(span, ctx);
              // The transport batch this message came in. The span covers one message, so not
              // messaging.batch.message_count (OTel: SHOULD NOT be set on single-message spans).
              if (inbound) {
                const batch = ambient ? parent.getValue(batchKey) : entry?.batchSize;
                if (batch !== undefined) span.setAttribute(Attr.batchSize, batch as number);
              }
            }
            running = api.context.with(active, next, undefined, payload, ctx);
          } else {
            span = undefined;
            running = next(payload, ctx);
          }
        }
        if (span === undefined && instruments === undefined) return running;
        return running.then((result) => {
          if (span !== undefined) endSpan(api, span, result);
          if (instruments !== undefined) {
            const outcome = attributes.outcome(result.ok ? "ok" : result.error.code);
            instruments.handlerExecutions.add(1, outcome);
            instruments.handlerDuration.record(seconds(started), outcome);
          }
          return result;
        });
      };
    },
  });

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
      [Attr.system]: this.wireSystem === "catga" ? "nats" : this.wireSystem,
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
  observeRelay(
    relay: {
      pending(): Promise<number>;
      readonly stats: { sent: number; duplicates: number; failed: number; errors: number };
    },
    options: { name?: string } = {},
  ): () => void {
    const meter = this.meter;
    if (meter === undefined) return () => undefined;
    const base = { "catga.outbox": options.name ?? "default" };
    const pending = meter.createObservableGauge(MetricNames.outboxPending, {
      description: "Outbox rows waiting to be relayed",
    });
    const relayed = meter.createObservableCounter(MetricNames.outboxRelayed, {
      description: "Outbox rows handled by the relay, by outcome (sent, duplicate, failed, error)",
    });
    const observables = [pending, relayed];
    const callback = async (result: {
      // biome-ignore lint/suspicious/noExplicitAny: BatchObservableResult over observables of any attributes
      observe(observable: any, value: number, attributes?: OtelAttributes): void;
    }) => {
      const { sent, duplicates, failed, errors } = relay.stats;
      result.observe(relayed, sent, { ...base, [Attr.outcome]: "sent" });
      result.observe(relayed, duplicates, { ...base, [Attr.outcome]: "duplicate" });
      result.observe(relayed, failed, { ...base, [Attr.outcome]: "failed" });
      result.observe(relayed, errors, { ...base, [Attr.outcome]: "error" });
      try {
        result.observe(pending, await relay.pending(), base);
      } catch {
        // store down: no reading this time (the relay reports the error itself)
      }
    };
    meter.addBatchObservableCallback(callback, observables);
    const stop = () => {
      meter.removeBatchObservableCallback(callback, observables);
      this.unobserve.delete(stop);
    };
    this.unobserve.add(stop);
    return stop;
  }

  /**
   * Wraps an idempotency (inbox) store: `catga.persistence.latency` per operation and
   * `catga.inbox.processed` (a `set` = one message processed and recorded; a `get` hit = a
   * duplicate). Batch methods (`getMany`, `setMany`) are passed through and measured too.
   */
  instrumentStore<S extends IdempotencyStore>(store: S, name = "inbox"): S {
    const meter = this.meter;
    if (meter === undefined) return store;
    this.persistenceLatency ??= meter.createHistogram(MetricNames.persistenceLatency, {
      unit: "s",
      description: "Latency of store operations",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.inboxProcessed ??= meter.createCounter(MetricNames.inboxProcessed, {
      description: "Inbox entries: processed (stored) or duplicate (replayed from the store)",
    });
    const latency = this.persistenceLatency;
    const processed = this.inboxProcessed;
    const attrs = (operation: string, outcome: string) => ({
      "catga.store": name,
      "catga.store.operation": operation,
      [Attr.outcome]: outcome,
    });
    const measure = <T>(operation: string, call: () => T, count?: (value: Awaited<T>) => void): T => {
      const started = performance.now();
      const done = (outcome: string) => latency.record(seconds(started), attrs(operation, outcome));
      let out: T;
      try {
        out = call();
      } catch (thrown) {
        done(codeOf(thrown));
        throw thrown;
      }
      // Any thenable (a store may answer with another library's promise), not only `Promise`.
      if (out != null && typeof (out as { then?: unknown }).then === "function") {
        return Promise.resolve(out).then(
          (value) => {
            done("ok");
            count?.(value as Awaited<T>);
            return value;
          },
          (thrown: unknown) => {
            done(codeOf(thrown));
            throw thrown;
          },
        ) as T;
      }
      done("ok");
      count?.(out as Awaited<T>);
      return out;
    };
    const hit = { "catga.store": name, [Attr.outcome]: "duplicate" };
    const stored = { "catga.store": name, [Attr.outcome]: "processed" };
    return new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        switch (property) {
          case "get":
            return (key: string) =>
              measure(
                "get",
                () => value.call(target, key),
                (found: StoredOutcome | undefined) => {
                  if (found !== undefined) processed.add(1, hit);
                },
              );
          case "set":
            return (key: string, outcome: StoredOutcome, ttlMs: number) =>
              measure(
                "set",
                () => value.call(target, key, outcome, ttlMs),
                () => processed.add(1, stored),
              );
          case "getMany":
            return (keys: readonly string[]) =>
              measure(
                "getMany",
                () => value.call(target, keys),
                (found: readonly (StoredOutcome | undefined)[]) => {
                  const hits = found.filter((entry) => entry !== undefined).length;
                  if (hits > 0) processed.add(hits, hit);
                },
              );
          case "setMany":
            return (entries: readonly unknown[], ttlMs: number) =>
              measure(
                "setMany",
                () => value.call(target, entries, ttlMs),
                () => processed.add(entries.length, stored),
              );
          default:
            return value.bind(target);
        }
      },
    });
  }

  /** Stops every observable callback registered by `observeNats` / `observeRelay`. */
  shutdown(): void {
    for (const stop of [...this.unobserve]) stop();
  }
}

/** The engine counters `observeNats` reports: stats key, metric name, description, unit. */
const NATS_COUNTERS: readonly (readonly [keyof NatsStats, string, string, string?])[] = [
  ["bytesSent", MetricNames.transportBytesSent, "Bytes written to NATS (after compression)", "By"],
  [
    "bytesBeforeCompression",
    MetricNames.transportBytesUncompressed,
    "Envelope bytes handed to the engine before framing/compression",
    "By",
  ],
  ["framesSent", MetricNames.transportFramesSent, "CTG1 frames published"],
  ["reconnects", MetricNames.transportReconnects, "Reconnects of the NATS client"],
  ["backpressureWaits", MetricNames.transportBackpressureWaits, "Publishes that waited for buffer room"],
  [
    "backpressureRejections",
    MetricNames.transportBackpressureRejections,
    "Publishes rejected by backpressure (policy reject)",
  ],
  ["malformedReceived", MetricNames.transportMalformed, "Inbound messages skipped as malformed"],
  ["requestFailures", MetricNames.transportRequestFailures, "Requests that failed or timed out"],
];

interface ObservedConnection {
  /** How many `observeNats` calls hold it (the same connection observed twice counts once). */
  refs: number;
  /** Its last readable stats (kept when it closes: the sums never go down). */
  last: NatsStats | undefined;
  readonly stopBatches: (() => void) | undefined;
}

/**
 * The NATS instruments of one `CatgaObservability`: one batch callback that sums the counters of
 * every observed connection under one attribute set (one series per metric, whatever the number
 * of connections), and one batch-size histogram every connection records into.
 */
class NatsObserver {
  private readonly connections = new Map<NatsSource, ObservedConnection>();
  /** Last counts of connections no longer observed, still part of the sums. */
  private readonly retired = new Map<keyof NatsStats, number>();
  /** What each of those added to `retired`: taken out again if it is observed anew, since its
   * own counters go on from those values. Weak, so a dropped connection is not kept alive. */
  private readonly retiredBy = new WeakMap<NatsSource, NatsStats>();
  private readonly counters: readonly (readonly [keyof NatsStats, Instrument])[];
  private readonly ratio: Instrument;
  private readonly batchSize: Instrument;
  private readonly observables: Instrument[];
  /** Summed bytes at the previous collection, for the compression ratio since then. */
  private lastWire = 0;
  private lastRaw = 0;
  private registered = false;

  constructor(
    private readonly meter: OtelMeter,
    private readonly attributes: OtelAttributes,
  ) {
    this.counters = NATS_COUNTERS.map(([key, name, description, unit]) => [
      key,
      meter.createObservableCounter(name, { description, ...(unit ? { unit } : {}) }),
    ]);
    this.batchSize = meter.createHistogram(MetricNames.transportBatchSize, {
      unit: "{message}",
      description: "Envelopes per inbound batch delivered to a subscription (one record per batch)",
      advice: { explicitBucketBoundaries: BATCH_BUCKETS },
    });
    this.ratio = meter.createObservableGauge(MetricNames.transportCompressionRatio, {
      description: "Bytes before compression / bytes on the wire, since the last collection",
    });
    this.observables = [...this.counters.map(([, counter]) => counter), this.ratio];
  }

  add(target: NatsSource): void {
    const known = this.connections.get(target);
    if (known !== undefined) {
      known.refs++;
      return;
    }
    const counted = this.retiredBy.get(target);
    if (counted !== undefined) {
      this.retiredBy.delete(target);
      for (const [key] of NATS_COUNTERS) this.retired.set(key, (this.retired.get(key) ?? 0) - counted[key]);
    }
    const attributes = this.attributes;
    const batchSize = this.batchSize;
    // Recorded where the batch is known: one call per inbound batch, nothing per message.
    const stopBatches = target.observeBatches?.((size) => batchSize.record(size, attributes));
    // Its retired counts move back into the entry: a closed connection observed again keeps them.
    this.connections.set(target, { refs: 1, last: counted, stopBatches });
    if (!this.registered) {
      this.meter.addBatchObservableCallback(this.collect, this.observables);
      this.registered = true;
    }
  }

  remove(target: NatsSource): void {
    const entry = this.connections.get(target);
    if (entry === undefined || --entry.refs > 0) return;
    this.connections.delete(target);
    entry.stopBatches?.();
    const last = read(target) ?? entry.last;
    if (last !== undefined) {
      for (const [key] of NATS_COUNTERS) this.retired.set(key, (this.retired.get(key) ?? 0) + last[key]);
      this.retiredBy.set(target, last);
    }
    if (this.connections.size === 0 && this.registered) {
      this.meter.removeBatchObservableCallback(this.collect, this.observables);
      this.registered = false;
    }
  }

  private readonly collect = (result: {
    // biome-ignore lint/suspicious/noExplicitAny: BatchObservableResult over observables of any attributes
    observe(observable: any, value: number, attributes?: OtelAttributes): void;
  }): void => {
    const totals = new Map(this.retired);
    for (const [target, entry] of this.connections) {
      // A closed connection answers no more: its last counts stand.
      entry.last = read(target) ?? entry.last;
      const stats = entry.last;
      if (stats === undefined) continue;
      for (const [key] of NATS_COUNTERS) totals.set(key, (totals.get(key) ?? 0) + stats[key]);
    }
    for (const [key, counter] of this.counters)
      result.observe(counter, totals.get(key) ?? 0, this.attributes);
    const wire = totals.get("bytesSent") ?? 0;
    const raw = totals.get("bytesBeforeCompression") ?? 0;
    if (wire > this.lastWire)
      result.observe(this.ratio, (raw - this.lastRaw) / (wire - this.lastWire), this.attributes);
    this.lastWire = wire;
    this.lastRaw = raw;
  };
}

/** A connection's stats, or undefined when it cannot answer (closed). */
function read(target: NatsSource): NatsStats | undefined {
  try {
    return target.stats();
  } catch {
    return undefined;
  }
}

// SpanKind values are fixed by the OTel API (a const enum there; plain numbers here, no import).
const SPAN_KIND_CLIENT = 2;
const SPAN_KIND_PRODUCER = 3;
const SPAN_KIND_CONSUMER = 4;

/** Marks an inbound context whose remote parent is no span at all (no traceparent came). */
const NO_SPAN = Symbol("catga.noSpan");

/** True when the registered context manager really propagates `context.with` (not the no-op one). */
function hasContextManager(api: OtelApi): boolean {
  const probe = api.ROOT_CONTEXT.setValue(api.createContextKey("catga.probe"), true);
  return api.context.with(probe, () => api.context.active() === probe);
}

function codeOf(thrown: unknown): string {
  return thrown instanceof CatgaError ? thrown.code : ErrorCodes.STORE_FAILED;
}

function describeMessage(span: OtelSpan, context: HandlerContext): void {
  span.setAttribute(Attr.messageId, context.messageId);
  span.setAttribute(Attr.correlationId, context.correlationId);
  span.setAttribute(Attr.conversationId, context.correlationId);
  const causation = context.causationId;
  if (causation !== undefined) span.setAttribute(Attr.causationId, causation);
}

function endSpan(api: OtelApi, span: OtelSpan, result: Result<unknown>): void {
  if (!result.ok) {
    const { code, message, cause } = result.error;
    span.setAttribute(Attr.errorCode, code);
    span.setAttribute(Attr.errorType, code);
    span.recordException({
      code,
      name: code,
      message,
      ...(cause instanceof Error && cause.stack ? { stack: cause.stack } : {}),
    });
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: `${code}: ${message}` });
  }
  span.end();
}
