// The order saga used by the saga tests: orders, payments, inventory; handlers record what ran.
import { type ObservabilityOptions, withObservability } from "../../ts/entries/observability.js";
import {
  type Catga,
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  defineSaga,
  InMemorySagaStore,
  type Logger,
  type SagaStarted,
  type SagaStore,
  silentLogger,
} from "../../ts/index.js";

export interface OrderState {
  orderId: string;
  amount: number;
  express: boolean;
  reservationId?: string;
  paymentId?: string;
  paidAt?: number;
  trackingId?: string;
}

export const PlaceOrder = defineCommand("orders.place")
  .payload<{ orderId: string; amount: number; express?: boolean }>()
  .returns<SagaStarted>();
export const Reserve = defineCommand("inventory.reserve")
  .payload<{ orderId: string }>()
  .returns<{ reservationId: string }>();
export const Release = defineCommand("inventory.release").payload<{ reservationId: string }>();
export const Charge = defineCommand("payments.charge")
  .payload<{ orderId: string; amount: number }>()
  .returns<{ paymentId: string }>();
export const Refund = defineCommand("payments.refund").payload<{ paymentId: string }>();
export const Ship = defineCommand("shipping.ship")
  .payload<{ orderId: string; express: boolean }>()
  .returns<{ trackingId: string }>();
export const Notify = defineCommand("notify.express").payload<{ orderId: string }>();
export const PaymentCaptured = defineEvent("payments.captured").payload<{ orderId: string; at: number }>();

export function orderSaga(options: { waitMs?: number; shipTimeoutMs?: number; deadlineMs?: number } = {}) {
  const saga = defineSaga<OrderState>("order")
    .startedBy(PlaceOrder, {
      id: (p) => p.orderId,
      init: (p) => ({ orderId: p.orderId, amount: p.amount, express: p.express ?? false }),
    })
    .step("reserve", {
      send: Reserve,
      payload: (s) => ({ orderId: s.orderId }),
      result: (s, r) => ({ ...s, reservationId: r.reservationId }),
    })
    .compensate("reserve", { send: Release, payload: (s) => ({ reservationId: s.reservationId! }) })
    .step("charge", {
      send: Charge,
      payload: (s) => ({ orderId: s.orderId, amount: s.amount }),
      result: (s, r) => ({ ...s, paymentId: r.paymentId }),
    })
    .compensate("charge", { send: Refund, payload: (s) => ({ paymentId: s.paymentId ?? "unknown" }) })
    .waitFor("captured", {
      event: PaymentCaptured,
      key: (e) => e.orderId,
      timeoutMs: options.waitMs ?? 5_000,
      result: (s, e) => ({ ...s, paidAt: e.at }),
    })
    .step("notify", { send: Notify, payload: (s) => ({ orderId: s.orderId }), when: (s) => s.express })
    .step("ship", {
      send: Ship,
      payload: (s) => ({ orderId: s.orderId, express: s.express }),
      result: (s, r) => ({ ...s, trackingId: r.trackingId }),
      ...(options.shipTimeoutMs === undefined ? {} : { timeoutMs: options.shipTimeoutMs }),
    });
  return options.deadlineMs === undefined ? saga : saga.deadlineMs(options.deadlineMs);
}

/** What the stub services do; each list records `<type> <messageId>` in call order. */
export interface Services {
  calls: string[];
  fail: Partial<Record<"reserve" | "charge" | "ship" | "release" | "refund", number>>;
  shipDelayMs: number;
  /** Publish PaymentCaptured from inside Charge (the event arrives before the wait step). */
  captureInline: boolean;
}

export function services(): Services {
  return { calls: [], fail: {}, shipDelayMs: 0, captureInline: false };
}

function failing(s: Services, what: keyof Services["fail"]): boolean {
  const left = s.fail[what] ?? 0;
  if (left <= 0) return false;
  s.fail[what] = left - 1;
  return true;
}

export function host(
  s: Services,
  store: SagaStore = new InMemorySagaStore(),
  saga = orderSaga(),
  hostOptions: {
    compensationAttempts?: number;
    compensationBackoffMs?: number;
    stateWarningBytes?: number;
    logger?: Logger;
    observability?: ObservabilityOptions;
  } = {},
): { catga: Catga; store: SagaStore } {
  let catga: Catga | undefined;
  const { logger = silentLogger, observability, ...sagaOptions } = hostOptions;
  const base = createCatga({ logger });
  const built = (observability === undefined ? base : withObservability(base, observability))
    .handle(Reserve, (p, ctx) => {
      s.calls.push(`reserve ${ctx.messageId}`);
      if (failing(s, "reserve")) throw new CatgaError("INVENTORY_SHORT", "out of stock");
      return { reservationId: `r-${p.orderId}` };
    })
    .handle(Release, (_p, ctx) => {
      s.calls.push(`release ${ctx.messageId}`);
      if (failing(s, "release")) throw new Error("inventory down");
    })
    .handle(Charge, async (p, ctx) => {
      s.calls.push(`charge ${ctx.messageId}`);
      if (failing(s, "charge")) throw new CatgaError("PAYMENT_DECLINED", "declined");
      if (s.captureInline) await catga!.publish(PaymentCaptured, { orderId: p.orderId, at: 42 });
      return { paymentId: `p-${p.orderId}` };
    })
    .handle(Refund, (_p, ctx) => {
      s.calls.push(`refund ${ctx.messageId}`);
      if (failing(s, "refund")) throw new Error("payments down");
    })
    .handle(Notify, (_p, ctx) => {
      s.calls.push(`notify ${ctx.messageId}`);
    })
    .handle(Ship, async (p, ctx) => {
      s.calls.push(`ship ${ctx.messageId}`);
      if (s.shipDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, s.shipDelayMs));
      if (failing(s, "ship")) throw new CatgaError("SHIPPING_CLOSED", "closed");
      return { trackingId: `t-${p.orderId}` };
    })
    .saga(saga, { store, compensationBackoffMs: 1, ...sagaOptions })
    .build();
  catga = built as unknown as Catga;
  return { catga, store };
}

/** A logger that keeps what was logged at error level (its message and fields). */
export function errorLog(): Logger & { errors: { message: string; fields: unknown }[] } {
  const errors: { message: string; fields: unknown }[] = [];
  return { ...silentLogger, errors, error: (message, fields) => errors.push({ message, fields }) };
}
