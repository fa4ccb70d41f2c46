// The app under test (examples/testing/orders.test.ts): contracts and a builder function. Export
// the builder, not a built mediator, so tests can wrap the same handlers in `createTestCatga`.
import { createCatga, defineCommand, defineEvent } from "../../dist/index.js";

export const PlaceOrder = defineCommand("orders.place")
  .payload<{ sku: string; cents: number }>()
  .returns<string>();
export const ChargeCard = defineCommand("payments.charge")
  .payload<{ cents: number }>()
  .returns<{ approved: boolean }>();
export const OrderPlaced = defineEvent("orders.placed").payload<{ orderId: string }>();

export const ordersApp = () =>
  createCatga()
    .remote(ChargeCard) // handled by the payments service in production
    .handle(PlaceOrder, async ({ sku, cents }, ctx) => {
      const { approved } = (await ctx.send(ChargeCard, { cents })).unwrap();
      if (!approved) return "declined";
      await ctx.publish(OrderPlaced, { orderId: `o-${sku}` });
      return `o-${sku}`;
    });
