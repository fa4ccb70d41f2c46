import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { NatsConnection } from "../../ts/entries/nats.js";
import { eventEnvelope, NATS_URL, PrivateNats, uniquePrefix, until } from "../nats/helpers.js";

// Per-key order under failure (issue 21): a key's later messages wait while an earlier one is
// retried in place, other keys keep flowing, and a consumer killed with SIGKILL and restarted
// neither loses a message nor handles a key's message after a later one of the same key.

let connection: NatsConnection;
let js: JetStream;
const streams: string[] = [];

beforeAll(async () => {
  connection = await NatsConnection.connect({ servers: NATS_URL });
  js = new JetStream(connection);
});

afterAll(async () => {
  await Promise.all(streams.map((s) => js.deleteStream(s)));
  await connection.close();
});

/** A well-mixed hash, so keys and failures are spread through the stream. */
function mix(x: number): number {
  const h = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  return (Math.imul(h ^ (h >>> 13), 0x5bd1e995) ^ (h >>> 15)) >>> 0;
}

/** `count` messages with ids `k<key>-<n>`, the key a hash of n among `keys`. */
function keyed(subject: string, count: number, keys: number, from = 0) {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const id = `k${mix(n + 12345) % keys}-${n}`;
    return { subject, messageId: id, envelope: eventEnvelope(id) };
  });
}

async function publishAll(target: JetStream, items: ReturnType<typeof keyed>) {
  for (let at = 0; at < items.length; at += 500) {
    const outcomes = await target.publish(items.slice(at, at + 500));
    expect(outcomes.every((o) => o.ok)).toBe(true);
  }
}

const keyOf = (id: string) => id.split("-")[0]!;
const numberOf = (id: string) => Number(id.split("-")[1]);

/**
 * Records handled messages per key and counts inversions: a message handled for the first time
 * after a later message of its key was handled.
 */
class OrderLog {
  readonly firstHandled = new Set<number>();
  readonly latest = new Map<string, number>();
  inversions = 0;
  readonly invertedKeys = new Set<string>();

  record(key: string, n: number): void {
    if (this.firstHandled.has(n)) return; // a replay after a crash, not a new handling
    this.firstHandled.add(n);
    const latest = this.latest.get(key) ?? -1;
    if (n < latest) {
      this.inversions++;
      this.invertedKeys.add(key);
    } else this.latest.set(key, n);
  }
}

describe("orderBy under failure", () => {
  it("keeps per-key order with 10 % of handler calls failing once: zero inversions, nothing lost", async () => {
    const prefix = uniquePrefix("ord10").replaceAll(".", "_");
    const stream = `S_${prefix}`;
    streams.push(stream);
    await js.ensureStream({ name: stream, subjects: [`${prefix}.>`], storage: "memory" });
    const items = keyed(`${prefix}.x`, 3000, 50);
    await publishAll(js, items);
    const log = new OrderLog();
    const failedOnce = new Set<number>();
    let calls = 0;
    const stop = await js.consume(
      {
        stream,
        durable: "ordered",
        backoffMs: [10, 30],
        fetchWaitMs: 100,
        orderBy: (m) => keyOf(m.envelope.messageId),
      },
      async (m) => {
        calls++;
        const n = numberOf(m.envelope.messageId);
        await new Promise((resolve) => setTimeout(resolve, n % 3));
        if (mix(n) % 10 === 0 && !failedOnce.has(n)) {
          failedOnce.add(n);
          throw new Error("transient");
        }
        log.record(keyOf(m.envelope.messageId), n);
      },
    );
    await until(() => log.firstHandled.size === 3000, 20_000, "all 3,000 handled");
    await stop();
    expect(failedOnce.size).toBeGreaterThan(200);
    expect(calls).toBe(3000 + failedOnce.size);
    expect({ inversions: log.inversions, keys: log.invertedKeys.size }).toEqual({ inversions: 0, keys: 0 });
  });

  it("holds a key behind a retried message while other keys keep flowing, without redelivery", async () => {
    const prefix = uniquePrefix("ordhold").replaceAll(".", "_");
    const stream = `S_${prefix}`;
    streams.push(stream, `${stream}_DLQ`);
    await js.ensureStream({ name: stream, subjects: [`${prefix}.evt.>`], storage: "memory" });
    const stuck = ["stuck-0", "stuck-1", "stuck-2"].map((id) => ({
      subject: `${prefix}.evt.x`,
      messageId: id,
      envelope: eventEnvelope(id),
    }));
    // The stuck key's first message, then 300 of other keys with the stuck key's later two among them.
    const others = keyed(`${prefix}.evt.x`, 300, 20);
    await publishAll(js, [stuck[0]!, ...others.slice(0, 150), stuck[1]!, ...others.slice(150), stuck[2]!]);
    const handled: string[] = [];
    const attempts: number[] = [];
    let release = false;
    const stop = await js.consume(
      {
        stream,
        durable: "held",
        // Held for far longer than the ack wait: in-progress acks must keep it from redelivery.
        ackWaitMs: 300,
        maxDeliver: -1,
        backoffMs: [100],
        batch: 64,
        fetchWaitMs: 100,
        orderBy: (m) => keyOf(m.envelope.messageId),
      },
      (m) => {
        const id = m.envelope.messageId;
        if (id === "stuck-0") {
          attempts.push(m.deliveryCount);
          if (!release) throw new Error("not yet");
        }
        handled.push(id);
      },
    );
    await until(() => others.every((o) => handled.includes(o.messageId)), 10_000, "the other keys");
    // Every other key went through while the stuck key's later messages waited behind its head.
    expect(handled.filter((id) => id.startsWith("stuck"))).toEqual([]);
    await until(() => attempts.length >= 12, 10_000, "more retries, past several ack waits");
    release = true;
    await until(() => handled.includes("stuck-2"), 10_000, "the stuck key");
    await new Promise((resolve) => setTimeout(resolve, 400)); // a redelivery would show up here
    await stop();
    expect(handled.filter((id) => id.startsWith("stuck"))).toEqual(["stuck-0", "stuck-1", "stuck-2"]);
    // One delivery retried in place: attempts count up one by one, never a second copy.
    expect(attempts).toEqual(attempts.map((_, i) => i + 1));
    expect(handled.length).toBe(303);
  });

  it("dead-letters a message after maxDeliver attempts in place, then releases its key", async () => {
    const prefix = uniquePrefix("orddlq").replaceAll(".", "_");
    const stream = `S_${prefix}`;
    streams.push(stream, `${stream}_DLQ`);
    await js.ensureStream({ name: stream, subjects: [`${prefix}.evt.>`], storage: "memory" });
    await js.ensureStream({ name: `${stream}_DLQ`, subjects: [`${prefix}.dlq.>`], storage: "memory" });
    const dead: Record<string, string>[] = [];
    const stopDlq = await js.consume({ stream: `${stream}_DLQ`, durable: "watch", fetchWaitMs: 100 }, (m) => {
      dead.push({ id: m.envelope.messageId, ...m.headers });
    });
    await js.publish(
      ["a-0", "a-1", "b-0"].map((id) => ({
        subject: `${prefix}.evt.x`,
        messageId: id,
        envelope: eventEnvelope(id),
      })),
    );
    const handled: string[] = [];
    const stop = await js.consume(
      {
        stream,
        durable: "dlq",
        maxDeliver: 3,
        backoffMs: [20],
        fetchWaitMs: 100,
        orderBy: (m) => keyOf(m.envelope.messageId),
        deadLetterSubject: (type) => `${prefix}.dlq.${type}`,
      },
      (m) => {
        handled.push(`${m.envelope.messageId}#${m.deliveryCount}`);
        if (m.envelope.messageId === "a-0") throw new Error("poison");
      },
    );
    await until(() => dead.length === 1 && handled.includes("a-1#1"), 10_000, "dead letter, then a-1");
    await Promise.all([stop(), stopDlq()]);
    expect(handled.filter((h) => h.startsWith("a"))).toEqual(["a-0#1", "a-0#2", "a-0#3", "a-1#1"]);
    expect(dead[0]).toMatchObject({ id: "a-0", "Catga-Deliveries": "3", "Catga-Error-Message": "poison" });
  });
});

describe("orderBy across a crash", () => {
  const workerScript = fileURLToPath(new URL("./ordered-worker.mjs", import.meta.url));
  let server: PrivateNats;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    server = await PrivateNats.start();
  });
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await server?.dispose();
  });

  /** Starts a consumer process; each line it prints is a successful handler call. */
  function startWorker(onHandled: (seq: number, key: string) => void): Promise<ChildProcess> {
    const child = spawn(process.execPath, [workerScript, server.url, "CRASHORD", "ordered", "1500"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    child.once("exit", () => children.delete(child));
    return new Promise((resolve, reject) => {
      let rest = "";
      let err = "";
      child.stderr!.on("data", (chunk: Buffer) => {
        err += chunk.toString();
      });
      child.stdout!.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (line === "ready") resolve(child);
          else {
            const [seq, key] = line.split(" ");
            onHandled(Number(seq), key!);
          }
        }
      });
      child.once("exit", (code, signal) => reject(new Error(`worker exited (${code ?? signal}): ${err}`)));
    });
  }

  function kill(child: ChildProcess): Promise<void> {
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  it("a consumer killed with SIGKILL mid-stream and restarted: zero inversions, nothing lost", async () => {
    const client = await NatsConnection.connect({ servers: server.url });
    try {
      const pjs = new JetStream(client);
      await pjs.ensureStream({ name: "CRASHORD", subjects: ["crashord.>"] });
      const items = keyed("crashord.x", 3000, 50);
      await publishAll(pjs, items);
      const keyBySeq = new Map(items.map((item, i) => [i + 1, keyOf(item.messageId)]));
      const log = new OrderLog();
      // Per process, a key's handler calls never go back in stream order.
      const backwards: string[] = [];
      const track = () => {
        const latest = new Map<string, number>();
        return (seq: number, key: string) => {
          expect(keyBySeq.get(seq)).toBe(key);
          if (seq < (latest.get(key) ?? 0)) backwards.push(`${key}: ${seq} after ${latest.get(key)}`);
          latest.set(key, seq);
          log.record(key, seq);
        };
      };
      const first = await startWorker(track());
      await until(() => log.firstHandled.size >= 800, 20_000, "800 handled by the first process");
      await kill(first);
      const killedAt = log.firstHandled.size;
      const second = await startWorker(track());
      await until(() => log.firstHandled.size === 3000, 30_000, "all 3,000 handled after the restart");
      await kill(second);
      expect(killedAt).toBeLessThan(3000);
      expect(backwards).toEqual([]);
      expect({ inversions: log.inversions, keys: log.invertedKeys.size }).toEqual({ inversions: 0, keys: 0 });
    } finally {
      await client.close();
    }
  });
});
