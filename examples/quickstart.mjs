import { createCatga, defineCommand, defineEvent } from "../dist/index.js";

const PlaceOrder = defineCommand("orders.place");
const OrderPlaced = defineEvent("orders.placed");
const catga = createCatga({ preset: "production" })
  .handle(PlaceOrder, async (order, ctx) => {
    await ctx.publish(OrderPlaced, order); // same correlationId; causationId = this command's id
    return { orderId: `o-${order.sku}` };
  })
  .handle(OrderPlaced, (order, ctx) => console.log("placed", order.sku, "correlation", ctx.correlationId));
console.log((await catga.build().send(PlaceOrder, { sku: "book" })).unwrap()); // { orderId: 'o-book' }
