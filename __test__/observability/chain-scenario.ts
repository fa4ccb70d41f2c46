import { expect } from "vitest";
import { withObservability } from "../../ts/entries/observability.js";
import {
  createCatga,
  defineCommand,
  defineEvent,
  InMemoryBus,
  inMemoryTransport,
  silentLogger,
} from "../../ts/index.js";
import { api, telemetry } from "./helpers.js";

/**
 * send → handler → publish → handlers → remote send → remote handler, asserted to be one trace
 * whose spans form a chain of parents — with or without a context manager (shared by both files).
 */
export async function chainScenario(options: { contextManager: boolean; prefix: string }): Promise<void> {
  const Place = defineCommand(`${options.prefix}.place`).payload<{ sku: string }>();
  const Placed = defineEvent(`${options.prefix}.placed`).payload<{ sku: string }>();
  const Reserve = defineCommand(`${options.prefix}.reserve`).payload<{ sku: string }>();
  const t = telemetry({ contextManager: options.contextManager });
  const observability = { api, tracerProvider: t.tracerProvider, meterProvider: t.meterProvider };
  const bus = new InMemoryBus();
  const tick = () => new Promise((resolve) => setTimeout(resolve, 1));
  const stock = withObservability(
    createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }),
    observability,
  )
    .handle(Reserve, async function reserve() {
      await tick();
    })
    .build();
  const orders = withObservability(
    createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) }),
    observability,
  )
    .handle(Place, async function place(order, ctx) {
      await tick();
      (await ctx.publish(Placed, order)).unwrap();
    })
    .handle(Placed, async function onPlaced(event, ctx) {
      await tick();
      (await ctx.send(Reserve, event)).unwrap();
    })
    .remote(Reserve)
    .build();
  (await orders.send(Place, { sku: "a" })).unwrap();

  const send = t.span(`send ${options.prefix}.place`);
  const publish = t.span(`publish ${options.prefix}.placed`);
  const onPlaced = t.span(`process ${options.prefix}.placed`);
  const reserveSend = t.span(`send ${options.prefix}.reserve`);
  const reserve = t.span(`process ${options.prefix}.reserve`);
  const chain = [send, t.span(`process ${options.prefix}.place`), publish, onPlaced, reserveSend, reserve];
  for (let i = 1; i < chain.length; i++) {
    expect(chain[i]!.parentSpanContext?.spanId, chain[i]!.name).toBe(chain[i - 1]!.spanContext().spanId);
    expect(chain[i]!.spanContext().traceId).toBe(send.spanContext().traceId);
  }
  expect(reserveSend.attributes["messaging.system"]).toBe("in-memory");
  expect(reserve.attributes["messaging.system"]).toBe("in-memory");
  // The publishing service's own handler gets its event through the transport (issue 14).
  expect(onPlaced.attributes["messaging.system"]).toBe("in-memory");
  expect(publish.attributes["messaging.system"]).toBe("in-memory");
  await Promise.all([orders.close(), stock.close()]);
  await t.shutdown();
}
