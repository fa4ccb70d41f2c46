export {
  type DurableHandler,
  type DurableItem,
  type DurableMessage,
  type DurableOutcome,
  type DurablePublisher,
  JetStream,
} from "./jetstream.js";
export { NatsKvIdempotencyStore, type NatsKvIdempotencyStoreOptions } from "./kv-store.js";
export type { DurableConsumerOptions, StreamOptions } from "./options.js";
