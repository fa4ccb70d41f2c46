// Failure-path metrics from the mediator's signals (ts/mediator/signals.ts): retries, circuit
// breaker transitions, JetStream redeliveries and ack latency.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { type AckSignal, type BreakerSignal, type RetrySignal, SignalChannels } from "../mediator/signals.js";
import { DURATION_BUCKETS, type Instrument } from "./metrics.js";
import { Attr, MetricNames } from "./names.js";
import type { OtelAttributes, OtelMeter } from "./otel.js";

/** Attribute objects reused per distinct combination: the SDK hashes fewer fresh objects. */
class AttributeCache {
  private readonly byKey = new Map<string, OtelAttributes>();

  get(key: string, make: () => OtelAttributes): OtelAttributes {
    let attributes = this.byKey.get(key);
    if (attributes === undefined) {
      attributes = make();
      this.byKey.set(key, attributes);
    }
    return attributes;
  }
}

/**
 * Per meter: the signals are process-wide, so two instrumentations on one meter (two mediators
 * in a process) share one subscription rather than counting every retry twice.
 */
const subscriptions = new WeakMap<OtelMeter, { users: number; stop: () => void }>();

/**
 * Subscribes the failure-path instruments to the signal channels (once per meter); returns a
 * function that releases this use. Signals are published only while someone subscribes, so
 * without metrics the behaviors pay one `hasSubscribers` check.
 */
export function observeFailureSignals(meter: OtelMeter): () => void {
  let shared = subscriptions.get(meter);
  if (shared === undefined) {
    shared = { users: 0, stop: subscribeSignals(meter) };
    subscriptions.set(meter, shared);
  }
  shared.users++;
  let released = false;
  return () => {
    if (released || shared === undefined) return;
    released = true;
    if (--shared.users === 0) {
      shared.stop();
      subscriptions.delete(meter);
    }
  };
}

function subscribeSignals(meter: OtelMeter): () => void {
  const retries: Instrument = meter.createCounter(MetricNames.retries, {
    description: "Retry attempts made by the retry behavior, by message type and the failure's code",
  });
  const transitions: Instrument = meter.createCounter(MetricNames.breakerTransitions, {
    description: "Circuit breaker state changes, by key, from and to",
  });
  const redeliveries: Instrument = meter.createCounter(MetricNames.jetstreamRedeliveries, {
    description: "JetStream deliveries after the first (deliveryCount > 1), by stream and consumer",
  });
  const ackLatency: Instrument = meter.createHistogram(MetricNames.jetstreamAckLatency, {
    unit: "s",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    description: "From a JetStream batch's arrival to each delivery's ack/nak/dead-letter decision",
  });
  const cache = new AttributeCache();
  const onRetry = (message: unknown) => {
    const { type, code } = message as RetrySignal;
    retries.add(
      1,
      cache.get(`r\u0000${type}\u0000${code}`, () => ({ [Attr.type]: type, [Attr.errorCode]: code })),
    );
  };
  const onBreaker = (message: unknown) => {
    const { key, from, to } = message as BreakerSignal;
    transitions.add(
      1,
      cache.get(`b\u0000${key}\u0000${from}\u0000${to}`, () => ({
        [Attr.breakerKey]: key,
        [Attr.breakerFrom]: from,
        [Attr.breakerTo]: to,
      })),
    );
  };
  const onAck = (message: unknown) => {
    const { stream, durable, deliveryCount, action, latencyMs } = message as AckSignal;
    const consumer = cache.get(`c\u0000${stream}\u0000${durable}`, () => ({
      [Attr.stream]: stream,
      [Attr.consumer]: durable,
    }));
    if (deliveryCount > 1) redeliveries.add(1, consumer);
    ackLatency.record(
      latencyMs / 1000,
      cache.get(`a\u0000${stream}\u0000${durable}\u0000${action}`, () => ({
        ...consumer,
        [Attr.ackAction]: action,
      })),
    );
  };
  subscribe(SignalChannels.retry, onRetry);
  subscribe(SignalChannels.breaker, onBreaker);
  subscribe(SignalChannels.ack, onAck);
  return () => {
    unsubscribe(SignalChannels.retry, onRetry);
    unsubscribe(SignalChannels.breaker, onBreaker);
    unsubscribe(SignalChannels.ack, onAck);
  };
}
