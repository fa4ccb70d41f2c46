// The cast of the docs' code blocks (docs/CONTRIBUTING-docs.md): values that many pages use and
// that a block does not create itself, each with one meaning in every page. scripts/check-docs.mjs
// adds this file to the program that type-checks the blocks. A block that creates one of these
// names itself (`const pool = new Pool()`) shadows it. Everything else a block uses it imports
// or declares, visibly or in a hidden `<!-- snippet: context -->`.

/** A `pg` pool (PostgreSQL). */
declare const pool: import("pg").Pool;
/** NATS server URLs. */
declare const servers: string[];
/** A NATS transport: `await natsTransport({ servers, service: "orders" })`. */
declare const transport: import("@catga/native/nats").NatsTransport;
/** A Fastify instance. */
declare const app: import("fastify").FastifyInstance;
/** A built mediator whose handlers are not known to the type (accepts every contract). */
declare const catga: import("@catga/native").Catga;

/** The running example's command (docs/architecture/mediator.md). */
declare const PlaceOrder: import("@catga/native").CommandContract<
  "orders.place",
  { sku: string; quantity: number },
  { sku: string; quantity: number },
  { orderId: string }
>;
/** The event PlaceOrder's handler publishes. */
declare const OrderPlaced: import("@catga/native").EventContract<"orders.placed", { orderId: string; sku: string }>;
/** A command another service (inventory) handles. */
declare const ReserveStock: import("@catga/native").CommandContract<
  "inventory.reserve",
  { orderId: string; sku: string },
  { orderId: string; sku: string },
  void
>;

/** An order as the running example stores it. */
interface Order {
  orderId: string;
  sku: string;
  quantity: number;
}
/** The running example's database access. */
declare const db: {
  insertOrder(order: { sku: string; quantity: number }, options?: { signal?: AbortSignal }): Promise<string>;
  findOrder(orderId: string): Promise<Order | null>;
};
/** The same, as an injectable class (NestJS pages). */
declare class OrdersRepository {
  save(order: { sku: string; quantity: number }): string;
  find(orderId: string): Order | null;
}
