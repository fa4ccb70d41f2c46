import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DurableMessage, JetStream } from "../../ts/entries/jetstream.js";
import { NatsConnection } from "../../ts/entries/nats.js";
import { CatgaConfigError, CatgaError } from "../../ts/index.js";
import { eventEnvelope, NATS_URL, PrivateNats, uniquePrefix, until } from "../nats/helpers.js";

let connection: NatsConnection;
let js: JetStream;
const streams: string[] = [];

function names(label: string) {
  const prefix = uniquePrefix(label).replaceAll(".", "_");
  const stream = `S_${prefix}`;
  streams.push(stream, `${stream}_DLQ`);
  return { prefix, stream, subject: `${prefix}.evt.orders`, dlq: `${prefix}.dlq` };
}

/** A stream for `subject.>` and its dead-letter stream, with a consumer recording what is dead-lettered. */
async function withDeadLetters(n: ReturnType<typeof names>) {
  await js.ensureStream({ name: n.stream, subjects: [`${n.subject}.>`], storage: "memory" });
  await js.ensureStream({ name: `${n.stream}_DLQ`, subjects: [`${n.dlq}.>`], storage: "memory" });
  const deadLettered: string[] = [];
  const stop = await js.consume({ stream: `${n.stream}_DLQ`, durable: "watch", fetchWaitMs: 100 }, (m) => {
    deadLettered.push(m.envelope.messageId);
  });
  return { deadLettered, stop };
}

beforeAll(async () => {
  connection = await NatsConnection.connect({ servers: NATS_URL });
  js = new JetStream(connection);
});

afterAll(async () => {
  await Promise.all(streams.map((s) => js.deleteStream(s)));
  await connection.close();
});

describe("streams", () => {
  it("provisions idempotently and updates on change", async () => {
    const { stream, subject } = names("prov");
    const spec = { name: stream, subjects: [`${subject}.>`], storage: "memory" as const, maxAgeMs: 60_000 };
    await js.ensureStream(spec);
    await js.ensureStream(spec);
    await js.ensureStream({ ...spec, maxAgeMs: 120_000 });
    const [outcome] = await js.publish([
      { subject: `${subject}.a`, messageId: "p1", envelope: eventEnvelope("p1") },
    ]);
    expect(outcome).toMatchObject({ ok: true, sequence: 1, duplicate: false });
  });

  it("provisions the same new stream from many starts at once (instances starting together)", async () => {
    // Each start finds no stream and creates it. The server handles such requests concurrently and
    // once refused the slower of two instances with "subjects overlap" though the stream it asked
    // for existed (seen once in CI; rare, not reproduced on demand): ensureStream asks again.
    const starts = await Promise.all(
      Array.from({ length: 6 }, () => NatsConnection.connect({ servers: NATS_URL })),
    );
    try {
      for (let round = 0; round < 5; round++) {
        const { stream, subject } = names(`race${round}`);
        const spec = { name: stream, subjects: [`${subject}.>`], storage: "memory" as const };
        const outcomes = await Promise.allSettled(starts.map((c) => new JetStream(c).ensureStream(spec)));
        expect(outcomes.filter((o) => o.status === "rejected")).toEqual([]);
      }
    } finally {
      await Promise.all(starts.map((c) => c.close()));
    }
  });

  it("still refuses a stream whose subjects overlap another stream's", async () => {
    const { stream, subject } = names("overlap");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    const other = `${stream}_OTHER`;
    streams.push(other);
    const error = await js
      .ensureStream({ name: other, subjects: [`${subject}.x`], storage: "memory" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatgaError);
    expect((error as CatgaError).message).toContain("subjects overlap");
  });

  it("rejects invalid stream and consumer config with CatgaConfigError listing every field", async () => {
    const error = await js
      .ensureStream({ name: "has.dot", subjects: [], replicas: 9, retention: "forever" as never })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatgaConfigError);
    expect((error as CatgaConfigError).issues.map((i) => i.path).sort()).toEqual([
      "stream.name",
      "stream.replicas",
      "stream.retention",
      "stream.subjects",
    ]);
    // 0 would silently become the server's 2-minute default: refused instead.
    const windowError = await js
      .ensureStream({ name: "ZERO_WINDOW", subjects: ["zero.window"], duplicateWindowMs: 0 })
      .catch((e: unknown) => e);
    expect((windowError as CatgaConfigError).issues.map((i) => i.path)).toEqual(["stream.duplicateWindowMs"]);
    const consumerError = await js
      .consume({ stream: "S", durable: "a b", maxDeliver: 0, batch: 0 }, () => undefined)
      .catch((e: unknown) => e);
    expect((consumerError as CatgaConfigError).issues.map((i) => i.path).sort()).toEqual([
      "consumer.batch",
      "consumer.durable",
      "consumer.maxDeliver",
    ]);
    const noHandler = await js.consume({ stream: "ANY", durable: "d" }, 5 as never).catch((e: unknown) => e);
    expect(noHandler).toBeInstanceOf(CatgaConfigError);
    expect((noHandler as CatgaConfigError).issues.map((i) => i.path)).toEqual(["consume.handler"]);
  });

  it("a consumer on a missing stream fails with a coded error", async () => {
    const error = await js
      .consume({ stream: "NO_SUCH_STREAM_X", durable: "d" }, () => undefined)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatgaError);
    expect((error as CatgaError).code).toBe("CATGA_INVALID_ARGUMENT");
    expect((error as CatgaError).message).toContain("NO_SUCH_STREAM_X");
  });

  it("a server without JetStream is a transport failure, not a bad argument", async () => {
    const plain = await PrivateNats.start([], false);
    const client = await NatsConnection.connect({ servers: plain.url, requestTimeoutMs: 2000 });
    try {
      const noJs = new JetStream(client);
      const stream = await noJs.ensureStream({ name: "X", subjects: ["x.>"] }).catch((e: CatgaError) => e);
      expect(stream).toMatchObject({ code: "CATGA_TRANSPORT" });
      const consumer = await noJs
        .consume({ stream: "X", durable: "d" }, () => undefined)
        .catch((e: CatgaError) => e);
      expect(consumer).toMatchObject({ code: "CATGA_TRANSPORT" });
    } finally {
      await client.close();
      await plain.dispose();
    }
  });
});

describe("durable publish", () => {
  it("acks each message, reports server-side duplicates by message id, and codes failures", async () => {
    const { stream, subject, prefix } = names("pub");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    const items = Array.from({ length: 300 }, (_, i) => ({
      subject: `${subject}.x`,
      messageId: `m-${i}`,
      envelope: eventEnvelope(`m-${i}`),
    }));
    const outcomes = await js.publish(items);
    expect(outcomes.every((o) => o.ok && !o.duplicate)).toBe(true);
    expect(outcomes.map((o) => (o.ok ? o.sequence : 0))).toEqual(items.map((_, i) => i + 1));
    // A re-publish (e.g. a relay that crashed before marking rows sent) is absorbed by the server.
    const again = await js.publish(items.slice(0, 5));
    expect(again.every((o) => o.ok && o.duplicate)).toBe(true);
    // No stream captures this subject: a coded failure per item, not a silent drop.
    const [lost] = await js.publish([
      { subject: `${prefix}.nowhere`, messageId: "z", envelope: eventEnvelope("z") },
    ]);
    expect(lost).toMatchObject({ ok: false, code: "CATGA_NO_HANDLER" });
    await expect(js.publishOne(`${prefix}.nowhere`, "z2", eventEnvelope("z2"))).rejects.toMatchObject({
      code: "CATGA_NO_HANDLER",
    });
  });

  it("refuses a call with a malformed item whole, naming the item's field, before sending any", async () => {
    const { stream, subject } = names("badpub");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    const good = { subject: `${subject}.x`, messageId: "ok-1", envelope: eventEnvelope("ok-1") };
    const refused = async (items: unknown, field: string) => {
      const error = await js.publish(items as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "CATGA_INVALID_ARGUMENT", details: { field } });
      expect((error as Error).message.length).toBeLessThan(400);
    };
    await refused("x", "items");
    await refused([good, null], "items[1]");
    await refused([good, { ...good, envelope: "bytes" }], "items[1].envelope");
    await refused([good, { ...good, messageId: "" }], "items[1].messageId");
    await refused([{ ...good, subject: "a b" }], "items[0].subject");
    // A wrong call shape quotes at most 200 characters of what it got, not megabytes.
    await refused([{ ...good, subject: "s ".repeat(600_000) }], "items[0].subject");
    // Nothing of the refused calls was stored: the good item goes in as the stream's first.
    expect(await js.publish([good])).toEqual([{ ok: true, sequence: 1, duplicate: false }]);
  });
});

describe("durable consumers", () => {
  it("delivers every message, acks after the handler, and resumes from the last ack", async () => {
    const { stream, subject } = names("cons");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    const publish = (from: number, count: number) =>
      js.publish(
        Array.from({ length: count }, (_, i) => ({
          subject: `${subject}.x`,
          messageId: `e-${from + i}`,
          envelope: eventEnvelope(`e-${from + i}`),
        })),
      );
    await publish(0, 500);
    const seen: string[] = [];
    const stop = await js.consume({ stream, durable: "worker", batch: 128, fetchWaitMs: 200 }, (m) => {
      seen.push(m.envelope.messageId);
    });
    await until(() => seen.length === 500, 10_000, "first 500");
    await stop();
    await publish(500, 100);
    const resumed: string[] = [];
    const stop2 = await js.consume({ stream, durable: "worker", batch: 128, fetchWaitMs: 200 }, (m) => {
      resumed.push(m.envelope.messageId);
    });
    await until(() => resumed.length >= 100, 10_000, "the next 100");
    await new Promise((r) => setTimeout(r, 300));
    await stop2();
    // Nothing acked before the restart comes again.
    expect(resumed).toEqual(Array.from({ length: 100 }, (_, i) => `e-${500 + i}`));
    expect(new Set(seen).size).toBe(500);
  });

  it("sends a poison message to the dead-letter subject after maxDeliver, while others keep flowing", async () => {
    const { stream, subject, dlq } = names("poison");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    await js.ensureStream({ name: `${stream}_DLQ`, subjects: [`${dlq}.>`], storage: "memory" });
    const good: string[] = [];
    const attempts: number[] = [];
    const invalidAttempts: number[] = [];
    const stop = await js.consume(
      {
        stream,
        durable: "poisoned",
        maxDeliver: 3,
        backoffMs: [20],
        fetchWaitMs: 100,
        deadLetterSubject: (type) => `${dlq}.${type}`,
      },
      (m) => {
        if (m.envelope.messageId === "poison") {
          attempts.push(m.deliveryCount);
          throw new CatgaError("CATGA_HANDLER_FAILED", "sku is required");
        }
        if (m.envelope.messageId === "invalid") {
          invalidAttempts.push(m.deliveryCount);
          // No redelivery can fix it: dead-lettered on the first delivery.
          throw new CatgaError("CATGA_VALIDATION", "quantity must be positive");
        }
        good.push(m.envelope.messageId);
      },
    );
    await js.publish([
      { subject: `${subject}.x`, messageId: "poison", envelope: eventEnvelope("poison") },
      { subject: `${subject}.x`, messageId: "invalid", envelope: eventEnvelope("invalid") },
      ...Array.from({ length: 20 }, (_, i) => ({
        subject: `${subject}.x`,
        messageId: `ok-${i}`,
        envelope: eventEnvelope(`ok-${i}`),
      })),
    ]);
    const dead: { id: string; headers: Record<string, string> }[] = [];
    const stopDlq = await js.consume(
      { stream: `${stream}_DLQ`, durable: "inspector", fetchWaitMs: 100 },
      (m) => {
        dead.push({ id: m.envelope.messageId, headers: { ...m.headers } });
      },
    );
    await until(() => dead.length === 2 && good.length === 20, 15_000, "dead letters and good messages");
    expect(attempts).toEqual([1, 2, 3]);
    expect(invalidAttempts).toEqual([1]);
    const poison = dead.find((d) => d.id === "poison")!;
    expect(poison.headers).toMatchObject({
      "Catga-Error-Code": "CATGA_HANDLER_FAILED",
      "Catga-Error-Message": "sku is required",
      "Catga-Deliveries": "3",
      "Catga-Original-Subject": `${subject}.x`,
    });
    expect(poison.headers).not.toHaveProperty("stack");
    expect(dead.find((d) => d.id === "invalid")!.headers).toMatchObject({
      "Catga-Error-Code": "CATGA_VALIDATION",
      "Catga-Deliveries": "1",
    });
    await Promise.all([stop(), stopDlq()]);
  });

  it("keeps a message alive while its handler runs past the ack wait: it runs once", async () => {
    const { stream, subject } = names("slow");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    const runs: string[] = [];
    let slowDone = false;
    const handler = async (m: DurableMessage) => {
      runs.push(`${m.envelope.messageId}#${m.deliveryCount}`);
      // 2.5 ack waits: without in-progress acks the server would hand it out again meanwhile.
      if (m.envelope.messageId === "slow") {
        await new Promise((resolve) => setTimeout(resolve, 2500));
        slowDone = true;
      }
    };
    // Two instances of one durable: a redelivery would go to the idle one while the slow runs.
    const spec = { stream, durable: "slow", ackWaitMs: 1000, fetchWaitMs: 100 };
    const stops = [await js.consume(spec, handler), await js.consume(spec, handler)];
    await js.publishOne(`${subject}.x`, "slow", eventEnvelope("slow"));
    await until(() => slowDone, 10_000, "the slow handler ends");
    // Published after the slow one ended: a redelivery of "slow" would have come before it.
    await js.publishOne(`${subject}.x`, "after", eventEnvelope("after"));
    await until(() => runs.some((r) => r.startsWith("after")), 10_000, "the message after it");
    expect(runs).toEqual(["slow#1", "after#1"]);
    await Promise.all(stops.map((stop) => stop()));
  });

  it("reports a non-Catga message with subject and sequence, counts it, and dead-letters its bytes", async () => {
    const { stream, subject, dlq } = names("foreign");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    await js.ensureStream({ name: `${stream}_DLQ`, subjects: [`${dlq}.>`], storage: "memory" });
    const reports: string[] = [];
    const onMalformed = (_count: number, reason: string) => reports.push(reason);
    connection.on("malformed", onMalformed);
    const before = connection.stats().malformedReceived;
    const handled: string[] = [];
    const stop = await js.consume(
      { stream, durable: "foreign", fetchWaitMs: 100, deadLetterSubject: (type) => `${dlq}.${type}` },
      (m) => {
        handled.push(m.envelope.messageId);
      },
    );
    // A foreign producer (nats.js) writes bytes that are no Catga envelope next to a good one.
    const foreign = await connect({ servers: NATS_URL });
    const raw = Buffer.from("plain text, not an envelope");
    foreign.publish(`${subject}.x`, raw);
    await foreign.flush();
    await js.publishOne(`${subject}.x`, "good", eventEnvelope("good"));
    await until(
      () => handled.includes("good") && reports.length > 0,
      10_000,
      "the good message and the report",
    );
    expect(reports[0]).toContain(`${subject}.x`);
    expect(reports[0]).toContain("stream sequence 1");
    await until(() => connection.stats().malformedReceived > before, 5000, "the malformed count");
    expect(connection.stats().malformedReceived - before).toBe(1);
    const jsm = await foreign.jetstreamManager();
    let dead: Awaited<ReturnType<typeof jsm.streams.getMessage>> | undefined;
    for (let i = 0; i < 50 && dead === undefined; i++) {
      dead = await jsm.streams
        .getMessage(`${stream}_DLQ`, { last_by_subj: `${dlq}._undecodable` })
        .catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        });
    }
    expect(Buffer.from(dead!.data)).toEqual(raw);
    expect(dead!.header.get("Catga-Error-Code")).toBe("CATGA_DECODE");
    expect(dead!.header.get("Catga-Original-Subject")).toBe(`${subject}.x`);
    expect(dead!.header.get("Catga-Stream-Sequence")).toBe("1");
    expect(handled).toEqual(["good"]);
    connection.off("malformed", onMalformed);
    await foreign.close();
    await stop();
  });

  it("a message whose dead-letter publish fails on its last delivery comes back instead of being dropped", async () => {
    const { prefix, stream, subject } = names("dlqfail");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    await js.publish([{ subject: `${subject}.a`, messageId: "m1", envelope: eventEnvelope("m1") }]);
    const deliveries: number[] = [];
    let failing = true;
    const stop = await js.consume(
      // No stream captures this dead-letter subject, so the dead-letter publish fails.
      {
        stream,
        durable: "d",
        maxDeliver: 2,
        backoffMs: [50],
        fetchWaitMs: 100,
        deadLetterSubject: () => `${prefix}.nowhere`,
      },
      (m) => {
        deliveries.push(m.deliveryCount);
        if (failing) throw new Error("boom");
      },
    );
    await until(() => deliveries.length >= 3, 10_000); // past maxDeliver: redelivered, not dropped
    failing = false;
    const seen = deliveries.length;
    await until(() => deliveries.length > seen, 10_000);
    await stop();
    expect(deliveries.slice(0, 3)).toEqual([1, 2, 3]);
  });

  it("with orderBy, a message held back behind a poison one on its key is still handled after it is dead-lettered", async () => {
    const n = names("heldback");
    const { prefix, stream, subject } = n;
    const { deadLettered, stop: stopDlq } = await withDeadLetters(n);
    await js.publish([
      { subject: `${subject}.a`, messageId: "poison", envelope: eventEnvelope("poison") },
      { subject: `${subject}.a`, messageId: "good", envelope: eventEnvelope("good") },
    ]);
    const handled: string[] = [];
    const stop = await js.consume(
      {
        stream,
        durable: "ordered",
        maxDeliver: 3,
        backoffMs: [50],
        fetchWaitMs: 100,
        orderBy: () => "one-aggregate",
        deadLetterSubject: (type) => `${prefix}.dlq.${type}`,
      },
      (m) => {
        if (m.envelope.messageId === "poison") throw new Error("boom");
        handled.push(m.envelope.messageId);
      },
    );
    await until(() => handled.includes("good") && deadLettered.includes("poison"), 10_000);
    await Promise.all([stop(), stopDlq()]);
    expect(deadLettered).toEqual(["poison"]);
  });

  it("a throwing orderBy fails its message like a handler failure: backoff, then dead-letter, no spin", async () => {
    const n = names("badkey");
    const { prefix, stream, subject } = n;
    const { deadLettered, stop: stopDlq } = await withDeadLetters(n);
    await js.publish([{ subject: `${subject}.a`, messageId: "k1", envelope: eventEnvelope("k1") }]);
    let keyCalls = 0;
    const stop = await js.consume(
      {
        stream,
        durable: "badkey",
        maxDeliver: 3,
        backoffMs: [50],
        fetchWaitMs: 100,
        deadLetterSubject: (type) => `${prefix}.dlq.${type}`,
        orderBy: () => {
          keyCalls++;
          throw new Error("no key for you");
        },
      },
      () => undefined,
    );
    await until(() => deadLettered.includes("k1"), 10_000, "dead letter");
    await Promise.all([stop(), stopDlq()]);
    expect(keyCalls).toBe(3);
  });

  it("a handler that throws something unprintable still gets its own decision; the others are acked once", async () => {
    const n = names("unprintable");
    const { prefix, stream, subject } = n;
    const { deadLettered, stop: stopDlq } = await withDeadLetters(n);
    await js.publish([
      { subject: `${subject}.a`, messageId: "bad", envelope: eventEnvelope("bad") },
      { subject: `${subject}.a`, messageId: "good", envelope: eventEnvelope("good") },
    ]);
    const handled: string[] = [];
    const stop = await js.consume(
      {
        stream,
        durable: "d",
        maxDeliver: 2,
        backoffMs: [50],
        fetchWaitMs: 100,
        deadLetterSubject: (t) => `${prefix}.dlq.${t}`,
      },
      (m) => {
        handled.push(`${m.envelope.messageId}#${m.deliveryCount}`);
        if (m.envelope.messageId === "bad") throw Object.create(null); // String() of it throws
      },
    );
    await until(() => deadLettered.includes("bad"), 10_000, "dead letter");
    await new Promise((resolve) => setTimeout(resolve, 300));
    await Promise.all([stop(), stopDlq()]);
    expect(handled.filter((h) => h.startsWith("good"))).toEqual(["good#1"]);
  });

  it("keeps per-key order when asked", async () => {
    const { stream, subject } = names("order");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    await js.publish(
      Array.from({ length: 60 }, (_, i) => ({
        subject: `${subject}.x`,
        messageId: `k${i % 3}-${i}`,
        envelope: eventEnvelope(`k${i % 3}-${i}`),
      })),
    );
    const byKey = new Map<string, number[]>();
    const stop = await js.consume(
      { stream, durable: "ordered", fetchWaitMs: 100, orderBy: (m) => m.envelope.messageId.split("-")[0] },
      async (m) => {
        const [key, n] = m.envelope.messageId.split("-") as [string, string];
        await new Promise((r) => setTimeout(r, Number(n) % 5));
        byKey.set(key, [...(byKey.get(key) ?? []), Number(n)]);
      },
    );
    await until(() => [...byKey.values()].reduce((a, l) => a + l.length, 0) === 60, 10_000, "60 messages");
    for (const list of byKey.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
    await stop();
  });
});

describe("broker restart", () => {
  it("delivers every acknowledged event after the server restarts mid-stream", async () => {
    const server = await PrivateNats.start();
    try {
      const options = {
        servers: server.url,
        reconnectDelayMs: 20,
        reconnectDelayMaxMs: 200,
        requestTimeoutMs: 2000,
      };
      const producer = await NatsConnection.connect(options);
      const consumer = await NatsConnection.connect(options);
      const pjs = new JetStream(producer);
      const cjs = new JetStream(consumer);
      await pjs.ensureStream({ name: "RESTART", subjects: ["restart.>"] });
      const seen = new Set<string>();
      const stop = await cjs.consume({ stream: "RESTART", durable: "survivor", fetchWaitMs: 100 }, (m) => {
        seen.add(m.envelope.messageId);
      });
      const acked = new Set<string>();
      const publishRange = async (from: number, to: number) => {
        for (let start = from; start < to; start += 100) {
          const items = Array.from({ length: Math.min(100, to - start) }, (_, i) => ({
            subject: "restart.x",
            messageId: `r-${start + i}`,
            envelope: eventEnvelope(`r-${start + i}`),
          }));
          const outcomes = await pjs.publish(items);
          outcomes.forEach((o, i) => {
            if (o.ok) acked.add(items[i]!.messageId);
          });
        }
      };
      await publishRange(0, 1000);
      await server.stop();
      await new Promise((r) => setTimeout(r, 300));
      await server.start();
      await until(() => producer.connected && consumer.connected, 10_000, "reconnect");
      await publishRange(1000, 2000);
      await until(() => [...acked].every((id) => seen.has(id)), 20_000, "every acked event");
      expect(acked.size).toBeGreaterThanOrEqual(1000);
      await stop();
      await Promise.all([producer.close(), consumer.close()]);
    } finally {
      await server.dispose();
    }
  });
});

describe("publishOne", () => {
  it("sends the calls of one tick together, each caller getting its own outcome", async () => {
    const { stream, subject } = names("single");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    const calls = Array.from({ length: 50 }, (_, i) =>
      js.publishOne(`${subject}.x`, `one-${i}`, eventEnvelope(`one-${i}`)).then(
        (outcome) => outcome.sequence,
        (error: CatgaError) => error.code,
      ),
    );
    // A subject no stream takes fails alone, coded; the others in its batch are stored.
    const stray = js.publishOne(`nobody.${stream}.x`, "stray", eventEnvelope("stray")).then(
      () => "stored",
      (error: CatgaError) => error.code,
    );
    const sequences = await Promise.all(calls);
    expect([...sequences].sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect(await stray).toMatch(/^CATGA_/);
    // A duplicate id is reported as such, not stored twice.
    expect(await js.publishOne(`${subject}.x`, "one-0", eventEnvelope("one-0"))).toMatchObject({
      duplicate: true,
    });
  });
});

describe("publishOne (found by a reviewer)", () => {
  it("fails a call with a bad argument alone, and stores what was accepted before a close in the same tick", async () => {
    const { stream, subject } = names("single2");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    const client = await NatsConnection.connect({ servers: NATS_URL });
    const own = new JetStream(client);
    const good = own.publishOne(`${subject}.x`, "g1", eventEnvelope("g1"));
    const bad = own
      .publishOne(`${subject}.x`, 42 as never, eventEnvelope("g2"))
      .catch((e: CatgaError) => e.code);
    const notBytes = own.publishOne(`${subject}.x`, "g3", "text" as never).catch((e: CatgaError) => e.code);
    const closing = client.close();
    expect(await bad).toBe("CATGA_INVALID_ARGUMENT");
    expect(await notBytes).toBe("CATGA_INVALID_ARGUMENT");
    expect((await good).sequence).toBe(1);
    await closing;
    const late = await own
      .publishOne(`${subject}.x`, "late", eventEnvelope("late"))
      .catch((e: CatgaError) => e.code);
    expect(late).toBe("CATGA_CLOSED");
  });

  it("counts every publish refused for backpressure, one per message", async () => {
    const { stream, subject } = names("single3");
    await js.ensureStream({ name: stream, subjects: [`${subject}.>`], storage: "memory" });
    const client = await NatsConnection.connect({
      servers: NATS_URL,
      maxPendingBytes: 2000,
      backpressure: "reject",
    });
    const own = new JetStream(client);
    // Bursts in separate ticks: each is one engine call, refused while earlier ones are still in
    // flight. How many bursts that takes depends on the machine's load, so burst until one is.
    const pending: Promise<string>[] = [];
    let refusedSoFar = 0;
    for (let burst = 0; burst < 200 && refusedSoFar === 0; burst++) {
      for (let i = 0; i < 50; i++)
        pending.push(
          own
            .publishOne(`${subject}.x`, `b${burst}-${i}`, eventEnvelope(`b${burst}-${i}`, Buffer.alloc(100)))
            .then(
              () => "ok",
              (e: CatgaError) => e.code,
            ),
        );
      await new Promise((resolve) => setImmediate(resolve));
      refusedSoFar = client.stats().backpressureRejections;
    }
    const outcomes = await Promise.all(pending);
    const refused = outcomes.flat().filter((o) => o === "CATGA_BACKPRESSURE").length;
    expect(refused).toBeGreaterThan(0);
    expect(client.stats().backpressureRejections).toBe(refused);
    await client.close();
  });
});
