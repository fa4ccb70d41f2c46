// Without a context manager (no NodeSDK, a bare provider) parents cannot come from the active
// context; the instrumentation links them through the messages themselves. This file never
// registers one (vitest isolates files), so it checks that path.
import { describe, expect, it } from "vitest";
import {
  createCatga,
  defineCommand,
  defineEvent,
  InMemoryBus,
  inMemoryTransport,
  silentLogger,
  withObservability,
} from "../../ts/index.js";
import { batchScenario } from "./batch-scenario.js";
import { api, telemetry } from "./helpers.js";

const Place = defineCommand("orders.place").payload<{ sku: string }>();
const Placed = defineEvent("orders.placed").payload<{ sku: string }>();
const Reserve = defineCommand("stock.reserve").payload<{ sku: string }>();

describe("without a context manager", () => {
  it("is really without one", () => {
    const key = api.createContextKey("k");
    const ctx = api.ROOT_CONTEXT.setValue(key, 1);
    expect(api.context.with(ctx, () => api.context.active())).not.toBe(ctx);
  });

  it("send → handler → publish → handlers → remote send → remote handler is still one tree", async () => {
    const t = telemetry({ contextManager: false });
    const options = { api, tracerProvider: t.tracerProvider, meterProvider: t.meterProvider };
    const bus = new InMemoryBus();
    const stock = withObservability(
      createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }),
      options,
    )
      .handle(Reserve, async function reserve() {
        await new Promise((resolve) => setTimeout(resolve, 1));
      })
      .build();
    const orders = withObservability(
      createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }),
      options,
    )
      .handle(Place, async function place(order, ctx) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        (await ctx.publish(Placed, order)).unwrap();
      })
      .handle(Placed, async function onPlaced(event, ctx) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        (await ctx.send(Reserve, event)).unwrap();
      })
      .remote(Reserve)
      .build();
    (await orders.send(Place, { sku: "a" })).unwrap();

    const byName = (name: string) => t.span(name);
    const send = byName("send orders.place");
    const place = byName("process orders.place");
    const publish = byName("publish orders.placed");
    const onPlaced = byName("process orders.placed");
    const reserveSend = byName("send stock.reserve");
    const reserve = byName("process stock.reserve");
    const chain = [send, place, publish, onPlaced, reserveSend, reserve];
    for (let i = 1; i < chain.length; i++) {
      expect(chain[i]!.parentSpanContext?.spanId, chain[i]!.name).toBe(chain[i - 1]!.spanContext().spanId);
      expect(chain[i]!.spanContext().traceId).toBe(send.spanContext().traceId);
    }
    expect(reserveSend.attributes["messaging.system"]).toBe("in-memory");
    expect(reserve.attributes["messaging.system"]).toBe("in-memory");
    expect(onPlaced.attributes["messaging.system"]).toBe("catga");
    await Promise.all([orders.close(), stock.close()]);
    await t.shutdown();
  });

  it("messages of a NATS batch: handler spans carry messaging.batch.message_count", async () => {
    await batchScenario({ contextManager: false });
  });
});
