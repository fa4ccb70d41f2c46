import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { MetricNames } from "../../ts/entries/observability.js";
import { InMemorySagaStore, sagaOperations } from "../../ts/index.js";
import { eventually } from "../persistence/helpers.js";
import { host, orderSaga, PaymentCaptured, PlaceOrder, services } from "../saga/fixtures.js";
import { api, pointValue, type Telemetry, telemetry } from "./helpers.js";

// Sagas through the observability layer, read back with the OTel SDK's in-memory exporter and a
// metric reader: one trace per instance, a span per step and per compensation, catga.saga.*.
let t: Telemetry;
afterEach(async () => {
  await t?.shutdown();
});

function observed(
  s = services(),
  options: { compensationAttempts?: number; stateWarningBytes?: number } = {},
) {
  t = telemetry();
  const store = new InMemorySagaStore();
  const { catga } = host(s, store, orderSaga(), {
    ...options,
    observability: { api, tracerProvider: t.tracerProvider, meterProvider: t.meterProvider },
  });
  return { catga, store, s };
}

const sagaSpans = (id: string) =>
  t.spans().filter((span) => span.name.startsWith("saga order") && span.attributes["catga.saga.id"] === id);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

async function metric(name: string): Promise<unknown> {
  return pointValue(await t.points(name), { "catga.saga": "order" });
}

describe("saga traces", () => {
  it("one trace per instance: a root span, a child per step, the sends under their step", async () => {
    const { catga, store, s } = observed();
    s.captureInline = true;
    await catga.send(PlaceOrder, { orderId: "tr1", amount: 5 });
    await eventually(async () => (await store.get("order", "tr1"))?.status === "completed");
    await eventually(() => sagaSpans("tr1").length === 4);

    const spans = sagaSpans("tr1");
    const root = spans.find((span) => span.name === "saga order")!;
    expect(root.attributes).toMatchObject({ "catga.saga": "order", "catga.saga.created": true });
    expect(parentOf(root)).toBeUndefined();
    // The root is linked to the span of the message that started it.
    expect(root.links).toHaveLength(1);
    const steps = spans.filter((span) => span !== root);
    expect(steps.map((span) => span.name).sort()).toEqual([
      "saga order charge",
      "saga order reserve",
      "saga order ship",
    ]); // notify is skipped (not express); a wait step sends nothing
    for (const step of steps) {
      expect(step.spanContext().traceId).toBe(root.spanContext().traceId);
      expect(parentOf(step)).toBe(root.spanContext().spanId);
      expect(step.attributes).toMatchObject({ "catga.saga.operation": "step" });
    }
    const reserve = steps.find((span) => span.name === "saga order reserve")!;
    const send = t.spans().find((span) => span.name === "send inventory.reserve")!;
    expect(parentOf(send)).toBe(reserve.spanContext().spanId);
    expect(send.spanContext().traceId).toBe(root.spanContext().traceId);
  });

  it("a failed step's span is an error; each compensation attempt is a span in the trace", async () => {
    const s = services();
    s.captureInline = true;
    s.fail.ship = 1;
    s.fail.refund = 1;
    const { catga, store } = observed(s);
    await catga.send(PlaceOrder, { orderId: "tr2", amount: 5 });
    await eventually(async () => (await store.get("order", "tr2"))?.status === "compensated");
    await eventually(() => sagaSpans("tr2").length === 7);
    const spans = sagaSpans("tr2");
    const root = spans.find((span) => span.name === "saga order")!;
    const ship = spans.find((span) => span.name === "saga order ship")!;
    expect(ship.status.code).toBe(2); // ERROR
    expect(ship.attributes["catga.error.code"]).toBe("SHIPPING_CLOSED");
    const undo = spans.filter((span) => span.name.startsWith("saga order undo"));
    expect(undo.map((span) => [span.name, span.attributes["catga.saga.attempt"], span.status.code])).toEqual([
      ["saga order undo charge", 1, 2],
      ["saga order undo charge", 2, 0],
      ["saga order undo reserve", 1, 0],
    ]);
    for (const span of undo) expect(parentOf(span)).toBe(root.spanContext().spanId);
  });
});

describe("saga traces across hosts", () => {
  it("a host that continues an instance started elsewhere adds its spans to the instance's trace", async () => {
    // Two hosts with their own tracer providers (two processes, as far as OTel knows) and one store.
    const store = new InMemorySagaStore();
    const first = telemetry();
    const second = telemetry();
    const hostOn = (tel: Telemetry) =>
      host(services(), store, orderSaga({ waitMs: 60_000 }), {
        observability: { api, tracerProvider: tel.tracerProvider, meterProvider: tel.meterProvider },
      }).catga;
    try {
      await hostOn(first).send(PlaceOrder, { orderId: "x1", amount: 5 });
      await eventually(async () => (await store.get("order", "x1"))?.status === "waiting");
      // The captured event reaches the other host, which moves the instance on from the store.
      await hostOn(second).publish(PaymentCaptured, { orderId: "x1", at: 7 });
      await eventually(async () => (await store.get("order", "x1"))?.status === "completed");

      const root = first.span("saga order");
      const ship = second.span("saga order ship");
      expect(first.spans().some((span) => span.name === "saga order ship")).toBe(false);
      expect(ship.spanContext().traceId).toBe(root.spanContext().traceId);
      expect(parentOf(ship)).toBe(root.spanContext().spanId);
      expect((await store.get("order", "x1"))?.progress.trace).toContain(root.spanContext().traceId);
    } finally {
      await first.shutdown();
      await second.shutdown();
    }
  });
});

describe("saga metrics", () => {
  it("counts started, completed, compensated and failed once each; active returns to 0", async () => {
    const s = services();
    s.captureInline = true;
    const { catga, store } = observed(s, { compensationAttempts: 2 });
    await catga.send(PlaceOrder, { orderId: "m1", amount: 5 });
    await eventually(async () => (await store.get("order", "m1"))?.status === "completed");
    s.fail.ship = 1;
    await catga.send(PlaceOrder, { orderId: "m2", amount: 5 });
    await eventually(async () => (await store.get("order", "m2"))?.status === "compensated");
    s.fail.ship = 1;
    s.fail.refund = 2; // both attempts: failed, for an operator
    await catga.send(PlaceOrder, { orderId: "m3", amount: 5 });
    await eventually(async () => (await store.get("order", "m3"))?.status === "failed");
    await catga.send(PlaceOrder, { orderId: "m1", amount: 5 }); // a repeated start creates nothing

    expect(await metric(MetricNames.sagaStarted)).toBe(3);
    expect(await metric(MetricNames.sagaCompleted)).toBe(1);
    expect(await metric(MetricNames.sagaCompensated)).toBe(1);
    expect(await metric(MetricNames.sagaFailed)).toBe(1);
    expect(await metric(MetricNames.sagaActive)).toBe(0);
    const durations = await t.points(MetricNames.sagaDuration);
    const count = (status: string) =>
      (pointValue(durations, { "catga.saga": "order", "catga.saga.status": status }) as { count: number })
        .count;
    expect([count("completed"), count("compensated"), count("failed")]).toEqual([1, 1, 1]);

    // An operator resumes the failed one: it compensates, and is not taken off `active` twice.
    await sagaOperations(catga, orderSaga(), store).resume("m3", "payments is back");
    await eventually(async () => (await store.get("order", "m3"))?.status === "compensated");
    expect(await metric(MetricNames.sagaCompensated)).toBe(2);
    expect(await metric(MetricNames.sagaActive)).toBe(0);
  });

  it("counts states past stateWarningBytes in catga.saga.state.large", async () => {
    // The start's state is 44 bytes as JSON; each of the 4 step records makes it larger.
    const { catga, store } = observed(services(), { stateWarningBytes: 60 });
    await catga.send(PlaceOrder, { orderId: "m4", amount: 5 });
    await eventually(async () => (await store.get("order", "m4"))?.status === "waiting");
    await catga.publish(PaymentCaptured, { orderId: "m4", at: 7 });
    await eventually(async () => (await store.get("order", "m4"))?.status === "completed");
    const points = await t.points(MetricNames.sagaStateLarge);
    expect(pointValue(points, { "catga.saga": "order", "catga.saga.state.limit": "warning" })).toBe(4);
  });
});
