import { describe, expect, it } from "vitest";
import { createTestCatga } from "../../ts/entries/testing.js";
import {
  createCatga,
  defineCommand,
  defineEvent,
  defineQuery,
  InMemoryBus,
  inMemoryTransport,
  silentLogger,
} from "../../ts/index.js";

const Place = defineCommand("orders.place").payload<{ sku: string }>().returns<{ orderId: string }>();
const Placed = defineEvent("orders.placed").payload<{ orderId: string }>();
const Charge = defineCommand("payments.charge").payload<{ orderId: string }>().returns<boolean>();

const app = () =>
  createCatga({ logger: silentLogger })
    .handle(Place, async (order, ctx) => {
      const orderId = `o-${order.sku}`;
      await ctx.publish(Placed, { orderId });
      return { orderId };
    })
    .handle(Placed, async (event, ctx) => {
      (await ctx.send(Charge, event)).unwrap();
    })
    .handle(Charge, () => {
      throw new Error("the real payment service is not reachable from tests");
    });

describe("createTestCatga", () => {
  it("records every message with ids, including ones sent from handlers", async () => {
    const t = createTestCatga(app()).stub(Charge, () => true);
    (await t.send(Place, { sku: "book" })).unwrap();
    expect(t.messages.map((m) => `${m.kind}:${m.type}`)).toEqual([
      "command:orders.place",
      "event:orders.placed",
      "command:payments.charge",
    ]);
    expect(t.sent.map((m) => m.type)).toEqual(["orders.place", "payments.charge"]);
    expect(t.published.map((m) => m.payload)).toEqual([{ orderId: "o-book" }]);
    expect(t.payloadsOf(Charge)).toEqual([{ orderId: "o-book" }]);
    const [place, placed, charge] = t.messages;
    expect(placed!.correlationId).toBe(place!.messageId);
    expect(charge!.causationId).toBe(placed!.messageId);
  });

  it("stubs replace real handlers and can be changed between calls", async () => {
    const t = createTestCatga(app()).stub(Charge, () => false);
    const failing = await t.send(Place, { sku: "a" });
    expect(failing.ok).toBe(true); // publish isolates the event handler failure from the command
    t.stub(Placed, () => {});
    t.reset();
    await t.send(Place, { sku: "b" });
    expect(t.messages.map((m) => m.type)).toEqual(["orders.place", "orders.placed"]);
  });

  it("refuses a built mediator or another value in place of the builder with a coded error", () => {
    // Before: a TypeError "builder?.state is not a function" (found from outside).
    const built = createCatga({ logger: silentLogger })
      .handle(Charge, () => true)
      .build();
    for (const wrong of [built, 42, null])
      expect(() => createTestCatga(wrong as never)).toThrow(
        expect.objectContaining({ code: "CATGA_INVALID_ARGUMENT", details: { field: "builder" } }),
      );
  });

  it("refuses a stub or lookup without a contract or a handler, and a virtual clock moved by a non-number", async () => {
    const t = createTestCatga(app());
    const coded = (field: string) =>
      expect.objectContaining({ code: "CATGA_INVALID_ARGUMENT", details: { field } });
    // A circular import hands a test `undefined` for a contract; a missing stub failed later as a TypeError.
    expect(() => t.stub(undefined as never, (() => true) as never)).toThrow(coded("contract"));
    expect(() => t.stub(Charge, undefined as never)).toThrow(coded("handler"));
    expect(() => t.stub(Charge, "yes" as never)).toThrow(coded("handler"));
    expect(() => t.payloadsOf(undefined as never)).toThrow(coded("contract"));
    expect(() => t.useVirtualClock(Number.NaN)).toThrow(coded("startMs"));
    const clock = t.useVirtualClock(1000);
    for (const ms of [Number.NaN, -5, "10"])
      await expect(clock.advance(ms as never)).rejects.toEqual(coded("ms"));
    expect(clock.now()).toBe(1000);
    await clock.advance(5);
    expect(clock.now()).toBe(1005);
  });

  it("starts empty and accepts stubs for any contract", async () => {
    const t = createTestCatga().stub(Charge, ({ orderId }) => orderId === "ok");
    expect((await t.send(Charge, { orderId: "ok" })).unwrap()).toBe(true);
    expect(t.queried).toEqual([]);
  });

  it("stubs a contract the builder declared .remote(): it is handled here in the test", async () => {
    const Stock = defineQuery("stock.get").payload<{ sku: string }>().returns<number>();
    const builder = createCatga({
      logger: silentLogger,
      transport: inMemoryTransport(new InMemoryBus()),
    }).remote(Stock);
    const t = createTestCatga(builder).stub(Stock, () => 5);
    expect((await t.query(Stock, { sku: "x" })).unwrap()).toBe(5);
    await t.close();
  });

  it("a mediator rebuilt by stub() replaces the previous one on a shared transport", async () => {
    const bus = new InMemoryBus();
    const calls: string[] = [];
    const other = createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }).build();
    const t = createTestCatga(
      createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }).handle(Placed, () => {
        calls.push("real");
      }),
    );
    await t.publish(Placed, { orderId: "o-0" }); // builds the first mediator
    t.stub(Placed, () => {
      calls.push("stub");
    });
    await t.publish(Placed, { orderId: "o-1" }); // builds the second
    calls.length = 0;
    await other.publish(Placed, { orderId: "o-2" });
    expect(calls).toEqual(["stub"]);
    await Promise.all([t.close(), other.close()]);
  });
});
