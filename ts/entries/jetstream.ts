/** `@catga/native/jetstream`: streams, durable publish with acks, durable pull consumers. */
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
