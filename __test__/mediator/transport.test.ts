import { describe, expect, it } from "vitest";
import {
  createCatga,
  defineCommand,
  defineEvent,
  ErrorCodes,
  type HandlerContext,
  InMemoryBus,
  inMemoryTransport,
  silentLogger,
} from "../../ts/index.js";

const Place = defineCommand("orders.place").payload<{ sku: string }>().returns<{ orderId: string }>();
const Placed = defineEvent("orders.placed").payload<{ orderId: string }>();

describe("transport interface (in-memory bus between two services)", () => {
  it("routes commands to the service that handles them and events to every other service", async () => {
    const bus = new InMemoryBus();
    const seen: HandlerContext[] = [];
    const received: string[] = [];
    const orders = createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .handle(Place, async (order, ctx) => {
        seen.push(ctx);
        await ctx.publish(Placed, { orderId: `o-${order.sku}` });
        return { orderId: `o-${order.sku}` };
      })
      .handle(Placed, () => {
        received.push("orders");
      })
      .build();
    const shipping = createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .handle(Placed, (event, ctx) => {
        seen.push(ctx);
        received.push(`shipping:${event.orderId}`);
      })
      .build();
    // The gateway has no handlers: its send goes over the transport, with no change to the call.
    const gateway = createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .remote(Place)
      .build();

    const result = await gateway.send(
      Place,
      { sku: "book" },
      { messageId: "m-1", headers: { traceparent: "t" } },
    );
    expect(result.unwrap()).toEqual({ orderId: "o-book" });
    expect(received.sort()).toEqual(["orders", "shipping:o-book"]);
    const [placeCtx, shippingCtx] = seen;
    expect(placeCtx!.messageId).toBe("m-1");
    expect(placeCtx!.headers).toEqual({ traceparent: "t" });
    expect(shippingCtx!.correlationId).toBe("m-1");
    expect(shippingCtx!.causationId).toBe("m-1");
    expect(shippingCtx!.headers).toEqual({ traceparent: "t" });
    await Promise.all([orders.close(), shipping.close(), gateway.close()]);
  });

  it("requires a transport for remote contracts", () => {
    expect(() => createCatga({ logger: silentLogger }).remote(Place).build()).toThrow(
      /no transport is configured/,
    );
  });

  it("answers CATGA_NO_HANDLER when no service handles the command", async () => {
    const bus = new InMemoryBus();
    const lonely = createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .remote(Place)
      .build();
    const result = await lonely.send(Place, { sku: "x" });
    expect(result.ok || result.error.code).toBe(ErrorCodes.NO_HANDLER);
  });

  it("carries errors back as Results with codes", async () => {
    const bus = new InMemoryBus();
    createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .handle(Place, () => {
        throw new Error("out of stock");
      })
      .build();
    const caller = createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .remote(Place)
      .build();
    const result = await caller.send(Place, { sku: "x" });
    expect(result.ok || result.error).toEqual({ code: ErrorCodes.HANDLER_FAILED, message: "out of stock" });
    expect(() => result.unwrap()).toThrow("out of stock");
  });
});
