// The order saga of docs/architecture/sagas.md, on the in-memory default (no server): orders, payments and
// inventory as local handlers. Type-checked with the project (`npm run lint`); the NATS +
// PostgreSQL hosting is shown in docs/architecture/sagas.md.
import {
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  defineSaga,
  InMemorySagaStore,
  type SagaStarted,
  sagaOperations,
  silentLogger,
} from "../dist/index.js";

const PlaceOrder = defineCommand("orders.place")
  .payload<{ orderId: string; sku: string; amount: number; express?: boolean }>()
  .returns<SagaStarted>();
const Reserve = defineCommand("inventory.reserve")
  .payload<{ orderId: string; sku: string }>()
  .returns<{ reservationId: string }>();
const Release = defineCommand("inventory.release").payload<{ reservationId: string }>();
const Charge = defineCommand("payments.charge")
  .payload<{ orderId: string; amount: number }>()
  .returns<{ paymentId: string }>()
  .durable();
const Refund = defineCommand("payments.refund").payload<{ paymentId: string }>().durable();
const PaymentCaptured = defineEvent("payments.captured").payload<{ orderId: string; at: number }>();
const Ship = defineCommand("shipping.ship")
  .payload<{ orderId: string; express: boolean }>()
  .returns<{ trackingId: string }>();

interface OrderState {
  orderId: string;
  sku: string;
  amount: number;
  express: boolean;
  reservationId?: string;
  paymentId?: string;
  paidAt?: number;
  trackingId?: string;
}

const OrderSaga = defineSaga<OrderState>("order")
  .startedBy(PlaceOrder, {
    id: (order) => order.orderId,
    init: (order) => ({
      orderId: order.orderId,
      sku: order.sku,
      amount: order.amount,
      express: !!order.express,
    }),
  })
  .step("reserve", {
    send: Reserve,
    payload: (s) => ({ orderId: s.orderId, sku: s.sku }),
    result: (s, r) => ({ ...s, reservationId: r.reservationId }),
  })
  .compensate("reserve", { send: Release, payload: (s) => ({ reservationId: s.reservationId! }) })
  .step("charge", {
    send: Charge,
    payload: (s) => ({ orderId: s.orderId, amount: s.amount }),
    result: (s, r) => ({ ...s, paymentId: r.paymentId }),
  })
  .compensate("charge", { send: Refund, payload: (s) => ({ paymentId: s.paymentId! }) })
  .waitFor("captured", {
    event: PaymentCaptured,
    key: (e) => e.orderId,
    timeoutMs: 1_000,
    result: (s, e) => ({ ...s, paidAt: e.at }),
  })
  .step("ship", {
    send: Ship,
    payload: (s) => ({ orderId: s.orderId, express: s.express }),
    result: (s, r) => ({ ...s, trackingId: r.trackingId }),
  });

const stock = new Map([["tea", 1]]);
const store = new InMemorySagaStore();
const catga = createCatga({ logger: silentLogger })
  // Steps are sent again after a crash under the same message id: handlers replay their outcome.
  .withIdempotency()
  .handle(Reserve, ({ orderId, sku }) => {
    const left = stock.get(sku) ?? 0;
    if (left === 0) throw new CatgaError("INVENTORY_SHORT", `no ${sku} left`);
    stock.set(sku, left - 1);
    return { reservationId: `r-${orderId}` };
  })
  .handle(Release, () => {
    stock.set("tea", (stock.get("tea") ?? 0) + 1);
  })
  .handle(Charge, ({ orderId }) => ({ paymentId: `p-${orderId}` }))
  .handle(Refund, ({ paymentId }) => console.log(`refunded ${paymentId}`))
  .handle(Ship, ({ orderId }) => ({ trackingId: `t-${orderId}` }))
  .saga(OrderSaga, { store })
  .build();

const ops = sagaOperations(catga, OrderSaga, store);
const settled = async (id: string) => {
  // A start resolves once the instance exists; the saga runs on (as it would on JetStream).
  while (!["completed", "compensated", "failed"].includes((await ops.get(id))?.status ?? ""))
    await new Promise((resolve) => setTimeout(resolve, 5));
};

(await catga.send(PlaceOrder, { orderId: "o-1", sku: "tea", amount: 1200 })).unwrap();
(await catga.publish(PaymentCaptured, { orderId: "o-1", at: Date.now() })).unwrap();
await settled("o-1");
(await catga.send(PlaceOrder, { orderId: "o-2", sku: "tea", amount: 800 })).unwrap(); // out of stock
await settled("o-2");

for (const saga of await ops.list()) console.log(saga.id, saga.status, saga.progress.error?.code ?? "");
