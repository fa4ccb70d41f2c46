// docs/guides/migration-nestjs-cqrs.md, "after": before.ts moved to @catga/native/nestjs. Type-checked
// by `npm run lint` and run by __test__/nestjs/examples.test.ts. In your project import from
// "@catga/native" and "@catga/native/nestjs" instead of "../../ts/...".
import "reflect-metadata";
import { Injectable, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { CatgaHandler, CatgaModule, InjectCatga } from "../../ts/entries/nestjs.js";
import {
  type Catga,
  defineCommand,
  defineEvent,
  defineQuery,
  type HandlerContext,
  silentLogger,
} from "../../ts/index.js";

interface Order {
  readonly sku: string;
  readonly quantity: number;
}

// Messages are contracts: a name (the NATS subject later) and the types of payload and result.
// Pass a schema (zod, valibot, arktype) instead of .payload<>() to validate them too.
export const PlaceOrder = defineCommand("orders.place")
  .payload<{ sku: string; quantity: number }>()
  .returns<{ orderId: string }>();
export const OrderPlaced = defineEvent("orders.placed").payload<{ orderId: string; sku: string }>();
export const GetOrder = defineQuery("orders.get").payload<{ orderId: string }>().returns<Order | null>();

@Injectable()
export class OrdersRepository {
  private readonly orders = new Map<string, Order>();
  readonly log: string[] = [];

  save(order: Order): string {
    const orderId = `o-${this.orders.size + 1}`;
    this.orders.set(orderId, order);
    return orderId;
  }

  find(orderId: string): Order | undefined {
    return this.orders.get(orderId);
  }
}

@CatgaHandler(PlaceOrder)
export class PlaceOrderHandler {
  constructor(private readonly orders: OrdersRepository) {}

  // The payload and the result are checked against PlaceOrder where the decorator is applied.
  async execute(order: { sku: string; quantity: number }, ctx: HandlerContext) {
    const orderId = this.orders.save(order);
    // Through the context: same correlation id, causation = this command (no EventBus to inject).
    await ctx.publish(OrderPlaced, { orderId, sku: order.sku });
    return { orderId };
  }
}

@CatgaHandler(OrderPlaced)
export class NotifyWarehouse {
  constructor(private readonly orders: OrdersRepository) {}

  execute(event: { orderId: string; sku: string }) {
    this.orders.log.push(`warehouse notified: ${event.orderId} (${event.sku})`);
  }
}

@CatgaHandler(GetOrder)
export class GetOrderHandler {
  constructor(private readonly orders: OrdersRepository) {}

  async execute(query: { orderId: string }) {
    return this.orders.find(query.orderId) ?? null;
  }
}

/** What a controller would call. */
@Injectable()
export class OrdersService {
  constructor(@InjectCatga() private readonly catga: Catga) {}

  // Calls resolve to a Result and never reject; unwrap() throws its CatgaError, which keeps the
  // promise-rejecting shape CommandBus callers had.
  async place(sku: string, quantity: number): Promise<{ orderId: string }> {
    return (await this.catga.send(PlaceOrder, { sku, quantity })).unwrap();
  }

  async get(orderId: string): Promise<Order | null> {
    return (await this.catga.query(GetOrder, { orderId })).unwrap();
  }
}

@Module({
  imports: [CatgaModule.forRoot({ logger: silentLogger })],
  providers: [OrdersRepository, PlaceOrderHandler, NotifyWarehouse, GetOrderHandler, OrdersService],
})
export class AppModule {}

/** Places an order, reads it back, shuts down; returns what happened, line by line. */
export async function run(): Promise<string[]> {
  const app = await NestFactory.createApplicationContext(AppModule, {
    logger: false,
    abortOnError: false, // throw start-up errors instead of exiting the process
  });
  const orders = app.get(OrdersService);
  const { orderId } = await orders.place("book", 2);
  const order = await orders.get(orderId);
  const lines = [...app.get(OrdersRepository).log, `${orderId}: ${order?.quantity} x ${order?.sku}`];
  await app.close();
  return lines;
}
