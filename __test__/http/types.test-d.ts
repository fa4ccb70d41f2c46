import Fastify from "fastify";
import { describe, expectTypeOf, it } from "vitest";
import type { RegisteredCatga } from "../../ts/entries/fastify.js";
import type { Catga, Result } from "../../ts/index.js";
import { GetStock, PlaceOrder } from "./helpers.js";

describe("fastify plugin types", () => {
  it("types fastify.catga as the mediator and request.catga's results by the contract", () => {
    const app = Fastify();
    expectTypeOf(app.catga).toEqualTypeOf<RegisteredCatga>();
    expectTypeOf(app.catga).toEqualTypeOf<Catga>();
    app.post("/orders", async (request) => {
      expectTypeOf(request.catga.send(PlaceOrder, { sku: "a", qty: 1 })).toEqualTypeOf<
        Promise<Result<{ orderId: string }>>
      >();
      // @ts-expect-error -- qty must be a number (the contract's schema input)
      request.catga.send(PlaceOrder, { sku: "a", qty: "1" });
      // @ts-expect-error -- a query is not sent
      request.catga.send(GetStock, { sku: "a" });
    });
  });

  it("checks reply.catga's value against the route's declared Reply", () => {
    const app = Fastify();
    app.post<{ Reply: { orderId: string } }>("/orders", async (request, reply) => {
      const placed = await request.catga.send(PlaceOrder, { sku: "a", qty: 1 });
      const stock = await request.catga.query(GetStock, { sku: "a" });
      // @ts-expect-error -- the route replies with an order, not stock
      reply.catga(stock);
      return reply.catga(placed, { status: 201 });
    });
    // Without a declared Reply, any Result goes.
    app.get("/stock", async (request, reply) =>
      reply.catga(await request.catga.query(GetStock, { sku: "a" })),
    );
  });
});
