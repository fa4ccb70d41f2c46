import "reflect-metadata";
import { Injectable, Module, type OnModuleInit, Scope } from "@nestjs/common";
import { Test, type TestingModule } from "@nestjs/testing";
import { afterEach, describe, expect, it } from "vitest";
import { CATGA, CatgaHandler, CatgaModule, InjectCatga } from "../../ts/entries/nestjs.js";
import type { Catga, HandlerContext } from "../../ts/index.js";
import { CatgaConfigError, ErrorCodes, silentLogger } from "../../ts/index.js";
import { GetStock, ReserveStock, StockReserved, Unhandled } from "./contracts.js";

@Injectable()
class Inventory {
  readonly stock = new Map<string, number>([["book", 3]]);
  readonly reserved: string[] = [];
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

@CatgaHandler(GetStock)
class GetStockHandler {
  constructor(private readonly inventory: Inventory) {}

  handle(query: { sku: string }) {
    return this.inventory.stock.get(query.sku) ?? 0;
  }
}

@CatgaHandler(StockReserved)
class RecordReservation {
  constructor(private readonly inventory: Inventory) {}

  execute(event: { sku: string; left: number }, ctx: HandlerContext) {
    this.inventory.reserved.push(`${event.sku}:${event.left}:${ctx.kind}`);
  }
}

/** A plain service that sends through the injected mediator, as a controller would. */
@Injectable()
class Checkout {
  constructor(@InjectCatga() private readonly catga: Catga) {}

  reserve(sku: string, quantity: number) {
    return this.catga.send(ReserveStock, { sku, quantity });
  }
}

@Module({
  providers: [Inventory, ReserveStockHandler, GetStockHandler, RecordReservation, Checkout],
  exports: [Checkout, Inventory],
})
class StockModule {}

let app: TestingModule | undefined;

async function start(imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]["imports"]>) {
  app = await Test.createTestingModule({ imports }).compile();
  await app.init();
  return app;
}

afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe("CatgaModule (in memory)", () => {
  it("runs handlers that Nest built with their injected dependencies", async () => {
    const ref = await start([CatgaModule.forRoot({ logger: silentLogger }), StockModule]);
    const result = await ref.get(Checkout).reserve("book", 2);
    expect(result.unwrap()).toEqual({ left: 1 });
    // The event handler shares the Inventory singleton with the command handler.
    expect(ref.get(Inventory).reserved).toEqual(["book:1:event"]);
    const catga = ref.get<Catga>(CATGA);
    expect((await catga.query(GetStock, { sku: "book" })).unwrap()).toBe(1);
    expect(catga.describe().map((d) => `${d.type}:${d.handler}`)).toEqual([
      "stock.reserve:ReserveStockHandler",
      "stock.get:GetStockHandler",
      "stock.reserved:RecordReservation",
    ]);
  });

  it("answers CATGA_NO_HANDLER for a contract nothing handles", async () => {
    const ref = await start([CatgaModule.forRoot({ logger: silentLogger }), StockModule]);
    const result = await ref.get<Catga>(CATGA).send(Unhandled, { id: "x" });
    expect(result).toMatchObject({ ok: false, error: { code: ErrorCodes.NO_HANDLER } });
  });

  it("fails start-up with one CatgaConfigError naming every contract required and not handled", async () => {
    const compiled = await Test.createTestingModule({
      imports: [
        CatgaModule.forRoot({ logger: silentLogger, configure: (builder) => builder.requires(Unhandled) }),
        StockModule,
      ],
    }).compile();
    const failed = await compiled.init().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(CatgaConfigError);
    expect((failed as CatgaConfigError).code).toBe(ErrorCodes.CONFIG);
    expect((failed as CatgaConfigError).issues.map((i) => i.path)).toEqual(["handlers.orders.unhandled"]);
  });

  it("reports a handler without execute or handle, and a request-scoped one, with the module's other problems", async () => {
    class NoMethod {}
    // Typed away (does not compile as a decorator): a JS caller's mistake, caught at start-up.
    CatgaHandler(Unhandled)(NoMethod as never);
    @CatgaHandler(GetStock)
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      execute() {
        return 0;
      }
    }
    const compiled = await Test.createTestingModule({
      imports: [
        CatgaModule.forRoot({ logger: silentLogger, publishMode: "sideways" as never }),
        { module: class Broken {}, providers: [NoMethod, PerRequest] },
      ],
    }).compile();
    const failed = (await compiled.init().catch((error: unknown) => error)) as CatgaConfigError;
    expect(failed).toBeInstanceOf(CatgaConfigError);
    expect(failed.issues.map((i) => i.path).sort()).toEqual([
      "handlers.orders.unhandled",
      "handlers.stock.get",
      "options.publishMode",
    ]);
    expect(failed.issues.find((i) => i.path === "handlers.stock.get")?.message).toMatch(
      /PerRequest.*singleton/,
    );
  });

  it("reports a handler whose @CatgaHandler got undefined (a circular import) instead of dropping it", async () => {
    class Orphan {
      execute() {
        return 0;
      }
    }
    CatgaHandler(undefined as never)(Orphan as never);
    const compiled = await Test.createTestingModule({
      imports: [
        CatgaModule.forRoot({ logger: silentLogger }),
        { module: class Lost {}, providers: [Orphan] },
      ],
    }).compile();
    const failed = (await compiled.init().catch((error: unknown) => error)) as CatgaConfigError;
    expect(failed).toBeInstanceOf(CatgaConfigError);
    expect(failed.issues.map((i) => i.path)).toEqual(["handlers.Orphan"]);
    expect(failed.issues[0]!.message).toMatch(/@CatgaHandler on Orphan got undefined/);
  });

  it("refuses forRootAsync without a factory, and a factory's options that are not an object", async () => {
    expect(() => CatgaModule.forRootAsync({} as never)).toThrow(CatgaConfigError);
    const compiled = await Test.createTestingModule({
      imports: [CatgaModule.forRootAsync({ useFactory: () => null as never })],
    }).compile();
    const failed = (await compiled.init().catch((error: unknown) => error)) as CatgaConfigError;
    expect(failed).toBeInstanceOf(CatgaConfigError);
    expect(failed.issues).toEqual([{ path: "options", message: "must be an object, got null" }]);
    const misconfigured = await Test.createTestingModule({
      imports: [CatgaModule.forRoot({ logger: silentLogger, configure: "withRetry" as never })],
    }).compile();
    const issues = ((await misconfigured.init().catch((error: unknown) => error)) as CatgaConfigError).issues;
    expect(issues.map((i) => i.path)).toEqual(["options.configure"]);
    // A misspelt option lists every option forRoot takes, `configure` included.
    const misspelt = await Test.createTestingModule({
      imports: [CatgaModule.forRoot({ logger: silentLogger, configur: () => undefined } as never)],
    }).compile();
    const unknown = ((await misspelt.init().catch((error: unknown) => error)) as CatgaConfigError).issues;
    expect(unknown).toEqual([
      {
        path: "options.configur",
        message: "unknown option (expected one of: preset, logger, publishMode, transport, configure)",
      },
    ]);
  });

  it("takes options from forRootAsync's factory, with what it injects", async () => {
    @Injectable()
    class Settings {
      readonly logger = silentLogger;
    }
    @Module({ providers: [Settings], exports: [Settings] })
    class SettingsModule {}
    const seen: string[] = [];
    const ref = await start([
      CatgaModule.forRootAsync({
        imports: [SettingsModule],
        inject: [Settings],
        useFactory: async (settings: Settings) => ({
          logger: settings.logger,
          configure: (builder) => {
            builder.use({
              name: "spy",
              priority: 0,
              create: () => (payload, ctx, next) => {
                seen.push(ctx.type);
                return next(payload, ctx);
              },
            });
          },
        }),
      }),
      StockModule,
    ]);
    expect((await ref.get(Checkout).reserve("book", 1)).unwrap()).toEqual({ left: 2 });
    expect(seen).toEqual(["stock.reserve", "stock.reserved"]);
  });

  it("is built before the application's own onModuleInit hooks run", async () => {
    const results: unknown[] = [];
    @Injectable()
    class Warmup implements OnModuleInit {
      constructor(@InjectCatga() private readonly catga: Catga) {}
      async onModuleInit() {
        results.push((await this.catga.query(GetStock, { sku: "book" })).unwrap());
      }
    }
    @Module({ imports: [StockModule], providers: [Warmup] })
    class AppModule {}
    await start([CatgaModule.forRoot({ logger: silentLogger }), AppModule]);
    expect(results).toEqual([3]);
  });

  it("keeps a handler replaced with overrideProvider registered, and refuses calls after shutdown", async () => {
    app = await Test.createTestingModule({
      imports: [CatgaModule.forRoot({ logger: silentLogger }), StockModule],
    })
      .overrideProvider(GetStockHandler)
      .useValue({ execute: () => 42 })
      .compile();
    await app.init();
    const catga = app.get<Catga>(CATGA);
    expect((await catga.query(GetStock, { sku: "book" })).unwrap()).toBe(42);
    await app.close();
    app = undefined;
    const after = await catga.query(GetStock, { sku: "book" });
    expect(after).toMatchObject({ ok: false, error: { code: ErrorCodes.CLOSED } });
    expect(after.ok || after.error.message).toMatch(/shut down/);
  });
});
