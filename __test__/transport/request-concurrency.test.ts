import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import {
  type Catga,
  CatgaConfigError,
  createCatga,
  defineCommand,
  ErrorCodes,
  silentLogger,
} from "../../ts/index.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";

// Requests of one type served by one process: a slow handler must hold up no other request
// (issue: head-of-line blocking found by the saga chaos test), and `maxConcurrentRequests` bounds
// the handlers running at once.

const Work = defineCommand("work.do")
  .payload<{ id: number; slow?: boolean; io?: boolean }>()
  .returns<number>();

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void; // assigned by the executor, which runs at once
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const running: Catga[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((catga) => catga.close().catch(() => undefined)));
});

async function caller(prefix: string): Promise<Catga> {
  const transport = await natsTransport({ servers: NATS_URL, service: "caller", prefix });
  const catga = createCatga({ logger: silentLogger, transport }).remote(Work).build();
  running.push(catga);
  return catga;
}

describe("request handlers over NATS run concurrently, bounded", () => {
  it("answers fast requests of a type while a slow one of the same type still runs", async () => {
    const prefix = uniquePrefix("hol");
    const slowGate = gate();
    const transport = await natsTransport({ servers: NATS_URL, service: "worker", prefix });
    const worker = createCatga({ logger: silentLogger, transport })
      .handle(Work, async ({ id, slow, io }) => {
        // The slow one finishes only once every fast one is answered (or after 1.5 s): with the
        // old batch-at-a-time serving the fast ones waited for it, and this order was reversed.
        if (slow) await Promise.race([slowGate.opened, sleep(1500)]);
        else if (io) await sleep(1); // a timer: settles after the batch is handed back
        return id;
      })
      .build();
    running.push(worker);
    await transport.ready();
    const gateway = await caller(prefix);

    const finished: string[] = [];
    const send = (id: number, payload: { slow?: boolean; io?: boolean }) =>
      gateway.send(Work, { id, ...payload }).then((result) => {
        expect(result.unwrap()).toBe(id);
        finished.push(id === 0 ? "slow" : "fast");
      });
    // One tick: one request frame, one inbound batch with the slow request first. Half the fast
    // handlers answer synchronously (in the batch's reply frame), half after a timer (on their own).
    const slow = send(0, { slow: true });
    const first = Array.from({ length: 25 }, (_, i) => send(i + 1, { io: i % 2 === 0 }));
    await Promise.all(first);
    // Later batches of the same subscription are taken while the slow request runs.
    const later = Array.from({ length: 25 }, (_, i) => send(i + 26, { io: i % 2 === 0 }));
    await Promise.all(later);
    slowGate.open();
    await slow;
    expect(finished).toHaveLength(51);
    expect(finished.indexOf("slow")).toBe(50);
  });

  it("never runs more than maxConcurrentRequests handlers at once, and answers every request", async () => {
    const prefix = uniquePrefix("bound");
    const transport = await natsTransport({
      servers: NATS_URL,
      service: "worker",
      prefix,
      maxConcurrentRequests: 4,
    });
    let now = 0;
    let most = 0;
    const worker = createCatga({ logger: silentLogger, transport })
      .handle(Work, async ({ id }) => {
        now++;
        most = Math.max(most, now);
        await sleep(100);
        now--;
        return id;
      })
      .build();
    running.push(worker);
    await transport.ready();
    const gateway = await caller(prefix);

    const results = await Promise.all(Array.from({ length: 20 }, (_, id) => gateway.send(Work, { id })));
    expect(results.map((r) => r.unwrap())).toEqual(Array.from({ length: 20 }, (_, id) => id));
    expect(most).toBeLessThanOrEqual(4);
    // The 20 arrive as one frame, one batch: the bound is reached, not merely respected.
    expect(most).toBe(4);
  });

  it("sends the replies of handlers that await no I/O in the batch's frame", async () => {
    const prefix = uniquePrefix("frame");
    const transport = await natsTransport({ servers: NATS_URL, service: "worker", prefix });
    const worker = createCatga({ logger: silentLogger, transport })
      .handle(Work, async ({ id }) => id)
      .build();
    running.push(worker);
    await transport.ready();
    const gateway = await caller(prefix);
    await gateway.send(Work, { id: -1 }); // the reply inbox is set up
    const before = transport.connection.stats().framesSent;
    const results = await Promise.all(Array.from({ length: 32 }, (_, id) => gateway.send(Work, { id })));
    expect(results.map((r) => r.unwrap())).toEqual(Array.from({ length: 32 }, (_, id) => id));
    // One positional reply frame per request frame, not one NATS message per reply (a reply sent
    // on its own counts as a message, not a frame).
    const frames = transport.connection.stats().framesSent - before;
    expect(frames).toBeGreaterThanOrEqual(1);
    expect(frames).toBeLessThanOrEqual(2);
  });

  it("frames the replies of a request group that settle together after the batch was handed back", async () => {
    const prefix = uniquePrefix("late");
    const lateGate = gate();
    let started = 0;
    const transport = await natsTransport({ servers: NATS_URL, service: "worker", prefix });
    const worker = createCatga({ logger: silentLogger, transport })
      .handle(Work, async ({ id }) => {
        if (id < 0) return id;
        started++;
        await lateGate.opened;
        return id;
      })
      .build();
    running.push(worker);
    await transport.ready();
    const gateway = await caller(prefix);
    await gateway.send(Work, { id: -1 }); // the reply inbox is set up
    const before = transport.connection.stats();
    const answered = Promise.all(Array.from({ length: 32 }, (_, id) => gateway.send(Work, { id })));
    await until(() => started === 32, 5000, "every handler to start");
    lateGate.open(); // all 32 settle in one tick, long after their batch was handed back
    const results = await answered;
    expect(results.map((r) => r.unwrap())).toEqual(Array.from({ length: 32 }, (_, id) => id));
    const after = transport.connection.stats();
    expect(after.messagesSent - before.messagesSent).toBe(32);
    // Replies sent on their own count as messages, not frames: these went framed.
    const frames = after.framesSent - before.framesSent;
    expect(frames).toBeGreaterThanOrEqual(1);
    expect(frames).toBeLessThanOrEqual(2);
  });

  it("close() waits for a running request and sends its reply", async () => {
    const prefix = uniquePrefix("closing");
    const slowGate = gate();
    let started = false;
    const transport = await natsTransport({ servers: NATS_URL, service: "worker", prefix });
    const worker = createCatga({ logger: silentLogger, transport })
      .handle(Work, async ({ id }) => {
        started = true;
        await slowGate.opened;
        return id;
      })
      .build();
    await transport.ready();
    const gateway = await caller(prefix);

    const answered = gateway.send(Work, { id: 7 });
    await until(() => started, 5000, "the handler to start");
    let closed = false;
    const closing = worker.close().then(() => {
      closed = true;
    });
    await sleep(200);
    expect(closed).toBe(false);
    slowGate.open();
    expect((await answered).unwrap()).toBe(7);
    await closing;
    expect(closed).toBe(true);
  });

  it("refuses a maxConcurrentRequests that is not a whole number from 1, naming the field", async () => {
    for (const bad of [0, -1, 1.5, "4", Number.POSITIVE_INFINITY, Number.NaN]) {
      const error = await natsTransport({
        servers: NATS_URL,
        service: "worker",
        maxConcurrentRequests: bad as number,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CatgaConfigError);
      expect((error as CatgaConfigError).code).toBe(ErrorCodes.CONFIG);
      expect((error as CatgaConfigError).issues.map((i) => i.path)).toEqual(["maxConcurrentRequests"]);
    }
  });
});
