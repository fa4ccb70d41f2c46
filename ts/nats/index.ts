export { OutboundBatcher } from "./batcher.js";
export {
  type ConnectionStatus,
  type InboundHandler,
  type InboundMessages,
  NatsConnection,
  type NatsStats,
  type StatusEvent,
} from "./connection.js";
export {
  assertNatsOptions,
  type BackpressurePolicy,
  type NatsConnectionOptions,
  natsOptionIssues,
} from "./options.js";
export { NatsTransport, type NatsTransportOptions, natsTransport } from "./transport.js";
export { jsonCodec, msgpackCodec, type PayloadCodec } from "./wire.js";
