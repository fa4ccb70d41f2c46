import type { MessageInitShape } from "@bufbuild/protobuf";
import { describe, expectTypeOf, it } from "vitest";
import { protobufSchema } from "../../ts/entries/protobuf.js";
import { createCatga, defineEvent, type InputOf, type PayloadOf } from "../../ts/index.js";
import { type OrderPlaced, OrderPlacedSchema } from "../fixtures/protobuf/orders_pb.js";

const Placed = defineEvent("orders.placed", protobufSchema(OrderPlacedSchema));

describe("protobufSchema contracts", () => {
  it("take the init shape from callers and give handlers the message", () => {
    expectTypeOf<InputOf<typeof Placed>>().toEqualTypeOf<MessageInitShape<typeof OrderPlacedSchema>>();
    expectTypeOf<PayloadOf<typeof Placed>>().toEqualTypeOf<OrderPlaced>();
    const catga = createCatga()
      .handle(Placed, (order) => {
        expectTypeOf(order.totalCents).toEqualTypeOf<bigint>();
      })
      .build();
    void catga.publish(Placed, { orderId: "o-1" });
    // @ts-expect-error a number is not the string field orderId
    void catga.publish(Placed, { orderId: 5 });
  });
});
