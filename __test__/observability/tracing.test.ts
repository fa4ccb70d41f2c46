import { afterEach, describe, expect, it } from "vitest";
import { MetricNames, withObservability } from "../../ts/entries/observability.js";
import {
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  defineQuery,
  InMemoryBus,
  inMemoryTransport,
  silentLogger,
} from "../../ts/index.js";
import { extractTraceContext } from "../../ts/observability/otel.js";
import { chainScenario } from "./chain-scenario.js";
import { api, pointValue, type Telemetry, telemetry } from "./helpers.js";

const PlaceOrder = defineCommand("orders.place").payload<{ sku: string }>().returns<{ orderId: string }>();
const OrderPlaced = defineEvent("orders.placed").payload<{ orderId: string }>();
const GetOrder = defineQuery("orders.get").payload<{ orderId: string }>().returns<string>();
const Fail = defineCommand("orders.fail").payload<{ code?: string }>();

let t: Telemetry;
afterEach(async () => {
  await t?.shutdown();
});

function app(options: { tracing?: boolean; metrics?: boolean } = {}) {
  return withObservability(createCatga({ logger: silentLogger }), {
    api,
    tracerProvider: t.tracerProvider,
    meterProvider: t.meterProvider,
    ...options,
  })
    .handle(PlaceOrder, async function placeOrder(order, ctx) {
      await ctx.publish(OrderPlaced, { orderId: `o-${order.sku}` });
      return { orderId: `o-${order.sku}` };
    })
    .handle(OrderPlaced, function audit() {})
    .handle(OrderPlaced, function notify() {})
    .handle(GetOrder, ({ orderId }) => orderId)
    .handle(Fail, ({ code }) => {
      if (code) throw new CatgaError(code, "custom failure");
      throw new Error("boom");
    })
    .build();
}

describe("traces", () => {
  it("a send, its handler, the event it publishes and that event's handlers form one tree", async () => {
    t = telemetry();
    const catga = app();
    const result = await catga.send(PlaceOrder, { sku: "book" }, { correlationId: "corr-1" });
    expect(result.unwrap()).toEqual({ orderId: "o-book" });

    const send = t.span("send orders.place");
    const process = t.span("process orders.place");
    const publish = t.span("publish orders.placed");
    const handlers = t.spans().filter((s) => s.name === "process orders.placed");
    expect(handlers).toHaveLength(2);

    const traceId = send.spanContext().traceId;
    for (const span of t.spans()) expect(span.spanContext().traceId).toBe(traceId);
    expect(send.parentSpanContext).toBeUndefined();
    expect(process.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect(publish.parentSpanContext?.spanId).toBe(process.spanContext().spanId);
    for (const h of handlers) expect(h.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);

    expect(send.kind).toBe(api.SpanKind.CLIENT);
    expect(publish.kind).toBe(api.SpanKind.PRODUCER);
    expect(process.kind).toBe(api.SpanKind.CONSUMER);
    expect(send.attributes).toMatchObject({
      "messaging.system": "catga",
      "messaging.destination.name": "orders.place",
      "messaging.operation.type": "send",
      "catga.message.type": "orders.place",
      "catga.message.kind": "command",
      "catga.correlation_id": "corr-1",
    });
    expect(typeof send.attributes["messaging.message.id"]).toBe("string");
    expect(process.attributes).toMatchObject({
      "messaging.operation.type": "process",
      "catga.handler": "placeOrder",
      "messaging.message.id": send.attributes["messaging.message.id"],
    });
    // OTel messaging semconv: `publish` is a deprecated operation type (now `send`); it stays the name.
    expect(publish.attributes).toMatchObject({
      "messaging.operation.type": "send",
      "messaging.operation.name": "publish",
      "catga.message.kind": "event",
      "catga.correlation_id": "corr-1",
    });
    expect(handlers.map((h) => h.attributes["catga.handler"]).sort()).toEqual(["audit", "notify"]);
    expect(send.status.code).toBe(api.SpanStatusCode.UNSET);
  });

  it("the handler sees W3C trace context in ctx.headers", async () => {
    t = telemetry();
    let seen: Record<string, string> = {};
    const catga = withObservability(createCatga({ logger: silentLogger }), {
      api,
      tracerProvider: t.tracerProvider,
      metrics: false,
    })
      .handle(GetOrder, (_payload, ctx) => {
        seen = { ...ctx.headers };
        return "x";
      })
      .build();
    await catga.query(GetOrder, { orderId: "1" }, { headers: { tenant: "acme" } });
    const query = t.span("query orders.get");
    expect(seen.tenant).toBe("acme");
    expect(seen.traceparent).toBe(`00-${query.spanContext().traceId}-${query.spanContext().spanId}-01`);
    expect(query.attributes["messaging.operation.name"]).toBe("query");
  });

  it("continues a trace given in the caller's traceparent header, and an active span", async () => {
    t = telemetry();
    const catga = app({ metrics: false });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await catga.query(
      GetOrder,
      { orderId: "1" },
      { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
    );
    const query = t.span("query orders.get");
    expect(query.spanContext().traceId).toBe(traceId);
    expect(query.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");

    const tracer = t.tracerProvider.getTracer("test");
    await tracer.startActiveSpan("http POST /orders", async (root) => {
      await catga.send(PlaceOrder, { sku: "pen" });
      root.end();
    });
    const root = t.span("http POST /orders");
    const send = t.spans().find((s) => s.name === "send orders.place")!;
    expect(send.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
  });

  it("errors set status ERROR, catga.error.code and an exception event", async () => {
    t = telemetry();
    const catga = app({ metrics: false });
    const custom = await catga.send(Fail, { code: "ORDERS_OUT_OF_STOCK" });
    expect(custom.ok).toBe(false);
    const thrown = await catga.send(Fail, {});
    expect(thrown.ok || thrown.error.code).toBe("CATGA_HANDLER_FAILED");

    const sends = t.spans().filter((s) => s.name === "send orders.fail");
    const processes = t.spans().filter((s) => s.name === "process orders.fail");
    expect(sends.map((s) => s.attributes["catga.error.code"])).toEqual([
      "ORDERS_OUT_OF_STOCK",
      "CATGA_HANDLER_FAILED",
    ]);
    for (const span of [...sends, ...processes]) {
      expect(span.status.code).toBe(api.SpanStatusCode.ERROR);
      const exception = span.events.find((e) => e.name === "exception");
      expect(exception?.attributes?.["exception.type"]).toBe(span.attributes["catga.error.code"]);
    }
    const boom = processes[1]!.events.find((e) => e.name === "exception")!;
    expect(boom.attributes?.["exception.stacktrace"]).toContain("boom");
  });

  it("messages over a transport: messaging.system is the transport, the remote handler a child", async () => {
    t = telemetry();
    const bus = new InMemoryBus();
    const options = { api, tracerProvider: t.tracerProvider, meterProvider: t.meterProvider };
    const server = withObservability(
      createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }),
      options,
    )
      .handle(GetOrder, ({ orderId }) => orderId)
      .build();
    const client = withObservability(
      createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }),
      options,
    )
      .remote(GetOrder)
      .build();
    expect((await client.query(GetOrder, { orderId: "7" })).unwrap()).toBe("7");
    const query = t.span("query orders.get");
    const process = t.span("process orders.get");
    expect(query.attributes["messaging.system"]).toBe("in-memory");
    expect(process.attributes["messaging.system"]).toBe("in-memory");
    expect(process.parentSpanContext?.spanId).toBe(query.spanContext().spanId);
    expect(process.parentSpanContext?.isRemote).toBe(true);
    expect(
      pointValue(await t.points(MetricNames.transportSent), { "catga.message.type": "orders.get" }),
    ).toBe(1);
    expect(
      pointValue(await t.points(MetricNames.transportReceived), { "catga.message.type": "orders.get" }),
    ).toBe(1);
    await Promise.all([client.close(), server.close()]);
  });
});

describe("chains", () => {
  it("send → handler → publish → handlers → remote send → remote handler is one tree (context manager)", async () => {
    await chainScenario({ contextManager: true, prefix: "chain" });
  });
});

describe("metrics", () => {
  it("records requests, failures, durations, active and handler executions with type, kind, outcome", async () => {
    t = telemetry();
    const catga = app({ tracing: false });
    await catga.send(PlaceOrder, { sku: "a" });
    await catga.send(PlaceOrder, { sku: "b" });
    await catga.send(Fail, { code: "ORDERS_OUT_OF_STOCK" });

    const total = await t.points(MetricNames.requestsTotal);
    expect(pointValue(total, { "catga.message.type": "orders.place", "catga.outcome": "ok" })).toBe(2);
    expect(pointValue(total, { "catga.message.type": "orders.placed", "catga.message.kind": "event" })).toBe(
      2,
    );
    expect(
      pointValue(total, { "catga.message.type": "orders.fail", "catga.outcome": "ORDERS_OUT_OF_STOCK" }),
    ).toBe(1);
    const failed = await t.points(MetricNames.requestsFailed);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attributes["catga.outcome"]).toBe("ORDERS_OUT_OF_STOCK");

    const durations = await t.points(MetricNames.requestsDuration);
    const placed = durations.find(
      (p) => p.attributes["catga.message.type"] === "orders.place" && p.attributes["catga.outcome"] === "ok",
    )!.value as { count: number; sum: number };
    expect(placed.count).toBe(2);
    expect(placed.sum).toBeGreaterThan(0);
    expect(placed.sum).toBeLessThan(1);

    const active = await t.points(MetricNames.requestsActive);
    for (const point of active) expect(point.value).toBe(0);

    const executions = await t.points(MetricNames.handlerExecutions);
    expect(pointValue(executions, { "catga.handler": "audit", "catga.outcome": "ok" })).toBe(2);
    expect(pointValue(executions, { "catga.handler": "placeOrder" })).toBe(2);
    const handlerDurations = await t.points(MetricNames.handlerDuration);
    expect(handlerDurations.length).toBeGreaterThanOrEqual(3);
  });

  it("metrics only: inbound handlers count under the transport, what they send under catga", async () => {
    t = telemetry();
    const bus = new InMemoryBus();
    const options = { api, meterProvider: t.meterProvider, tracing: false };
    const Lookup = defineQuery("inbound.lookup").payload<{ id: string }>().returns<string>();
    const Local = defineQuery("inbound.local").payload<{ id: string }>().returns<string>();
    const server = withObservability(
      createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }),
      options,
    )
      .handle(Lookup, async ({ id }, ctx) => (await ctx.query(Local, { id })).unwrap())
      .handle(Local, ({ id }) => `v-${id}`)
      .build();
    const client = withObservability(
      createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }),
      options,
    )
      .remote(Lookup)
      .build();
    expect((await client.query(Lookup, { id: "1" })).unwrap()).toBe("v-1");
    const executions = await t.points(MetricNames.handlerExecutions);
    expect(
      pointValue(executions, { "catga.message.type": "inbound.lookup", "messaging.system": "in-memory" }),
    ).toBe(1);
    expect(
      pointValue(executions, { "catga.message.type": "inbound.local", "messaging.system": "catga" }),
    ).toBe(1);
    expect(t.spans()).toHaveLength(0);
    await Promise.all([client.close(), server.close()]);
  });

  it("retries are separate handler executions inside one request", async () => {
    t = telemetry();
    let calls = 0;
    const Flaky = defineCommand("flaky.do");
    const catga = withObservability(createCatga({ logger: silentLogger }).withRetry({ baseDelayMs: 1 }), {
      api,
      tracerProvider: t.tracerProvider,
      meterProvider: t.meterProvider,
    })
      .handle(Flaky, () => {
        if (++calls < 3) throw new Error("transient");
      })
      .build();
    expect((await catga.send(Flaky, undefined)).ok).toBe(true);
    expect(t.spans().filter((s) => s.name === "process flaky.do")).toHaveLength(3);
    expect(t.spans().filter((s) => s.name === "send flaky.do")).toHaveLength(1);
    const executions = await t.points(MetricNames.handlerExecutions);
    expect(pointValue(executions, { "catga.outcome": "CATGA_HANDLER_FAILED" })).toBe(2);
    expect(pointValue(executions, { "catga.outcome": "ok" })).toBe(1);
    expect(catga.describe()[0]!.steps).toEqual(["retry", "observability", "handler"]);
  });
});

describe("no SDK", () => {
  it("with no provider registered (auto), nothing is installed: the pipeline is unchanged", () => {
    const catga = withObservability(createCatga({ logger: silentLogger }), { api })
      .handle(GetOrder, ({ orderId }) => orderId)
      .build();
    expect(catga.describe()[0]!.steps).toEqual(["handler"]);
  });

  it("forced on over the no-op API, calls still work and nothing is recorded", async () => {
    const catga = withObservability(createCatga({ logger: silentLogger }), { api, enabled: true })
      .handle(GetOrder, ({ orderId }) => orderId)
      .build();
    expect(catga.describe()[0]!.steps).toEqual(["observability", "handler"]);
    expect((await catga.query(GetOrder, { orderId: "1" })).unwrap()).toBe("1");
  });
});

describe("W3C traceparent parsing", () => {
  const traceId = "0af7651916cd43dd8448eb211c80319c";
  const spanId = "b7ad6b7169203331";
  const parent = (traceparent: string) => {
    const context = extractTraceContext(api, { traceparent });
    return context === undefined ? undefined : api.trace.getSpanContext(context);
  };

  it("accepts version 00 with exactly four fields", () => {
    expect(parent(`00-${traceId}-${spanId}-01`)).toMatchObject({
      traceId,
      spanId,
      traceFlags: 1,
      isRemote: true,
    });
  });

  it("rejects version 00 with anything after the flags", () => {
    expect(parent(`00-${traceId}-${spanId}-01-garbage`)).toBeUndefined();
    expect(parent(`00-${traceId}-${spanId}-01-`)).toBeUndefined();
    expect(parent(`00-${traceId}-${spanId}-01x`)).toBeUndefined();
  });

  it("reads the four known fields of a later version and ignores what it appends; ff is invalid", () => {
    expect(parent(`01-${traceId}-${spanId}-01-what-comes-next`)).toMatchObject({ traceId, spanId });
    expect(parent(`ff-${traceId}-${spanId}-01`)).toBeUndefined();
  });
});
