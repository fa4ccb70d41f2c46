/**
 * `@catga/native/jetstream`: streams, durable publish with acks, durable pull consumers.
 *
 * @module @catga/native/jetstream
 */
export type {
  DurableHandler,
  DurableItem,
  DurableMessage,
  DurableOutcome,
  DurablePublisher,
  RedeliverLater,
} from "../jetstream/jetstream.js";
export { JetStream } from "../jetstream/jetstream.js";
export type { DurableConsumerOptions, StreamOptions } from "../jetstream/options.js";
export type { WireEnvelope } from "../nats/wire.js";
