// The types `@CatgaHandler` promises, checked by `npm run lint` (tsc over this folder's
// tsconfig.json) and by vitest's typecheck. Decorators are applied as calls here, which is what
// TypeScript checks a class decorator as: a class that fails a call fails the decorator too.
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { CatgaHandler, type ContractHandler } from "../../ts/entries/nestjs.js";
import {
  defineCommand,
  defineEvent,
  defineQuery,
  type ErrResult,
  type HandlerContext,
} from "../../ts/index.js";

const PlaceOrder = defineCommand(
  "orders.place",
  z.object({ sku: z.string(), quantity: z.number().default(1) }),
).returns<{ orderId: string }>();
const GetOrder = defineQuery("orders.get").payload<{ orderId: string }>().returns<string | null>();
const OrderPlaced = defineEvent("orders.placed").payload<{ orderId: string }>();

class Repository {}

describe("@CatgaHandler", () => {
  it("accepts a class whose execute takes the contract's payload and returns its result", () => {
    class PlaceOrderHandler {
      constructor(readonly repository: Repository) {}
      // The payload after validation: the schema's default made `quantity` a number.
      async execute(order: { sku: string; quantity: number }, _ctx: HandlerContext) {
        return { orderId: `${order.sku}-${order.quantity}` };
      }
    }
    CatgaHandler(PlaceOrder)(PlaceOrderHandler);
    class GetOrderHandler implements ContractHandler<typeof GetOrder> {
      execute(query: { orderId: string }) {
        return query.orderId.length > 0 ? query.orderId : null;
      }
    }
    CatgaHandler(GetOrder)(GetOrderHandler);
    // `handle` instead of `execute`; an event handler may return anything.
    CatgaHandler(OrderPlaced)(
      class {
        handle(event: { orderId: string }) {
          return event.orderId.length;
        }
      },
    );
  });

  it("rejects a wrong payload, a wrong result, a missing method", () => {
    class WrongPayload {
      execute(order: { sku: number }) {
        return { orderId: String(order.sku) };
      }
    }
    // @ts-expect-error the payload of orders.place has sku: string
    CatgaHandler(PlaceOrder)(WrongPayload);
    class WrongResult {
      execute() {
        return { id: "o-1" };
      }
    }
    // @ts-expect-error orders.place returns { orderId: string }
    CatgaHandler(PlaceOrder)(WrongResult);
    class WiderPayload {
      // Accepting more than the contract gives would be fine; asking for more is not: a method
      // parameter is checked strictly here, not bivariantly.
      execute(order: { sku: string; quantity: number; coupon: string }) {
        return { orderId: order.coupon };
      }
    }
    // @ts-expect-error the payload has no coupon
    CatgaHandler(PlaceOrder)(WiderPayload);
    // @ts-expect-error neither execute nor handle
    CatgaHandler(OrderPlaced)(class {});
  });

  it("types the implements-interface by the contract", () => {
    expectTypeOf<Parameters<ContractHandler<typeof GetOrder>["execute"]>[0]>().toEqualTypeOf<{
      orderId: string;
    }>();
    // A domain failure may be returned as `err(...)` as well as thrown.
    expectTypeOf<ReturnType<ContractHandler<typeof GetOrder>["execute"]>>().toEqualTypeOf<
      string | null | ErrResult | Promise<string | null | ErrResult>
    >();
  });
});
