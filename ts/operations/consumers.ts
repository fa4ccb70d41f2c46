import { type ConsumerLag, consumerLag } from "../jetstream/consumer-lag.js";
import type { NatsTransport } from "../transport/nats-transport.js";

export type { ConsumerLag };

/** The durable consumers of a transport's streams, with their backlog. */
export interface JetStreamConsumers {
  /** Each durable consumer of the events and durable commands streams, read now. */
  consumers(): Promise<ConsumerLag[]>;
}

/**
 * The durable consumers of `transport`'s streams (durable events and durable commands): how many
 * messages each has not been delivered yet and how many wait for an ack. Feed it to
 * `observability.observeConsumers(...)` for the `catga.jetstream.consumer.*` gauges.
 */
export function jetstreamConsumers(transport: NatsTransport): JetStreamConsumers {
  const streams = transport.streams;
  return { consumers: () => consumerLag(transport.connection, [streams.events, streams.commands]) };
}
