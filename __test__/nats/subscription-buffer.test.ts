import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsConnection } from "../../ts/entries/nats.js";
import { eventEnvelope, PrivateNats, until, watchStatus } from "./helpers.js";

// Messages that arrive while a subscription's handler is busy are held by bytes
// (`subscriptionBufferBytes`), not by a count that assumes full frames (issue 14, items 10 and
// 11): a burst of single envelopes is held whole, and what does not fit is dropped *and counted*,
// per subscription and in the connection's stats. A private server: the counts must be exact.
let server: PrivateNats;

beforeAll(async () => {
  server = await PrivateNats.start([], false);
});

afterAll(async () => {
  await server.dispose();
});

/** A subscriber whose handler holds its first batch until `release()`, counting envelopes. */
async function busySubscriber(subject: string, options: { subscriptionBufferBytes?: number } = {}) {
  const connection = await NatsConnection.connect({ servers: server.url, ...options });
  let release!: () => void;
  const busy = new Promise<void>((resolve) => {
    release = resolve;
  });
  let received = 0;
  let firstBatch = true;
  await connection.subscribe(subject, {}, async (messages) => {
    received += messages.count;
    if (firstBatch) {
      firstBatch = false;
      await busy;
    }
  });
  return { connection, release, received: () => received };
}

/** Publishes `count` events, each flushed alone so each is its own NATS message; random
 * payloads, so compression does not shrink them below `size`. */
async function publishSingles(subject: string, count: number, size = 16): Promise<void> {
  const publisher = await NatsConnection.connect({ servers: server.url });
  for (let i = 0; i < count; i++) {
    await publisher.publish(subject, eventEnvelope(`single-${i}`, randomBytes(size)));
    await publisher.flush();
  }
  await publisher.close();
}

describe("subscription buffer", () => {
  it("holds a burst of 3,000 single envelopes while the handler is busy (more than the 1,024-message queue)", async () => {
    const subject = "buffer.burst";
    const subscriber = await busySubscriber(subject);
    await publishSingles(subject, 1);
    await until(() => subscriber.received() === 1, 5000, "first batch");
    await publishSingles(subject, 3000);
    subscriber.release();
    await until(() => subscriber.received() === 3001, 10_000, "every event of the burst");
    expect(subscriber.connection.stats().framesDropped).toBe(0);
    expect(subscriber.connection.subscriptionStats()).toEqual([{ subject, dropped: 0 }]);
    await subscriber.connection.close();
  });

  it("drops what does not fit in subscriptionBufferBytes and counts every drop", async () => {
    const subject = "buffer.small";
    const subscriber = await busySubscriber(subject, { subscriptionBufferBytes: 4096 });
    const statuses = watchStatus(subscriber.connection);
    await publishSingles(subject, 1);
    await until(() => subscriber.received() === 1, 5000, "first batch");
    // ~1 KiB envelopes: about four fit in the 4 KiB buffer.
    await publishSingles(subject, 40, 1000);
    subscriber.release();
    await until(
      () => subscriber.received() + subscriber.connection.stats().framesDropped === 41,
      10_000,
      "every event received or counted as dropped",
    );
    const dropped = subscriber.connection.stats().framesDropped;
    expect(dropped).toBeGreaterThan(30);
    expect(subscriber.received()).toBeGreaterThanOrEqual(4);
    expect(subscriber.connection.subscriptionStats()).toEqual([{ subject, dropped }]);
    // The next batch after the drops tells the application, as a slowConsumer status event.
    await until(() => statuses.includes("slowConsumer"), 5000, "slowConsumer status");
    await subscriber.connection.close();
  });

  it("refuses a subscriptionBufferBytes of 0 with a coded error naming the field", async () => {
    await expect(
      NatsConnection.connect({ servers: server.url, subscriptionBufferBytes: 0 }),
    ).rejects.toMatchObject({
      code: "CATGA_CONFIG",
      message: expect.stringContaining("subscriptionBufferBytes"),
    });
  });
});
