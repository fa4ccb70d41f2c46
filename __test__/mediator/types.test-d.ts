import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { createTestCatga } from "../../ts/entries/testing.js";
import {
  type Accepted,
  type Catga,
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  defineQuery,
  ErrorCodes,
  type ErrResult,
  err,
  type HandlerContext,
  hasErrorCode,
  type InputOf,
  type PayloadOf,
  type PublishReport,
  type Result,
  type ResultOf,
} from "../../ts/index.js";

const PlaceOrder = defineCommand(
  "orders.place",
  z.object({ sku: z.string(), quantity: z.number().default(1) }),
).returns<{ orderId: string }>();
const CancelOrder = defineCommand("orders.cancel").payload<{ orderId: string }>();
const GetOrder = defineQuery("orders.get")
  .payload<{ orderId: string }>()
  .returns<{ status: string } | null>();
const OrderPlaced = defineEvent("orders.placed", z.object({ orderId: z.string() }));

describe("contracts", () => {
  it("carry input, payload (schema output) and result types", () => {
    expectTypeOf<InputOf<typeof PlaceOrder>>().toEqualTypeOf<{
      sku: string;
      quantity?: number | undefined;
    }>();
    expectTypeOf<PayloadOf<typeof PlaceOrder>>().toEqualTypeOf<{ sku: string; quantity: number }>();
    expectTypeOf<ResultOf<typeof PlaceOrder>>().toEqualTypeOf<{ orderId: string }>();
    expectTypeOf<ResultOf<typeof CancelOrder>>().toEqualTypeOf<void>();
    expectTypeOf(PlaceOrder.type).toEqualTypeOf<"orders.place">();
    expectTypeOf(GetOrder.kind).toEqualTypeOf<"query">();
  });

  it("keep `undefined` in declared types (a handler may return nothing found)", () => {
    const Find = defineQuery("orders.find")
      .payload<{ id: string } | undefined>()
      .returns<{ orderId: string } | undefined>();
    expectTypeOf<ResultOf<typeof Find>>().toEqualTypeOf<{ orderId: string } | undefined>();
    expectTypeOf<PayloadOf<typeof Find>>().toEqualTypeOf<{ id: string } | undefined>();
    createCatga().handle(Find, (payload) => (payload ? { orderId: payload.id } : undefined));
  });
});

describe("handlers", () => {
  it("are typed by the contract", () => {
    createCatga().handle(PlaceOrder, (order, ctx) => {
      expectTypeOf(order).toEqualTypeOf<{ sku: string; quantity: number }>();
      expectTypeOf(ctx).toEqualTypeOf<HandlerContext>();
      expectTypeOf(ctx.correlationId).toBeString();
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      return { orderId: "o-1" };
    });
    // @ts-expect-error the handler must return the declared result
    createCatga().handle(PlaceOrder, () => ({ id: 1 }));
    // @ts-expect-error the payload has no `price`
    createCatga().handle(PlaceOrder, (order) => ({ orderId: String(order.price) }));
    // event handlers return nothing useful
    createCatga().handle(OrderPlaced, async (event) => {
      expectTypeOf(event.orderId).toBeString();
    });
  });
});

describe("the built mediator", () => {
  const catga = createCatga()
    .handle(PlaceOrder, () => ({ orderId: "o-1" }))
    .handle(GetOrder, () => null)
    .build();

  it("types results and payloads", () => {
    expectTypeOf(catga.send(PlaceOrder, { sku: "a" })).toEqualTypeOf<Promise<Result<{ orderId: string }>>>();
    expectTypeOf(catga.query(GetOrder, { orderId: "o" })).toEqualTypeOf<
      Promise<Result<{ status: string } | null>>
    >();
    expectTypeOf(catga.publish(OrderPlaced, { orderId: "o" })).toEqualTypeOf<
      Promise<Result<PublishReport>>
    >();
  });

  it("rejects sending a contract without a registered handler at compile time", () => {
    // @ts-expect-error CancelOrder has no handler in this registry
    catga.send(CancelOrder, { orderId: "o" });
    // @ts-expect-error wrong payload shape
    catga.send(PlaceOrder, { sku: 1 });
    // @ts-expect-error a query is not sent with send()
    catga.send(GetOrder, { orderId: "o" });
    // @ts-expect-error a command is not queried
    catga.query(PlaceOrder, { sku: "a" });
  });

  it("narrows results on `ok`", async () => {
    const result = await catga.send(PlaceOrder, { sku: "a" });
    if (result.ok) expectTypeOf(result.value).toEqualTypeOf<{ orderId: string }>();
    else expectTypeOf(result.error.code).toBeString();
    expectTypeOf(result.unwrap()).toEqualTypeOf<{ orderId: string }>();
  });

  it("an unknown registry (plain Catga) accepts any command", () => {
    const untyped = catga as unknown as Catga;
    expectTypeOf(untyped.send(CancelOrder, { orderId: "o" })).toEqualTypeOf<Promise<Result<void>>>();
  });
});

describe("build-time checks in the types", () => {
  it("build() does not compile while a required contract lacks a handler", () => {
    const builder = createCatga()
      .requires(PlaceOrder, CancelOrder)
      .handle(PlaceOrder, () => ({ orderId: "x" }));
    // @ts-expect-error orders.cancel is required but not handled
    builder.build();
    builder.handle(CancelOrder, () => {}).build();
  });

  it("a remote contract does not count as handled for requires()", () => {
    const builder = createCatga().requires(CancelOrder).remote(CancelOrder);
    // @ts-expect-error required here, but only declared remote: start-up would fail
    builder.build();
  });

  it("remote contracts are sendable without a local handler", () => {
    const gateway = createCatga().remote(CancelOrder).build();
    expectTypeOf(gateway.send(CancelOrder, { orderId: "o" })).toEqualTypeOf<Promise<Result<void>>>();
  });

  it("the test harness grows its registry with stubs", () => {
    const t = createTestCatga().stub(CancelOrder, () => {});
    t.send(CancelOrder, { orderId: "o" });
    // @ts-expect-error not stubbed
    t.send(PlaceOrder, { sku: "a" });
  });
});

describe("error codes", () => {
  it("refuse a CATGA_ code that is not in the list, and accept a domain code", () => {
    // @ts-expect-error a typo of CATGA_TIMEOUT is not a code Catga has
    new CatgaError("CATGA_TIMEOT", "late");
    expectTypeOf(
      new CatgaError("ORDERS_OUT_OF_STOCK", "none left").code,
    ).toEqualTypeOf<"ORDERS_OUT_OF_STOCK">();
    expectTypeOf(new CatgaError(ErrorCodes.TIMEOUT, "late").code).toEqualTypeOf<"CATGA_TIMEOUT">();
    expectTypeOf(err("ORDERS_OUT_OF_STOCK", "none left")).toEqualTypeOf<ErrResult>();
    // @ts-expect-error a CATGA_ code outside ErrorCodes cannot be returned either
    err("CATGA_NOPE", "no");
  });

  it("type details per code, and hasErrorCode narrows them", () => {
    // @ts-expect-error retryAfterMs is a number
    new CatgaError(ErrorCodes.RATE_LIMITED, "slow down", { details: { retryAfterMs: "soon" } });
    const result = {} as Result<number>;
    if (!result.ok && hasErrorCode(result.error, ErrorCodes.RATE_LIMITED)) {
      expectTypeOf(result.error.details.retryAfterMs).toEqualTypeOf<number>();
    }
    const thrown: unknown = undefined;
    if (hasErrorCode(thrown, ErrorCodes.PUBLISH_FAILED)) {
      expectTypeOf(thrown.details.failures[0]!.handler).toEqualTypeOf<string>();
    }
  });
});

describe("durable commands", () => {
  const Capture = defineCommand("payments.capture")
    .payload<{ id: string }>()
    .returns<{ captured: string }>()
    .durable();

  it("send resolves with Accepted, or with the handler's result only when it awaits the result", async () => {
    const web = createCatga().remote(Capture).build();
    expectTypeOf(await web.send(Capture, { id: "p" })).toEqualTypeOf<Result<Accepted>>();
    expectTypeOf(await web.send(Capture, { id: "p" }, { await: "accepted" })).toEqualTypeOf<
      Result<Accepted>
    >();
    expectTypeOf(await web.send(Capture, { id: "p" }, { await: "result" })).toEqualTypeOf<
      Result<{ captured: string }>
    >();
    // @ts-expect-error an accepted send does not carry the handler's result
    const accepted: Result<{ captured: string }> = await web.send(Capture, { id: "p" });
    // @ts-expect-error "await" takes "accepted" or "result"
    web.send(Capture, { id: "p" }, { await: "handled" });
    void accepted;
  });

  it("`await` is refused on a command that is not durable", async () => {
    const orders = createCatga().remote(CancelOrder).build();
    // @ts-expect-error request/reply commands always wait for the result
    orders.send(CancelOrder, { orderId: "o" }, { await: "accepted" });
    expectTypeOf(await orders.send(CancelOrder, { orderId: "o" })).toEqualTypeOf<Result<void>>();
  });

  it("keeps the durable flag through returns(), and handlers are written as for request/reply", () => {
    const Refund = defineCommand("payments.refund").payload<{ id: string }>().durable().returns<number>();
    expectTypeOf(Refund.delivery).toEqualTypeOf<"durable">();
    expectTypeOf(CancelOrder.delivery).toEqualTypeOf<"request">();
    createCatga().handle(Refund, ({ id }) => id.length);
    // @ts-expect-error the handler returns the declared result, durable or not
    createCatga().handle(Refund, () => "none");
  });

  it("a handler context sends durable commands with the same types", () => {
    createCatga().handle(CancelOrder, async (_order, ctx) => {
      expectTypeOf(await ctx.send(Capture, { id: "p" })).toEqualTypeOf<Result<Accepted>>();
      expectTypeOf(await ctx.send(Capture, { id: "p" }, { await: "result" })).toEqualTypeOf<
        Result<{ captured: string }>
      >();
    });
  });
});
