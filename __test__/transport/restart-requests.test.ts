import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import type { NatsTransport } from "../../ts/transport/nats-transport.js";
import { PrivateNats, until, watchStatus } from "../nats/helpers.js";

// A request held through a broker restart (found from outside): the caller reconnected before the
// serving process had subscribed again, its held request went out to nobody and failed
// CATGA_NO_HANDLER. Right after a reconnect, "no responders" is sent again within the deadline.
const Echo = defineCommand("restart.echo").payload<{ n: number }>().returns<number>();

let server: PrivateNats;
const transports: NatsTransport[] = [];
beforeAll(async () => {
  server = await PrivateNats.start([], false);
});
afterAll(async () => {
  await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
  await server.dispose();
});

describe("requests across a broker restart", () => {
  it("a request held through the outage is served once the worker is back, not CATGA_NO_HANDLER", async () => {
    const prefix = "restart";
    // The worker comes back a second after the caller: the race, made certain.
    const workerT = await natsTransport({
      servers: server.url,
      service: "worker",
      prefix,
      reconnectDelayMs: 1200,
      reconnectDelayMaxMs: 1200,
    });
    transports.push(workerT);
    createCatga({ logger: silentLogger, transport: workerT })
      .handle(Echo, ({ n }) => n)
      .build();
    await workerT.ready();
    const callerT = await natsTransport({
      servers: server.url,
      service: "caller",
      prefix,
      reconnectDelayMs: 50,
      reconnectDelayMaxMs: 100,
      requestTimeoutMs: 8000,
    });
    transports.push(callerT);
    const caller = createCatga({ logger: silentLogger, transport: callerT }).remote(Echo).build();
    await callerT.ready();
    expect((await caller.send(Echo, { n: 1 })).unwrap()).toBe(1);

    const statuses = watchStatus(callerT.connection);
    await server.stop();
    await until(() => statuses.includes("disconnected"), 5000, "the caller to see the outage");
    const held = caller.send(Echo, { n: 2 }); // held while the connection is down
    await new Promise((resolve) => setTimeout(resolve, 200));
    await server.start();
    const result = await held;
    expect(result.ok ? result.value : result.error.code).toBe(2);
    expect(statuses).toContain("reconnected");
  }, 30_000);
});
