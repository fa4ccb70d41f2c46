// Testing handlers with `createTestCatga`: the app's real handlers and behaviors run, a stub
// stands in for what talks to the outside world (here a payment gateway served by another
// service), and the test asserts on the messages that went through the mediator.
// Run: npm run example:testing (vitest, with examples/vitest.config.ts)
import { describe, expect, it } from "vitest";
import { createTestCatga } from "../../dist/testing.js";
import { ChargeCard, ordersApp, PlaceOrder } from "./orders.js";

describe("placing an order", () => {
  it("charges the card once and announces the order", async () => {
    const t = createTestCatga(ordersApp()).stub(ChargeCard, () => ({ approved: true }));

    expect((await t.send(PlaceOrder, { sku: "book", cents: 1200 })).unwrap()).toBe("o-book");
    expect(t.payloadsOf(ChargeCard)).toEqual([{ cents: 1200 }]); // typed by the contract
    expect(t.published.map((m) => m.type)).toEqual(["orders.placed"]);
    // Messages sent from a handler carry the caller's correlation id.
    const [place, charge] = t.sent;
    expect(charge?.correlationId).toBe(place?.messageId);
  });

  it("publishes nothing when the card is declined", async () => {
    const t = createTestCatga(ordersApp()).stub(ChargeCard, () => ({ approved: false }));

    expect((await t.send(PlaceOrder, { sku: "tea", cents: 300 })).unwrap()).toBe("declined");
    expect(t.published).toEqual([]);
  });

  it("answers a failing gateway with its error code", async () => {
    const t = createTestCatga(ordersApp()).stub(ChargeCard, () => {
      throw new Error("gateway down");
    });

    const result = await t.send(PlaceOrder, { sku: "pen", cents: 150 });
    expect(result.ok ? "ok" : result.error.code).toBe("CATGA_HANDLER_FAILED");
  });
});
