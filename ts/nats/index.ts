export { OutboundBatcher } from "./batcher.js";
export {
  type ConnectionStatus,
  type InboundHandler,
  type InboundMessages,
  NatsConnection,
  type NatsStats,
  type OutboundReply,
  type StatusEvent,
} from "./connection.js";
export {
  assertNatsOptions,
  type BackpressurePolicy,
  type NatsConnectionOptions,
  natsOptionIssues,
} from "./options.js";
export { jsonCodec, msgpackCodec, type PayloadCodec } from "./wire.js";
