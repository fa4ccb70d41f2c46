export {
  type DurableHandler,
  type DurableItem,
  type DurableMessage,
  type DurableOutcome,
  type DurablePublisher,
  JetStream,
} from "./jetstream.js";
export type { DurableConsumerOptions, StreamOptions } from "./options.js";
