// Spans and `catga.saga.*` metrics of hosted sagas: one trace per instance, kept with it as a
// `traceparent`, so the spans of its steps and compensations join it in whichever process runs them.
import type {
  SagaEndInfo,
  SagaStartSpan,
  SagaStateSizeInfo,
  SagaStepInfo,
  SagaTelemetry,
} from "../mediator/extension.js";
import type { Result } from "../mediator/result.js";
import type { Instrument } from "./metrics.js";
import { Attr, MetricNames } from "./names.js";
import {
  extractTraceContext,
  injectTraceContext,
  type OtelApi,
  type OtelAttributes,
  type OtelMeter,
  type OtelTracer,
  TRACEPARENT,
} from "./otel.js";
import { endSpan } from "./tracing.js";

/** Bucket bounds, in seconds, of `catga.saga.duration`: sagas last from milliseconds to days. */
export const SAGA_DURATION_BUCKETS = [
  0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400,
];

const SPAN_KIND_INTERNAL = 0;

interface SagaInstruments {
  readonly started: Instrument;
  readonly completed: Instrument;
  readonly compensated: Instrument;
  readonly failed: Instrument;
  readonly duration: Instrument;
  readonly active: Instrument;
  readonly stateLarge: Instrument;
}

/**
 * The observability layer's {@link SagaTelemetry}. A saga's trace starts at its creation: a root
 * span `saga <name>` (linked to the span of the message that started it) that ends once the
 * instance is stored; every step's send is a child span `saga <name> <step>`, every compensation
 * attempt `saga <name> undo <step>`, each the parent of the send's own spans.
 */
export class SagaInstrumentation implements SagaTelemetry {
  private readonly instruments: SagaInstruments | undefined;
  /** Attributes per saga name, made once (metric attribute objects are reused, not rebuilt). */
  private readonly attributes = new Map<string, OtelAttributes>();

  constructor(
    private readonly api: OtelApi | undefined,
    private readonly tracer: OtelTracer | undefined,
    meter: OtelMeter | undefined,
  ) {
    this.instruments = meter === undefined ? undefined : createSagaInstruments(meter);
  }

  start(saga: string, id: string): SagaStartSpan {
    const { api, tracer } = this;
    const span =
      api === undefined || tracer === undefined
        ? undefined
        : (() => {
            const caller = api.trace.getSpan(api.context.active())?.spanContext();
            return tracer.startSpan(`saga ${saga}`, {
              root: true,
              kind: SPAN_KIND_INTERNAL,
              attributes: { [Attr.saga]: saga, [Attr.sagaId]: id },
              ...(caller === undefined ? {} : { links: [{ context: caller }] }),
            });
          })();
    const trace = span === undefined ? undefined : injectTraceContext(span.spanContext(), {})[TRACEPARENT];
    return {
      trace,
      end: (created) => {
        if (created && this.instruments !== undefined) {
          this.instruments.started.add(1, this.of(saga));
          this.instruments.active.add(1, this.of(saga));
        }
        span?.setAttribute(Attr.sagaCreated, created);
        span?.end();
      },
    };
  }

  async step(info: SagaStepInfo, run: () => Promise<Result<unknown>>): Promise<Result<unknown>> {
    const { api, tracer } = this;
    if (api === undefined || tracer === undefined) return run();
    const parent =
      (info.trace === undefined ? undefined : extractTraceContext(api, { [TRACEPARENT]: info.trace })) ??
      api.context.active();
    const compensation = info.kind === "compensation";
    const span = tracer.startSpan(
      compensation ? `saga ${info.saga} undo ${info.step}` : `saga ${info.saga} ${info.step}`,
      {
        kind: SPAN_KIND_INTERNAL,
        attributes: {
          [Attr.saga]: info.saga,
          [Attr.sagaId]: info.id,
          [Attr.sagaStep]: info.step,
          [Attr.sagaOperation]: info.kind,
          ...(info.attempt === undefined ? {} : { [Attr.sagaAttempt]: info.attempt }),
        },
      },
      parent,
    );
    let result: Result<unknown>;
    try {
      result = await api.context.with(api.trace.setSpan(parent, span), run);
    } catch (thrown) {
      span.end();
      throw thrown;
    }
    endSpan(api, span, result);
    return result;
  }

  ended(info: SagaEndInfo): void {
    const instruments = this.instruments;
    if (instruments === undefined) return;
    const base = this.of(info.saga);
    instruments[info.status].add(1, base);
    if (!info.resumed) instruments.active.add(-1, base); // a resumed one left the count when it failed
    instruments.duration.record(Math.max(0, Date.now() - info.startedAt) / 1000, {
      ...base,
      [Attr.sagaStatus]: info.status,
    });
  }

  largeState(info: SagaStateSizeInfo): void {
    this.instruments?.stateLarge.add(1, { ...this.of(info.saga), [Attr.sagaStateLimit]: info.limit });
  }

  private of(saga: string): OtelAttributes {
    let attributes = this.attributes.get(saga);
    if (attributes === undefined) {
      attributes = { [Attr.saga]: saga };
      this.attributes.set(saga, attributes);
    }
    return attributes;
  }
}

function createSagaInstruments(meter: OtelMeter): SagaInstruments {
  return {
    started: meter.createCounter(MetricNames.sagaStarted, { description: "Saga instances created" }),
    completed: meter.createCounter(MetricNames.sagaCompleted, {
      description: "Saga instances that ran every step",
    }),
    compensated: meter.createCounter(MetricNames.sagaCompensated, {
      description: "Saga instances whose done steps were undone after a failure",
    }),
    failed: meter.createCounter(MetricNames.sagaFailed, {
      description: "Saga instances stopped for an operator (a compensation kept failing)",
    }),
    duration: meter.createHistogram(MetricNames.sagaDuration, {
      unit: "s",
      advice: { explicitBucketBoundaries: SAGA_DURATION_BUCKETS },
      description: "Time from a saga's start to completed, compensated or failed (catga.saga.status)",
    }),
    stateLarge: meter.createCounter(MetricNames.sagaStateLarge, {
      description:
        "Saga states past stateWarningBytes (catga.saga.state.limit=warning, stored) or maxStateBytes (max: the step failed)",
    }),
    active: meter.createUpDownCounter(MetricNames.sagaActive, {
      description:
        "Saga instances in progress: started here minus ended here; sum it over the hosts (an instance may end on another)",
    }),
  };
}
