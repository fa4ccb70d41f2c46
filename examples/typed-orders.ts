// The quick start in TypeScript, showing what the types catch. Type-checked with the repo
// (`npm run typecheck`); in your project import from "@catga/native" instead of "../ts/index.js".
import { z } from "zod";
import { createCatga, defineCommand, defineEvent, defineQuery } from "../ts/index.js";

const PlaceOrder = defineCommand(
  "orders.place",
  z.object({ sku: z.string().min(1), quantity: z.number().int().positive().default(1) }),
).returns<{ orderId: string }>();
const OrderPlaced = defineEvent("orders.placed", z.object({ orderId: z.string(), sku: z.string() }));
const GetOrder = defineQuery("orders.get").payload<{ orderId: string }>().returns<{ sku: string } | null>();
const CancelOrder = defineCommand("orders.cancel").payload<{ orderId: string }>();

const orders = new Map<string, { sku: string }>();

export const catga = createCatga({ preset: "production" })
  .requires(PlaceOrder, GetOrder)
  .handle(PlaceOrder, async (order, ctx) => {
    // `order.quantity` is a number here: the schema's default was applied by validation.
    const orderId = `o-${orders.size + 1}`;
    orders.set(orderId, { sku: order.sku });
    await ctx.publish(OrderPlaced, { orderId, sku: order.sku });
    return { orderId };
  })
  .handle(GetOrder, ({ orderId }) => orders.get(orderId) ?? null)
  .build();

export async function placeAndRead(): Promise<string | undefined> {
  const placed = await catga.send(PlaceOrder, { sku: "book" }); // quantity is optional for callers
  if (!placed.ok) return placed.error.code; // e.g. "CATGA_VALIDATION"
  const order = await catga.query(GetOrder, { orderId: placed.value.orderId });
  return order.unwrap()?.sku;
}

export async function mistakesTheCompilerCatches(): Promise<void> {
  // @ts-expect-error no handler for orders.cancel in this registry
  await catga.send(CancelOrder, { orderId: "o-1" });
  // @ts-expect-error `sku` must be a string
  await catga.send(PlaceOrder, { sku: 42 });
  // @ts-expect-error GetOrder is a query: use catga.query
  await catga.send(GetOrder, { orderId: "o-1" });
}
