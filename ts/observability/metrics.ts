// The dispatch instruments (`catga.requests.*`, `catga.handler.*`, transport counts) on a meter.
import { MetricNames } from "./names.js";
import type { OtelAttributes, OtelMeter } from "./otel.js";

/** Bucket bounds, in seconds, of every duration histogram. */
export const DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

// biome-ignore lint/suspicious/noExplicitAny: OTel instruments are generic over attributes
export type Instrument = any;

export interface Instruments {
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

/** Creates the dispatch instruments; counters are read through one batch callback at collection. */
export function createInstruments(meter: OtelMeter): Instruments {
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

/** Seconds elapsed since a `performance.now()` reading. */
export function seconds(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}
