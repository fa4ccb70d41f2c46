import * as api from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { withObservability } from "../../ts/entries/observability.js";
import { createCatga, silentLogger } from "../../ts/index.js";
import { type Telemetry, telemetry } from "../observability/helpers.js";
import { app, PlaceOrder, TRACEPARENT } from "./helpers.js";

let t: Telemetry;
afterEach(async () => {
  await t?.shutdown();
});

describe("fastify plugin with OpenTelemetry", () => {
  it("makes the HTTP caller's span the parent of the send span (one trace)", async () => {
    t = telemetry();
    const catga = withObservability(createCatga({ logger: silentLogger }), {
      api,
      tracerProvider: t.tracerProvider,
      meterProvider: t.meterProvider,
    })
      .handle(PlaceOrder, ({ sku }) => ({ orderId: `o-${sku}` }))
      .build();
    const { app: server } = await app({ catga });
    server.post("/orders", async (request, reply) =>
      reply.catga(await request.catga.send(PlaceOrder, request.body as { sku: string; qty: number })),
    );
    const response = await server.inject({
      method: "POST",
      url: "/orders",
      payload: { sku: "a", qty: 1 },
      headers: { traceparent: TRACEPARENT },
    });
    await server.close();
    expect(response.statusCode).toBe(200);
    const send = t.span("send orders.place");
    const [, traceId, parentId] = TRACEPARENT.split("-");
    expect(send.spanContext().traceId).toBe(traceId);
    expect(send.parentSpanContext?.spanId).toBe(parentId);
    expect(send.parentSpanContext?.isRemote).toBe(true);
    expect(t.span("process orders.place").spanContext().traceId).toBe(traceId);
  });
});
