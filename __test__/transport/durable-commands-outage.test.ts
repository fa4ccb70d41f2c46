import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import type { NatsTransport } from "../../ts/transport/nats-transport.js";
import { PrivateNats, until } from "../nats/helpers.js";

// Issue 16: durable commands across a broker restart. A private nats-server with JetStream (file
// storage) is killed with SIGKILL while commands are stored and handled, then restarted on the
// same store dir: the stream, the consumer and what they hold survive it.
const Ship = defineCommand("shipping.ship").payload<{ n: number }>().returns<{ n: number }>().durable();

let server: PrivateNats;

beforeAll(async () => {
  server = await PrivateNats.start();
});

afterAll(async () => {
  await server?.dispose();
});

function connect(service: string): Promise<NatsTransport> {
  return natsTransport({
    servers: server.url,
    service,
    prefix: "outage",
    requestTimeoutMs: 2000,
    durablePublishTimeoutMs: 10_000,
    reconnectDelayMs: 50,
    reconnectDelayMaxMs: 250,
    durableCommands: {
      consumer: { batch: 8, maxAckPending: 16, ackWaitMs: 2000, fetchWaitMs: 100, backoffMs: [50] },
    },
  });
}

describe("durable commands: a broker restart during traffic", () => {
  it("loses no command: every accepted one is handled, and every 'result' caller gets its Result", async () => {
    const handled = new Map<number, number>();
    const shippingTransport = await connect("shipping");
    const shipping = createCatga({ logger: silentLogger, transport: shippingTransport })
      .handle(Ship, async ({ n }) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        handled.set(n, (handled.get(n) ?? 0) + 1);
        return { n };
      })
      .build();
    await shippingTransport.ready();
    const webTransport = await connect("web");
    const web = createCatga({ logger: silentLogger, transport: webTransport }).remote(Ship).build();
    expect((await web.send(Ship, { n: -1 }, { await: "result" })).unwrap()).toEqual({ n: -1 });

    const total = 200;
    const signal = AbortSignal.timeout(20_000);
    const accepted = Array.from({ length: total }, (_, n) => web.send(Ship, { n }));
    const waiting = Array.from({ length: 20 }, (_, i) =>
      web.send(Ship, { n: total + i }, { await: "result", signal }),
    );
    await until(() => handled.size >= 30, 10_000, "commands to be handled");
    const handledAtKill = handled.size;
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.start();

    // Every send was stored: the engine re-sent what the outage interrupted (deduplicated by id).
    const acceptedResults = await Promise.all(accepted);
    expect(acceptedResults.filter((r) => !r.ok)).toEqual([]);
    await until(() => handled.size === total + 21, 20_000, "every command to be handled");
    // The restart came mid-traffic: commands were handled after it.
    expect(handledAtKill).toBeLessThan(total + 21);
    // Every "result" caller gets its Result within its deadline, also one sent around the
    // restart: stored in the results stream (file storage), read back after the reconnect.
    const results = await Promise.all(waiting);
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual(
      Array.from({ length: 20 }, (_, i) => ({ n: total + i })),
    );
    await Promise.all([web.close(), shipping.close()]);
  });
});
