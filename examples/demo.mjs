// Order flow on the in-memory default (no server): PlaceOrder → OrderPlaced → ReserveStock + NotifyCustomer.
// Run with `npm run build:ts && npm run demo`.
import { z } from "zod";
import {
  createCatga,
  defineBehavior,
  defineCommand,
  defineEvent,
  defineQuery,
  silentLogger,
} from "../dist/index.js";

// Contracts: declared once, schemas are plain zod (Standard Schema, no adapter).
const PlaceOrder = defineCommand(
  "orders.place",
  z.object({ customer: z.string().min(1), sku: z.string(), quantity: z.number().int().positive() }),
).returns();
const OrderPlaced = defineEvent(
  "orders.placed",
  z.object({ orderId: z.string(), sku: z.string(), quantity: z.number() }),
);
const ReserveStock = defineCommand(
  "inventory.reserve",
  z.object({ sku: z.string(), quantity: z.number() }),
).returns();
const NotifyCustomer = defineCommand(
  "notifications.send",
  z.object({ orderId: z.string(), text: z.string() }),
);
const GetOrder = defineQuery("orders.get", z.object({ orderId: z.string() })).returns();

// A custom behavior that prints every message with its ids; priority 1100 puts it outside logging.
const short = (id) => (id ? id.slice(-8) : "--------");
const steps = [];
const trace = defineBehavior({
  name: "trace",
  priority: 1100,
  create: (target) => async (payload, ctx, next) => {
    const depth =
      ctx.causationId === undefined ? 0 : steps.filter((s) => s.messageId === ctx.causationId)[0]?.depth + 1;
    steps.push({ messageId: ctx.messageId, depth });
    const indent = "  ".repeat(depth);
    const name =
      target.kind === "event" ? `${target.contract.type} → ${target.handlerName}` : target.contract.type;
    const line = `${indent}→ ${target.kind.padEnd(7)} ${name.padEnd(32)}`;
    console.log(
      `${line} msg=${short(ctx.messageId)} corr=${short(ctx.correlationId)} cause=${short(ctx.causationId)}`,
    );
    const result = await next(payload, ctx);
    const value = result.ok && result.value !== undefined ? ` ${JSON.stringify(result.value)}` : "";
    const outcome = result.ok ? `ok${value}` : `${result.error.code}: ${result.error.message}`;
    console.log(`${indent}← ${name} ${outcome}`);
    return result;
  },
});

// State of three pretend services.
const orders = new Map();
const stock = new Map([["book", 5]]);
const outbox = [];
let inventoryHiccups = 1; // the first reservation fails once; retry absorbs it

const catga = createCatga({ logger: silentLogger })
  .withLogging()
  .withValidation()
  .withRetry({ maxAttempts: 3, baseDelayMs: 5, jitter: "none" })
  .withTimeout({ ms: 1000 })
  .use(trace)
  .handle(PlaceOrder, async function placeOrder(order, ctx) {
    const orderId = `ord-${orders.size + 1}`;
    orders.set(orderId, { ...order, orderId, status: "placed" });
    const published = await ctx.publish(OrderPlaced, { orderId, sku: order.sku, quantity: order.quantity });
    if (!published.ok) orders.get(orderId).status = "needs-attention";
    return { orderId };
  })
  .handle(OrderPlaced, async function reserveStock(event, ctx) {
    (await ctx.send(ReserveStock, { sku: event.sku, quantity: event.quantity })).unwrap();
    orders.get(event.orderId).status = "reserved";
  })
  .handle(OrderPlaced, async function notifyCustomer(event, ctx) {
    (
      await ctx.send(NotifyCustomer, { orderId: event.orderId, text: `Order ${event.orderId} confirmed` })
    ).unwrap();
  })
  .handle(ReserveStock, async function reserve({ sku, quantity }) {
    if (inventoryHiccups-- > 0) {
      console.log(
        "      ! inventory briefly unavailable (CATGA_HANDLER_FAILED) - the retry behavior tries again",
      );
      throw new Error("inventory service briefly unavailable");
    }
    const left = (stock.get(sku) ?? 0) - quantity;
    if (left < 0) throw new Error(`not enough ${sku}`);
    stock.set(sku, left);
    return { left };
  })
  .handle(NotifyCustomer, async function notify(message) {
    outbox.push(message.text);
  })
  .handle(GetOrder, async function getOrder({ orderId }) {
    return orders.get(orderId) ?? null;
  })
  .build();

console.log("== 1. Place an order (one correlation id across the whole flow)");
const placed = await catga.send(PlaceOrder, { customer: "ada", sku: "book", quantity: 2 });
const { orderId } = placed.unwrap();

console.log("\n== 2. Query it");
const order = (await catga.query(GetOrder, { orderId })).unwrap();

console.log("\n== 3. An invalid order is rejected by validation before any handler runs");
const invalid = await catga.send(PlaceOrder, { customer: "", sku: "book", quantity: 0 });

console.log("\n== Summary");
console.log(`order ${orderId}: status=${order.status}, quantity=${order.quantity}`);
console.log(`stock left for book: ${stock.get("book")}`);
console.log(`notifications sent: ${outbox.length} (${outbox.join("; ")})`);
console.log(
  `invalid order: ${invalid.ok ? "accepted?!" : invalid.error.code} (${invalid.ok ? "" : invalid.error.message})`,
);
console.log(`messages traced: ${steps.length}, pipelines: ${catga.describe().length}`);
const ok =
  placed.ok && order.status === "reserved" && stock.get("book") === 3 && outbox.length === 1 && !invalid.ok;
console.log(ok ? "demo ok" : "demo FAILED");
process.exitCode = ok ? 0 : 1;
