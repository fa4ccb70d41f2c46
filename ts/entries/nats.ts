/**
 * `@catga/native/nats`: the NATS transport users plug into `createCatga` (`natsTransport`), its
 * options and payload codecs, and the engine connection underneath for direct use.
 *
 * @module @catga/native/nats
 */
export type {
  ConnectionStatus,
  InboundHandler,
  InboundMessages,
  NatsStats,
  OutboundReply,
  StatusEvent,
  SubscriptionStats,
} from "../nats/connection.js";
export { NatsConnection } from "../nats/connection.js";
export type { BackpressurePolicy, NatsConnectionOptions } from "../nats/options.js";
export type { PayloadCodec } from "../nats/wire.js";
export { jsonCodec, msgpackCodec } from "../nats/wire.js";
export { NatsTransport, natsTransport } from "../transport/nats-transport.js";
export type {
  DurableCommandsOptions,
  DurableEventsOptions,
  NatsTransportOptions,
  SchedulingOptions,
} from "../transport/options.js";
export type { ScheduledInfo, ScheduledPage, Schedules } from "../transport/scheduler.js";
