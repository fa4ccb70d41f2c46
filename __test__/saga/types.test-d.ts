import { describe, expectTypeOf, it } from "vitest";
import {
  type Catga,
  createCatga,
  defineSaga,
  InMemorySagaStore,
  type SagaInstance,
  type SagaStarted,
  sagaOperations,
} from "../../ts/index.js";
import { Charge, type OrderState, PaymentCaptured, PlaceOrder, Refund, Reserve } from "./fixtures.js";

const store = new InMemorySagaStore();

describe("saga types", () => {
  it("payloads, results and event payloads are typed from the contracts and the state", () => {
    defineSaga<OrderState>("t1")
      .startedBy(PlaceOrder, {
        id: (p) => {
          expectTypeOf(p).toEqualTypeOf<{ orderId: string; amount: number; express?: boolean }>();
          return p.orderId;
        },
        init: (p) => ({ orderId: p.orderId, amount: p.amount, express: false }),
      })
      .step("reserve", {
        send: Reserve,
        payload: (s) => ({ orderId: s.orderId }),
        result: (s, r) => {
          expectTypeOf(r).toEqualTypeOf<{ reservationId: string }>();
          return { ...s, reservationId: r.reservationId };
        },
      })
      .waitFor("captured", {
        event: PaymentCaptured,
        key: (e) => e.orderId,
        timeoutMs: 1,
        result: (s, e) => ({ ...s, paidAt: e.at }),
      });
    defineSaga<OrderState>("t2")
      .startedBy(PlaceOrder, {
        id: (p) => p.orderId,
        init: (p) => ({ orderId: p.orderId, amount: 1, express: false }),
      })
      // @ts-expect-error: Reserve takes { orderId }, not { sku }
      .step("reserve", { send: Reserve, payload: (s) => ({ sku: s.orderId }) });
    defineSaga<OrderState>("t3")
      // @ts-expect-error: init must return the state type
      .startedBy(PlaceOrder, { id: (p) => p.orderId, init: (p) => ({ orderId: p.orderId }) });
  });

  it("compensate takes declared step names only", () => {
    const saga = defineSaga<OrderState>("t4")
      .startedBy(PlaceOrder, {
        id: (p) => p.orderId,
        init: (p) => ({ orderId: p.orderId, amount: 1, express: false }),
      })
      .step("charge", { send: Charge, payload: (s) => ({ orderId: s.orderId, amount: s.amount }) });
    saga.compensate("charge", { send: Refund, payload: () => ({ paymentId: "p" }) });
    // @ts-expect-error: "ship" is not a step of this saga
    saga.compensate("ship", { send: Refund, payload: () => ({ paymentId: "p" }) });
  });

  it(".saga() compiles only when every sent contract is handled or remote, and adds what it handles", () => {
    const saga = defineSaga<OrderState>("t5")
      .startedBy(PlaceOrder, {
        id: (p) => p.orderId,
        init: (p) => ({ orderId: p.orderId, amount: 1, express: false }),
      })
      .step("charge", { send: Charge, payload: (s) => ({ orderId: s.orderId, amount: s.amount }) })
      .compensate("charge", { send: Refund, payload: () => ({ paymentId: "p" }) });
    const partial = createCatga().handle(Charge, () => ({ paymentId: "p" }));
    // @ts-expect-error: Refund (the compensation) is neither handled nor remote
    partial.saga(saga, { store });
    const catga = createCatga()
      .handle(Charge, () => ({ paymentId: "p" }))
      .remote(Refund)
      .saga(saga, { store })
      .build();
    // The start command is now sendable, typed by its contract.
    expectTypeOf(catga.send(PlaceOrder, { orderId: "o", amount: 1 })).resolves.toMatchTypeOf<{
      ok: boolean;
    }>();
    const ops = sagaOperations(catga as Catga, saga, store);
    expectTypeOf(ops.get("o")).resolves.toEqualTypeOf<SagaInstance<OrderState> | undefined>();
    expectTypeOf<SagaStarted["sagaId"]>().toEqualTypeOf<string>();
  });

  it("a parallel step types each branch by its own contract; its branches are steps compensate takes", () => {
    const saga = defineSaga<OrderState>("t6")
      .startedBy(PlaceOrder, {
        id: (p) => p.orderId,
        init: (p) => ({ orderId: p.orderId, amount: 1, express: false }),
      })
      .parallel("both", {
        reserve: {
          send: Reserve,
          payload: (s) => ({ orderId: s.orderId }),
          result: (s, r) => {
            expectTypeOf(r).toEqualTypeOf<{ reservationId: string }>();
            return { ...s, reservationId: r.reservationId };
          },
        },
        charge: {
          send: Charge,
          payload: (s) => ({ orderId: s.orderId, amount: s.amount }),
          result: (s, r) => ({ ...s, paymentId: r.paymentId }),
        },
      })
      .compensate("charge", { send: Refund, payload: (s) => ({ paymentId: s.paymentId ?? "p" }) });
    // @ts-expect-error: the parallel step's own name is not a step to compensate
    saga.compensate("both", { send: Refund, payload: () => ({ paymentId: "p" }) });
    defineSaga<OrderState>("t7")
      .startedBy(PlaceOrder, {
        id: (p) => p.orderId,
        init: (p) => ({ orderId: p.orderId, amount: 1, express: false }),
      })
      .parallel("both", {
        // @ts-expect-error: Charge takes { orderId, amount }
        charge: { send: Charge, payload: (s) => ({ orderId: s.orderId }) },
        reserve: { send: Reserve, payload: (s) => ({ orderId: s.orderId }) },
      });
    // A branch's contract must be handled or remote, as a step's.
    const noReserve = createCatga()
      .handle(Charge, () => ({ paymentId: "p" }))
      .remote(Refund);
    // @ts-expect-error: Reserve is neither handled nor remote
    noReserve.saga(saga, { store });
    createCatga()
      .handle(Charge, () => ({ paymentId: "p" }))
      .remote(Refund, Reserve)
      .saga(saga, { store });
  });
});
