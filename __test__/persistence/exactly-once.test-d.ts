import type pg from "pg";
import { describe, expectTypeOf, it } from "vitest";
import { exactlyOnce, type OnceTransaction, withOutboxTransaction } from "../../ts/entries/persistence.js";
import { createCatga, defineCommand, type HandlerContext } from "../../ts/index.js";

declare const pool: pg.Pool;
const Capture = defineCommand("payments.capture")
  .payload<{ paymentId: string; cents: number }>()
  .returns<{ capturedAt: number }>()
  .durable();

describe("exactlyOnce types", () => {
  it("takes the payload, ctx and result types from the contract it is handed to", () => {
    createCatga().handle(
      Capture,
      exactlyOnce(pool, async (payload, ctx, tx) => {
        expectTypeOf(payload).toEqualTypeOf<{ paymentId: string; cents: number }>();
        expectTypeOf(ctx).toEqualTypeOf<HandlerContext>();
        expectTypeOf(tx).toEqualTypeOf<OnceTransaction>();
        return { capturedAt: 1 };
      }),
    );
  });

  it("refuses a result that is not the contract's", () => {
    createCatga().handle(
      Capture,
      // @ts-expect-error the contract returns { capturedAt: number }
      exactlyOnce(pool, async () => ({ capturedAt: "now" })),
    );
  });

  it("refuses a transaction started inside the once-transaction: tx.client is not a pool", () => {
    exactlyOnce(pool, async (_payload: { id: string }, _ctx: HandlerContext, tx) => {
      // @ts-expect-error a nested transaction would commit apart from the recorded outcome
      await withOutboxTransaction(tx.client, async () => 1);
      return 1;
    });
  });

  it("needs the handler's ctx to call the wrapped handler", () => {
    const handle = exactlyOnce(pool, async (payload: { id: string }) => payload.id);
    // @ts-expect-error the message id comes from ctx
    void handle({ id: "x" });
    expectTypeOf(handle).returns.toEqualTypeOf<Promise<string>>();
  });
});
