import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsConnection, natsTransport } from "../../ts/entries/nats.js";
import { CatgaConfigError, CatgaError, createCatga, silentLogger } from "../../ts/index.js";
import { decodeWire } from "../../ts/nats/wire.js";
import { eventEnvelope, freePort, NATS_URL, uniquePrefix, until } from "./helpers.js";

let producer: NatsConnection;
let consumer: NatsConnection;

beforeAll(async () => {
  producer = await NatsConnection.connect({ servers: NATS_URL, name: "test-producer" });
  consumer = await NatsConnection.connect({ servers: NATS_URL, name: "test-consumer" });
});

afterAll(async () => {
  await Promise.all([producer.close(), consumer.close()]);
});

async function expectCode(promise: Promise<unknown>, code: string): Promise<CatgaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CatgaError);
  expect((error as CatgaError).code).toBe(code);
  return error as CatgaError;
}

describe("NATS connection options", () => {
  it("lists every bad field in one CatgaConfigError", async () => {
    const error = await NatsConnection.connect({
      servers: ["nats://ok:4222", "not a url"],
      backpressure: "maybe" as never,
      batch: { maxMessages: 0 },
      user: "alice",
      requestTimeoutMs: -5,
      eventFrameBytes: 0,
      maxReconnects: 0, // async-nats would read 0 as "forever"
      colour: "blue",
    } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatgaConfigError);
    const paths = (error as CatgaConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual([
      "backpressure",
      "batch.maxMessages",
      "colour",
      "eventFrameBytes",
      "maxReconnects",
      "requestTimeoutMs",
      "servers[1]",
      "user",
    ]);
  });

  it("refuses a base reconnect delay above the cap (given, or the 5 s default)", async () => {
    for (const options of [
      { reconnectDelayMs: 2_000, reconnectDelayMaxMs: 1_000 },
      { reconnectDelayMs: 10_000 },
    ]) {
      const error = await NatsConnection.connect({ servers: NATS_URL, ...options }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CatgaConfigError);
      expect((error as CatgaConfigError).issues.map((i) => i.path)).toEqual(["reconnectDelayMs"]);
    }
  });

  it("refuses TLS files that do not exist, even on a server without TLS", async () => {
    // Before: a plain nats:// server never asked for TLS, so a misspelt caFile connected fine
    // and would only fail once TLS was turned on (found from outside).
    const missing = `/nonexistent-${randomBytes(4).toString("hex")}.pem`;
    const error = await NatsConnection.connect({
      servers: NATS_URL,
      tls: { caFile: missing, certFile: missing, keyFile: "/" },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatgaConfigError);
    const issues = (error as CatgaConfigError).issues;
    expect(issues.map((i) => i.path).sort()).toEqual(["tls.caFile", "tls.certFile", "tls.keyFile"]);
    expect(issues[0]?.message).toContain(missing);
  });

  it("fails with CATGA_NOT_CONNECTED when no server listens", async () => {
    const port = await freePort();
    const error = await expectCode(
      NatsConnection.connect({
        servers: `nats://127.0.0.1:${port}`,
        connectTimeoutMs: 500,
        maxReconnects: 1,
      }),
      "CATGA_NOT_CONNECTED",
    );
    expect(error.message).toContain(String(port));
  });

  it("reports status events", async () => {
    const statuses: string[] = [];
    const connection = await NatsConnection.connect({ servers: NATS_URL });
    connection.on("status", (event: { kind: string }) => statuses.push(event.kind));
    await connection.close();
    await until(() => statuses.includes("closed"), 2000, "closed event");
    expect(statuses).toContain("connected");
  });
});

describe("publish / subscribe", () => {
  it("delivers every event in order, batched into frames and inbound batches", async () => {
    const subject = `${uniquePrefix("pubsub")}.evt.order`;
    const received: string[] = [];
    const batchSizes: number[] = [];
    const unsubscribe = await consumer.subscribe(subject, {}, async ({ envelopes }) => {
      batchSizes.push(envelopes.length);
      for (const bytes of envelopes) received.push(decodeWire(bytes).messageId);
    });
    await consumer.flush();
    const before = producer.stats();
    const received0 = consumer.stats();
    const sent = Array.from({ length: 2000 }, (_, i) => `m-${i}`);
    await Promise.all(sent.map((id) => producer.publish(subject, eventEnvelope(id))));
    await until(() => received.length === sent.length, 5000, "all events");
    expect(received).toEqual(sent);
    const after = producer.stats();
    expect(after.messagesSent - before.messagesSent).toBe(2000);
    // Up to 4096 messages per flush and ~16 KiB per frame by default: far fewer NATS messages
    // than envelopes.
    const bytes = after.bytesBeforeCompression - before.bytesBeforeCompression;
    expect(after.framesSent - before.framesSent).toBeLessThanOrEqual(Math.ceil(bytes / 8192) + 4);
    expect(batchSizes.length).toBeLessThan(2000);
    // Both sides count envelopes as messages and NATS messages as frames.
    const got = consumer.stats();
    expect(got.messagesReceived - received0.messagesReceived).toBe(2000);
    expect(got.framesReceived - received0.framesReceived).toBe(after.framesSent - before.framesSent);
    await unsubscribe();
  });

  it("splits a batch larger than the server's max_payload into several frames", async () => {
    const subject = `${uniquePrefix("split")}.evt.big`;
    const client = await NatsConnection.connect({
      servers: NATS_URL,
      batch: { maxMessages: 4096, maxBytes: 8 * 1024 * 1024 },
      compressionThreshold: Number.POSITIVE_INFINITY,
      eventFrameBytes: 64 * 1024 * 1024,
    });
    let count = 0;
    const unsubscribe = await consumer.subscribe(subject, {}, async ({ envelopes }) => {
      count += envelopes.length;
    });
    const payload = Buffer.alloc(1000, 7);
    const before = client.stats();
    // ~4 MB in one batch: four times the server's default 1 MiB max_payload.
    await Promise.all(
      Array.from({ length: 4000 }, (_, i) => client.publish(subject, eventEnvelope(`s${i}`, payload))),
    );
    await until(() => count === 4000, 10_000, "every envelope of the split batch");
    expect(client.stats().framesSent - before.framesSent).toBeGreaterThanOrEqual(4);
    await unsubscribe();
    await client.close();
  });

  it("cuts a batch into frames of about eventFrameBytes", async () => {
    const subject = `${uniquePrefix("cut")}.evt.cut`;
    const client = await NatsConnection.connect({ servers: NATS_URL, eventFrameBytes: 4096 });
    const received: string[] = [];
    const unsubscribe = await consumer.subscribe(subject, {}, async ({ envelopes }) => {
      for (const bytes of envelopes) received.push(decodeWire(bytes).messageId);
    });
    const before = client.stats();
    const sent = Array.from({ length: 400 }, (_, i) => `c${i}`);
    // Distinct random payloads do not compress: no zstd to blur the sizes.
    await Promise.all(sent.map((id) => client.publish(subject, eventEnvelope(id, randomBytes(1000)))));
    await until(() => received.length === sent.length, 5000, "every envelope of the cut batch");
    expect(received).toEqual(sent);
    const after = client.stats();
    const frames = after.framesSent - before.framesSent;
    const bytes = after.bytesBeforeCompression - before.bytesBeforeCompression;
    // Each frame holds as many ~1.1 KB envelopes as fit in 4 KiB: at least three, so about
    // a quarter as many frames as envelopes; never one frame per envelope, never one per batch.
    expect(frames).toBeGreaterThanOrEqual(Math.ceil(bytes / 4096));
    expect(frames).toBeLessThanOrEqual(Math.ceil(400 / 3) + 2);
    await unsubscribe();
    await client.close();
  });

  it("compresses large frames with zstd", async () => {
    const subject = `${uniquePrefix("zstd")}.evt.big`;
    let count = 0;
    const unsubscribe = await consumer.subscribe(subject, {}, async ({ envelopes }) => {
      count += envelopes.length;
    });
    await consumer.flush();
    const before = producer.stats();
    const payload = Buffer.from(JSON.stringify({ text: "lorem ipsum dolor sit amet ".repeat(40) }));
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => producer.publish(subject, eventEnvelope(`z${i}`, payload))),
    );
    await until(() => count === 100, 5000, "compressed events");
    const after = producer.stats();
    const sent = after.bytesSent - before.bytesSent;
    const raw = after.bytesBeforeCompression - before.bytesBeforeCompression;
    expect(sent).toBeLessThan(raw / 5);
    await unsubscribe();
  });

  it("shares messages across a queue group", async () => {
    const subject = `${uniquePrefix("queue")}.evt.work`;
    const other = await NatsConnection.connect({ servers: NATS_URL });
    const counts = [0, 0];
    const stops = await Promise.all(
      [consumer, other].map((connection, i) =>
        connection.subscribe(subject, { queue: "workers" }, async ({ envelopes }) => {
          counts[i]! += envelopes.length;
        }),
      ),
    );
    await Promise.all([consumer.flush(), other.flush()]);
    // Separate flushes so the server has many messages to spread, not one frame.
    for (let i = 0; i < 40; i++) {
      await producer.publish(subject, eventEnvelope(`q${i}`));
    }
    await until(() => counts[0]! + counts[1]! === 40, 5000, "queue deliveries");
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
    await Promise.all(stops.map((stop) => stop()));
    await other.close();
  });

  it("skips malformed messages from foreign publishers and keeps the subscription alive", async () => {
    const subject = `${uniquePrefix("fuzz")}.evt.x`;
    const good: string[] = [];
    let malformed = 0;
    consumer.on("malformed", (count: number) => {
      malformed += count;
    });
    const unsubscribe = await consumer.subscribe(subject, {}, async ({ envelopes }) => {
      for (const bytes of envelopes) good.push(decodeWire(bytes).messageId);
    });
    await consumer.flush();
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.alloc(1 + (random() % 200));
      for (let j = 0; j < junk.length; j++) junk[j] = random() & 0xff;
      if (i % 3 === 0) junk.write("CTG1");
      // `reply` sends raw bytes, one NATS message each: exactly what a foreign publisher does.
      await producer.reply(subject, junk);
    }
    await producer.publish(subject, eventEnvelope("after-the-junk"));
    await until(() => good.includes("after-the-junk"), 5000, "the valid event");
    expect(good).toEqual(["after-the-junk"]);
    expect(malformed).toBe(200);
    expect(consumer.stats().malformedReceived).toBeGreaterThanOrEqual(200);
    await unsubscribe();
  });

  it("a publish to a bad subject fails alone: the others in its batch are delivered", async () => {
    const subject = `${uniquePrefix("badsubj")}.evt`;
    const seen: string[] = [];
    const unsubscribe = await consumer.subscribe(`${subject}.>`, {}, async ({ envelopes }) => {
      for (const bytes of envelopes) seen.push(decodeWire(bytes).messageId);
    });
    await consumer.flush();
    // Same tick, so all three would share one batch.
    const outcomes = await Promise.all(
      [`${subject}.a`, `${subject}.bad subject`, `${subject}.b`, `${subject}..c`].map((to, i) =>
        producer.publish(to, eventEnvelope(`m${i}`)).then(
          () => "sent",
          (e: CatgaError) => e.code,
        ),
      ),
    );
    expect(outcomes).toEqual(["sent", "CATGA_INVALID_ARGUMENT", "sent", "CATGA_INVALID_ARGUMENT"]);
    await until(() => seen.length === 2);
    expect(seen.sort()).toEqual(["m0", "m2"]);
    await unsubscribe();
  });

  it("a reply to a bad subject is dropped and reported; the batch's other replies still go", async () => {
    const prefix = uniquePrefix("badreply");
    const errors: unknown[] = [];
    consumer.on("handlerError", (error: unknown) => errors.push(error));
    const unsubscribe = await consumer.subscribe(`${prefix}.cmd.echo`, {}, async (batch) => [
      { subject: "not a subject", envelope: eventEnvelope("stray") },
      ...batch.envelopes.map((bytes, i) => ({ subject: batch.replies[i]!, envelope: bytes })),
    ]);
    await consumer.flush();
    const reply = await producer.request(`${prefix}.cmd.echo`, eventEnvelope("ping"), 2000);
    expect(decodeWire(reply).messageId).toBe("ping");
    await until(() => errors.length > 0, 2000, "handlerError event");
    expect((errors[0] as CatgaError).code).toBe("CATGA_INVALID_ARGUMENT");
    await unsubscribe();
  });

  it("a throwing handler does not end the subscription", async () => {
    const subject = `${uniquePrefix("throws")}.evt.x`;
    const seen: string[] = [];
    const errors: unknown[] = [];
    consumer.on("handlerError", (error: unknown) => errors.push(error));
    const unsubscribe = await consumer.subscribe(subject, {}, async ({ envelopes }) => {
      for (const bytes of envelopes) seen.push(decodeWire(bytes).messageId);
      throw new Error("handler bug");
    });
    await consumer.flush();
    await producer.publish(subject, eventEnvelope("one"));
    await until(() => seen.length === 1);
    await producer.publish(subject, eventEnvelope("two"));
    await until(() => seen.length === 2);
    expect(seen).toEqual(["one", "two"]);
    await until(() => errors.length === 2, 2000, "handlerError events");
    expect(String(errors[0])).toContain("handler bug");
    await unsubscribe();
  });
});

describe("subscription handlers that misbehave", () => {
  it("a handler that throws synchronously or returns replies of a bad shape does not stall the subscription", async () => {
    const subject = `${uniquePrefix("sync-throw")}.evt.x`;
    const seen: string[] = [];
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    consumer.on("handlerError", onError);
    // Not an async function: it throws before returning a promise, then returns a non-array.
    const handler = ({ envelopes }: { envelopes: Buffer[] }) => {
      const id = decodeWire(envelopes[0]!).messageId;
      seen.push(id);
      if (id === "one") throw new Error("sync bug");
      return Promise.resolve({ not: "replies" } as never);
    };
    const unsubscribe = await consumer.subscribe(subject, {}, handler as never);
    await consumer.flush();
    for (const id of ["one", "two", "three"]) {
      await producer.publish(subject, eventEnvelope(id));
      await until(() => seen.includes(id), 3000, `delivery of ${id}`);
    }
    expect(seen).toEqual(["one", "two", "three"]);
    expect(String(errors[0])).toContain("sync bug");
    consumer.off("handlerError", onError);
    await unsubscribe();
  });
});

describe("request / reply", () => {
  it("replies, and maps no responders and timeouts to stable codes", async () => {
    const prefix = uniquePrefix("rr");
    const unsubscribe = await consumer.subscribe(`${prefix}.cmd.echo`, { queue: "svc" }, async (batch) => {
      await Promise.all(batch.envelopes.map((bytes, i) => consumer.reply(batch.replies[i]!, bytes)));
    });
    const silent = await consumer.subscribe(`${prefix}.cmd.silent`, {}, async () => undefined);
    await consumer.flush();
    const reply = await producer.request(`${prefix}.cmd.echo`, eventEnvelope("ping"));
    expect(decodeWire(reply).messageId).toBe("ping");
    await expectCode(producer.request(`${prefix}.cmd.nobody`, eventEnvelope("x")), "CATGA_NO_HANDLER");
    const timeout = await expectCode(
      producer.request(`${prefix}.cmd.silent`, eventEnvelope("x"), 150),
      "CATGA_TIMEOUT",
    );
    expect(timeout.message).toContain("150 ms");
    // A timeout the engine cannot hold as a u32 is refused up front (-1 used to mean ~49 days).
    for (const bad of [-1, 0, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32 + 50]) {
      const refused = await expectCode(
        producer.request(`${prefix}.cmd.echo`, eventEnvelope("x"), bad),
        "CATGA_INVALID_ARGUMENT",
      );
      expect(refused.message).toContain("timeoutMs");
    }
    await Promise.all([unsubscribe(), silent()]);
  });

  it("rejects with CATGA_BACKPRESSURE past maxInFlightRequests under the reject policy", async () => {
    const prefix = uniquePrefix("bp");
    const client = await NatsConnection.connect({
      servers: NATS_URL,
      maxInFlightRequests: 2,
      backpressure: "reject",
    });
    const unsubscribe = await consumer.subscribe(`${prefix}.cmd.slow`, {}, async (batch) => {
      await new Promise((r) => setTimeout(r, 100));
      await Promise.all(batch.envelopes.map((bytes, i) => consumer.reply(batch.replies[i]!, bytes)));
    });
    await consumer.flush();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => client.request(`${prefix}.cmd.slow`, eventEnvelope(`b${i}`), 2000)),
    );
    const rejected = outcomes.filter((o) => o.status === "rejected");
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(2);
    expect(rejected).toHaveLength(4);
    for (const r of rejected)
      expect(((r as PromiseRejectedResult).reason as CatgaError).code).toBe("CATGA_BACKPRESSURE");
    expect(client.stats().backpressureRejections).toBe(4);
    await unsubscribe();
    await client.close();
  });

  it("waits for room under the wait policy, so every request completes", async () => {
    const prefix = uniquePrefix("bpw");
    const client = await NatsConnection.connect({ servers: NATS_URL, maxInFlightRequests: 2 });
    const unsubscribe = await consumer.subscribe(`${prefix}.cmd.slow`, {}, async (batch) => {
      await new Promise((r) => setTimeout(r, 20));
      await Promise.all(batch.envelopes.map((bytes, i) => consumer.reply(batch.replies[i]!, bytes)));
    });
    await consumer.flush();
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => client.request(`${prefix}.cmd.slow`, eventEnvelope(`w${i}`), 5000)),
    );
    expect(replies.map((r) => decodeWire(r).messageId)).toEqual(Array.from({ length: 8 }, (_, i) => `w${i}`));
    expect(client.stats().backpressureWaits).toBeGreaterThan(0);
    await unsubscribe();
    await client.close();
  });
});

describe("outbound backpressure", () => {
  it("reject policy fails publishes past maxPendingBytes with CATGA_BACKPRESSURE", async () => {
    const subject = `${uniquePrefix("bpub")}.evt.x`;
    const client = await NatsConnection.connect({
      servers: NATS_URL,
      maxPendingBytes: 4096,
      backpressure: "reject",
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        client.publish(subject, eventEnvelope(`p${i}`, Buffer.alloc(100))),
      ),
    );
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(rejected.length).toBeGreaterThan(0);
    expect(outcomes.length - rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect((r.reason as CatgaError).code).toBe("CATGA_BACKPRESSURE");
    // Counted where users read backpressure (issue 14 item 11: it stayed 0 for publishes).
    expect(client.stats().backpressureRejections).toBe(rejected.length);
    await client.close();
  });

  it("wait policy holds publishes until there is room, and every one is delivered", async () => {
    const subject = `${uniquePrefix("bpubw")}.evt.x`;
    const client = await NatsConnection.connect({ servers: NATS_URL, maxPendingBytes: 8192 });
    let received = 0;
    const unsubscribe = await consumer.subscribe(subject, {}, async ({ envelopes }) => {
      received += envelopes.length;
    });
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        client.publish(subject, eventEnvelope(`w${i}`, Buffer.alloc(512))),
      ),
    );
    await until(() => received === 1000, 5000, "all held publishes");
    expect(client.stats().backpressureWaits).toBeGreaterThan(0);
    await unsubscribe();
    await client.close();
  });
});

describe("graceful close", () => {
  it("delivers everything accepted before close, then refuses new work with CATGA_CLOSED", async () => {
    const subject = `${uniquePrefix("close")}.evt.x`;
    const client = await NatsConnection.connect({ servers: NATS_URL });
    let count = 0;
    const unsubscribe = await consumer.subscribe(subject, {}, async ({ envelopes }) => {
      count += envelopes.length;
    });
    await consumer.flush();
    const accepted = Array.from({ length: 1000 }, (_, i) => client.publish(subject, eventEnvelope(`c${i}`)));
    await client.close();
    await Promise.all(accepted);
    await until(() => count === 1000, 5000, "events published before close");
    await expectCode(client.publish(subject, eventEnvelope("late")), "CATGA_CLOSED");
    await expectCode(client.request(subject, eventEnvelope("late")), "CATGA_CLOSED");
    await unsubscribe();
  });

  it("answers flush() and a transport's ready() after close with CATGA_CLOSED", async () => {
    // Before: CATGA_TRANSPORT "flush: failed to send flush request: channel closed" (found from outside).
    const client = await NatsConnection.connect({ servers: NATS_URL });
    await client.close();
    await expectCode(client.flush(), "CATGA_CLOSED");
    const transport = await natsTransport({
      servers: NATS_URL,
      service: "closed",
      prefix: uniquePrefix("closed"),
    });
    const catga = createCatga({ transport, logger: silentLogger }).build();
    await catga.close();
    await catga.close(); // twice: a no-op
    await expectCode(transport.ready(), "CATGA_CLOSED");
  });

  it("finishes in-flight handlers before close resolves", async () => {
    const subject = `${uniquePrefix("drain")}.evt.x`;
    const server = await NatsConnection.connect({ servers: NATS_URL });
    let finished = 0;
    await server.subscribe(subject, {}, async ({ envelopes }) => {
      await new Promise((r) => setTimeout(r, 100));
      finished += envelopes.length;
    });
    await server.flush();
    await producer.publish(subject, eventEnvelope("slow"));
    await until(() => server.stats().messagesReceived > 0, 2000, "delivery");
    await server.close();
    expect(finished).toBe(1);
  });
});
