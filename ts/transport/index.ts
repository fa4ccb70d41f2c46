export { NatsTransport, natsTransport } from "./nats-transport.js";
export type { DurableEventsOptions, NatsTransportOptions } from "./options.js";
export { ORIGIN_HEADER } from "./origin.js";
