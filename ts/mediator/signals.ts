import { channel } from "node:diagnostics_channel";

/**
 * Failure-path signals for observability: a retry, a circuit breaker's transition, a JetStream
 * delivery's ack decision. Published on `node:diagnostics_channel` channels, which cost one
 * `hasSubscribers` check when nobody listens, so the mediator needs no reference to the
 * instrumentation (a layer above it) and pays nothing without it.
 */

/** A retry behavior is about to run attempt `attempt` (2, 3…) of a message of `type`. */
export interface RetrySignal {
  readonly type: string;
  readonly attempt: number;
  /** The code of the failure that caused the retry. */
  readonly code: string;
}

/** A circuit breaker (per `key`, the message type unless configured) changed state. */
export interface BreakerSignal {
  readonly key: string;
  readonly from: "closed" | "open" | "half-open";
  readonly to: "closed" | "open" | "half-open";
}

/** A JetStream consumer decided what to do with one delivery. */
export interface AckSignal {
  readonly stream: string;
  readonly durable: string;
  /** 1 for a first delivery; more is a redelivery. */
  readonly deliveryCount: number;
  /** `ack`, `nak` (redeliver later), `dlq` (dead-lettered) or `term`. */
  readonly action: string;
  /** From the batch's arrival in JS to the decision, in ms. */
  readonly latencyMs: number;
}

/** The channel names (stable: other tools may subscribe too). */
export const SignalChannels = Object.freeze({
  retry: "catga:retry",
  breaker: "catga:breaker",
  ack: "catga:jetstream.ack",
});

export const retrySignals = channel(SignalChannels.retry);
export const breakerSignals = channel(SignalChannels.breaker);
export const ackSignals = channel(SignalChannels.ack);
