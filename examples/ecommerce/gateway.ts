// The HTTP edge: Fastify with the Catga plugin. It owns no data; each route sends a message to the
// orders service over NATS and answers with its Result (failures as RFC 9457 problem+json).
import Fastify from "fastify";
import { catgaFastify } from "../../dist/fastify.js";
import { createCatga, type InputOf } from "../../dist/index.js";
import { GetOrder, PlaceOrder } from "./contracts.js";
import { connect, logger, serve } from "./service.js";

const transport = await connect("gateway");
const catga = createCatga({ transport, logger }).remote(PlaceOrder, GetOrder).build();

const app = Fastify();
await app.register(catgaFastify, {
  catga,
  // Domain codes the orders service raises, as HTTP statuses (unmapped codes are a bare 500).
  statuses: {
    ORDERS_UNKNOWN_SKU: { status: 422, expose: true },
    ORDERS_NOT_FOUND: { status: 404, expose: true },
  },
});

// Routes leave out fastify's `Reply` type here: this repository type-checks the plugin's sources
// and dist/ together, and the two declarations of `request.catga` do not agree on dist's contracts.
// In your project (one copy of @catga/native) add `Reply: { orderId: string; amount: number }`.
// 202: the order is accepted (its row and its OrderPlaced event are committed); the saga runs on.
app.post<{ Body: InputOf<typeof PlaceOrder> }>("/orders", async (request, reply) =>
  reply.catga(await request.catga.send(PlaceOrder, request.body), { status: 202 }),
);
app.get<{ Params: { id: string } }>("/orders/:id", async (request, reply) =>
  reply.catga(await request.catga.query(GetOrder, { orderId: request.params.id })),
);

const url = await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 0) });
// fastify.close() drains the requests in flight, then closes the mediator and its transport.
serve(() => app.close(), `ready ${url}`);
