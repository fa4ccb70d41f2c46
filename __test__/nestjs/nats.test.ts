import "reflect-metadata";
import { Injectable, Module } from "@nestjs/common";
import { Test, type TestingModule } from "@nestjs/testing";
import { afterEach, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { CATGA, CatgaHandler, CatgaModule } from "../../ts/entries/nestjs.js";
import { type Catga, createCatga, ErrorCodes, type HandlerContext, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";
import { GetStock, Hold, ReserveStock, StockReserved } from "./contracts.js";

// The module over the real NATS transport (the shared server on :4222): a Nest application
// serves the handlers, a plain mediator in the same process calls it as another service would.

@Injectable()
class Inventory {
  readonly stock = new Map<string, number>([["pen", 10]]);
  readonly reserved: number[] = [];
  /** Resolves the handler of Hold that is waiting; set while one is. */
  release: (() => void) | undefined;
}

@CatgaHandler(ReserveStock)
class ReserveStockHandler {
  constructor(private readonly inventory: Inventory) {}

  async execute(order: { sku: string; quantity: number }, ctx: HandlerContext) {
    const left = (this.inventory.stock.get(order.sku) ?? 0) - order.quantity;
    this.inventory.stock.set(order.sku, left);
    await ctx.publish(StockReserved, { sku: order.sku, left });
    return { left };
  }
}

@CatgaHandler(StockReserved)
class RecordReservation {
  constructor(private readonly inventory: Inventory) {}

  execute(event: { left: number }) {
    this.inventory.reserved.push(event.left);
  }
}

@CatgaHandler(Hold)
class HoldHandler {
  constructor(private readonly inventory: Inventory) {}

  async execute(command: { n: number }) {
    await new Promise<void>((resolve) => {
      this.inventory.release = resolve;
    });
    return { n: command.n };
  }
}

@Module({ providers: [Inventory, ReserveStockHandler, RecordReservation, HoldHandler] })
class StockModule {}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

/** The Nest service "stock" and a caller service "shop", both on a prefix of their own. */
async function services(): Promise<{ app: TestingModule; shop: Catga }> {
  const prefix = uniquePrefix("nest");
  const app = await Test.createTestingModule({
    imports: [
      CatgaModule.forRootAsync({
        useFactory: async () => ({
          logger: silentLogger,
          transport: await natsTransport({ servers: NATS_URL, service: "stock", prefix }),
        }),
      }),
      StockModule,
    ],
  }).compile();
  await app.init(); // resolves once the handlers' subscriptions are live
  closers.push(() => app.close());
  const shop = createCatga({
    logger: silentLogger,
    transport: await natsTransport({ servers: NATS_URL, service: "shop", prefix }),
  })
    .remote(ReserveStock, GetStock, Hold)
    .build();
  closers.push(() => shop.close());
  return { app, shop };
}

describe("CatgaModule over NATS", () => {
  it("serves another service's commands with Nest-built handlers, events included", async () => {
    const { app, shop } = await services();
    const result = await shop.send(ReserveStock, { sku: "pen", quantity: 4 });
    expect(result.unwrap()).toEqual({ left: 6 });
    // The event went out through NATS and came back to the application's event handler.
    const inventory = app.get(Inventory);
    await until(() => inventory.reserved.length === 1, 10_000, "the reservation event");
    expect(inventory.reserved).toEqual([6]);
    // A query nothing serves: core NATS has no responder for it.
    const unserved = await shop.query(GetStock, { sku: "pen" }, { signal: AbortSignal.timeout(2_000) });
    expect(unserved.ok).toBe(false);
  });

  it("drains on app.close(): a command already taken is finished and answered, later calls are refused", async () => {
    const { app, shop } = await services();
    const inventory = app.get(Inventory);
    const answer = shop.send(Hold, { n: 7 });
    await until(() => inventory.release !== undefined, 10_000, "the handler to start");
    let closed = false;
    const closing = app.close().then(() => {
      closed = true;
    });
    // Shutdown waits for the handler that is running.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closed).toBe(false);
    inventory.release?.();
    expect((await answer).unwrap()).toEqual({ n: 7 });
    await closing;
    const after = await app.get<Catga>(CATGA).send(Hold, { n: 8 });
    expect(after).toMatchObject({ ok: false, error: { code: ErrorCodes.CLOSED } });
  });
});
