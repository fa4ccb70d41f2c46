import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsConnection } from "../../ts/entries/nats.js";
import { eventEnvelope, PrivateNats, until, watchStatus } from "./helpers.js";

// The status events docs/architecture/transport.md promises, each produced the way production would produce it,
// on a private server (a lame-duck server must not be the shared one).
let server: PrivateNats;

beforeAll(async () => {
  server = await PrivateNats.start([], false);
});

afterAll(async () => {
  await server.dispose();
});

const watch = watchStatus;

describe("status events", () => {
  it("slowConsumer: a subscription whose buffer overflows while its handler is busy", async () => {
    const subscriber = await NatsConnection.connect({ servers: server.url, subscriptionBufferBytes: 256 });
    const publisher = await NatsConnection.connect({ servers: server.url });
    const statuses = watch(subscriber);
    let release!: () => void;
    const busy = new Promise<void>((resolve) => {
      release = resolve;
    });
    await subscriber.subscribe("status.evt.slow", {}, () => busy);
    // Each flushed on its own, so each is its own NATS message (frame) in the subscriber's buffer.
    for (let i = 0; i < 64; i++) {
      await publisher.publish("status.evt.slow", eventEnvelope(`slow-${i}`));
      await publisher.flush();
    }
    // Reported with the first batch after the drops, once the handler is free again.
    release();
    await until(() => statuses.includes("slowConsumer"), 5000, "slowConsumer status");
    expect(statuses).toContain("slowConsumer");
    await Promise.all([subscriber.close(), publisher.close()]);
  });

  it("lameDuck: the server announces it is going away", async () => {
    const client = await NatsConnection.connect({ servers: server.url, reconnectDelayMs: 20 });
    const statuses = watch(client);
    server.lameDuck();
    await until(() => statuses.includes("lameDuck"), 5000, "lameDuck status");
    expect(statuses).toContain("lameDuck");
    await client.close().catch(() => undefined);
    await server.stop();
  });
});
