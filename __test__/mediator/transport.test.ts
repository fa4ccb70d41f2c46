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
  it("routes commands to the service that handles them and events to every service, the publisher's too", async () => {
    const bus = new InMemoryBus();
    const seen: HandlerContext[] = [];
    const received: string[] = [];
    const orders = createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .handle(Place, async (order, ctx) => {
        seen.push(ctx);
        await ctx.publish(Placed, { orderId: `o-${order.sku}` });
        return { orderId: `o-${order.sku}` };
      })
      .handle(Placed, (_event, ctx) => {
        seen.push(ctx);
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
    const [placeCtx, ...eventCtxs] = seen;
    expect(placeCtx!.messageId).toBe("m-1");
    expect(placeCtx!.headers).toEqual({ traceparent: "t" });
    // The publishing service's own handler gets the event through the bus like shipping's.
    expect(eventCtxs).toHaveLength(2);
    for (const ctx of eventCtxs) {
      expect(ctx.correlationId).toBe("m-1");
      expect(ctx.causationId).toBe("m-1");
      expect(ctx.headers).toEqual({ traceparent: "t" });
    }
    expect(eventCtxs[0]!.messageId).toBe(eventCtxs[1]!.messageId);
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

describe("remote contracts get the sender's behaviors", () => {
  it("retries a remote command and reports its pipeline", async () => {
    const bus = new InMemoryBus();
    let calls = 0;
    createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .handle(Place, ({ sku }) => {
        calls++;
        if (calls === 1) throw new Error("warming up");
        return { orderId: `o-${sku}` };
      })
      .build();
    const gateway = createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .withValidation()
      .withRetry({ maxAttempts: 2, baseDelayMs: 0 })
      .remote(Place)
      .build();
    expect((await gateway.send(Place, { sku: "a" })).unwrap()).toEqual({ orderId: "o-a" });
    expect(calls).toBe(2);
    expect(gateway.describe()).toEqual([
      {
        kind: "command",
        type: "orders.place",
        handler: "remote:in-memory",
        steps: ["retry", "remote:in-memory"],
      },
    ]);
  });

  it("a transport that throws or rejects yields an error Result", async () => {
    const broken = (mode: "throw" | "reject") => ({
      name: "broken",
      attach() {},
      request() {
        if (mode === "throw") throw new Error("socket gone");
        return Promise.reject(new Error("socket gone"));
      },
      publish: async () => {},
      close: async () => {},
    });
    for (const mode of ["throw", "reject"] as const) {
      const gateway = createCatga({ logger: silentLogger, transport: broken(mode) })
        .remote(Place)
        .build();
      const result = await gateway.send(Place, { sku: "a" });
      expect(result.ok || result.error).toMatchObject({
        code: ErrorCodes.HANDLER_FAILED,
        message: "socket gone",
      });
    }
  });

  it("a transport.publish that throws synchronously is a failure Result, also from a handler", async () => {
    const Ship = defineCommand("orders.ship").payload<{ orderId: string }>();
    const disconnected = {
      name: "down",
      attach() {},
      request: async () => ({ ok: true, value: undefined }) as never,
      publish(): Promise<void> {
        throw new Error("not connected");
      },
      close: async () => {},
    };
    let handled = 0;
    let fromHandler: unknown;
    const catga = createCatga({ logger: silentLogger, transport: disconnected })
      .handle(Placed, () => {
        handled++;
      })
      .handle(Ship, async ({ orderId }, ctx) => {
        fromHandler = await ctx.publish(Placed, { orderId });
      })
      .build();
    const result = await catga.publish(Placed, { orderId: "o-1" });
    expect(result.ok || result.error).toMatchObject({
      code: ErrorCodes.PUBLISH_FAILED,
      details: {
        handled: 0,
        failures: [{ handler: "transport:down", code: ErrorCodes.HANDLER_FAILED, message: "not connected" }],
      },
    });
    expect((await catga.send(Ship, { orderId: "o-2" })).ok).toBe(true);
    expect(fromHandler).toMatchObject({ ok: false, error: { code: ErrorCodes.PUBLISH_FAILED } });
    // With a transport, the publishing service's handlers run only when the transport delivers the
    // event back (issue 14): one that could not take it delivered it nowhere.
    expect(handled).toBe(0);
  });

  it("rejects a contract both handled here and declared remote", () => {
    const bus = new InMemoryBus();
    expect(() =>
      createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
        .handle(Place, () => ({ orderId: "x" }))
        .remote(Place)
        .build(),
    ).toThrow(/declared remote but also handled in this process/);
  });
});
