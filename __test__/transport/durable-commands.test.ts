import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { natsTransport } from "../../ts/entries/nats.js";
import { deadLetters } from "../../ts/entries/operations.js";
import {
  CatgaConfigError,
  CatgaError,
  createCatga,
  defineCommand,
  ErrorCodes,
  err,
  silentLogger,
} from "../../ts/index.js";
import type { NatsTransport } from "../../ts/transport/nats-transport.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";
import { startWorker, type WorkerLog } from "./worker-process.js";

const Capture = defineCommand("payments.capture")
  .payload<{ id: string }>()
  .returns<{ captured: string }>()
  .durable();
const Work = defineCommand("work.do")
  .payload<{ n: number }>()
  .returns<{ n: number; pid: number }>()
  .durable();

const durableCommands = {
  provision: { storage: "memory" as const },
  consumer: { fetchWaitMs: 100, backoffMs: [20], maxDeliver: 3 },
};

function connect(service: string, prefix: string, extra: Record<string, unknown> = {}) {
  return natsTransport({ servers: NATS_URL, service, prefix, ...extra });
}

function streamOf(prefix: string): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_COMMANDS`;
}

async function dropStreams(transport: NatsTransport, prefix: string): Promise<void> {
  const js = new JetStream(transport.connection);
  await Promise.all([
    js.deleteStream(streamOf(prefix)),
    js.deleteStream(`${streamOf(prefix)}_DLQ`),
    js.deleteStream(`${streamOf(prefix)}_RESULTS`),
  ]);
}

describe("durable commands: sending and handling", () => {
  it("answers 'result' sends with the handler's Result, 'accepted' ones once stored, and dedupes by messageId", async () => {
    const prefix = uniquePrefix("dcmd");
    const handled: string[] = [];
    const headersSeen: Record<string, string>[] = [];
    const paymentsTransport = await connect("payments", prefix, { durableCommands });
    const payments = createCatga({ logger: silentLogger, transport: paymentsTransport })
      .handle(Capture, ({ id }, ctx) => {
        handled.push(id);
        headersSeen.push({ ...ctx.headers });
        return { captured: id };
      })
      .build();
    await paymentsTransport.ready();
    const webTransport = await connect("web", prefix);
    const web = createCatga({ logger: silentLogger, transport: webTransport }).remote(Capture).build();

    expect((await web.send(Capture, { id: "p1" }, { await: "result" })).unwrap()).toEqual({ captured: "p1" });
    // The handler does not see the transport's reply header.
    expect(headersSeen).toEqual([{}]);

    const accepted = (await web.send(Capture, { id: "p2" }, { messageId: "m-p2" })).unwrap();
    expect(accepted).toEqual({ messageId: "m-p2", duplicate: false });
    await until(() => handled.includes("p2"), 10_000, "the accepted command");

    // Sent again with the same id: stored once, handled once.
    const again = (await web.send(Capture, { id: "p2" }, { messageId: "m-p2" })).unwrap();
    expect(again).toEqual({ messageId: "m-p2", duplicate: true });
    // A "result" send of an id already handled cannot get that result: a coded error at once.
    const late = await web.send(Capture, { id: "p2" }, { messageId: "m-p2", await: "result" });
    expect(late.ok ? undefined : late.error.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    // Commands are taken in order: once a later one is handled, a duplicate would have been too.
    expect((await web.send(Capture, { id: "p3" }, { await: "result" })).ok).toBe(true);
    expect(handled).toEqual(["p1", "p2", "p3"]);

    // A service sending a durable command it handles itself stores it too (any instance takes it).
    expect((await payments.send(Capture, { id: "own" }, { await: "result" })).unwrap()).toEqual({
      captured: "own",
    });

    await dropStreams(webTransport, prefix);
    await Promise.all([web.close(), payments.close()]);
  });

  it("dead-letters a poison command with its code, message and deliveries; its 'result' caller gets the error", async () => {
    const prefix = uniquePrefix("dpoison");
    let attempts = 0;
    const paymentsTransport = await connect("payments", prefix, { durableCommands });
    const payments = createCatga({ logger: silentLogger, transport: paymentsTransport })
      .handle(Capture, ({ id }) => {
        attempts++;
        throw new CatgaError("PAYMENTS_GATEWAY_DOWN", `gateway refused ${id}`);
      })
      .build();
    await paymentsTransport.ready();
    const js = new JetStream(paymentsTransport.connection);
    const dead: Record<string, string>[] = [];
    const stop = await js.consume(
      { stream: `${streamOf(prefix)}_DLQ`, durable: "inspect", fetchWaitMs: 100 },
      (m) => {
        dead.push({ ...m.headers, subject: m.subject });
      },
    );
    const web = createCatga({ logger: silentLogger, transport: await connect("web", prefix) })
      .remote(Capture)
      .build();
    const result = await web.send(Capture, { id: "poison" }, { await: "result" });
    expect(result.ok ? undefined : result.error).toMatchObject({
      code: "PAYMENTS_GATEWAY_DOWN",
      message: "gateway refused poison",
    });
    await until(() => dead.length === 1, 10_000, "the dead letter");
    expect(attempts).toBe(3);
    expect(dead[0]).toMatchObject({
      "Catga-Error-Code": "PAYMENTS_GATEWAY_DOWN",
      "Catga-Error-Message": "gateway refused poison",
      "Catga-Deliveries": "3",
      subject: `${prefix}.dcmd-dlq.payments.capture`,
    });
    await stop();
    await dropStreams(paymentsTransport, prefix);
    await Promise.all([web.close(), payments.close()]);
  });
});

describe("durable commands: a refusal the handler returns", () => {
  it("is the command's answer: acked at once, sent to the 'result' caller, never retried or dead-lettered", async () => {
    const prefix = uniquePrefix("drefuse");
    let attempts = 0;
    const paymentsTransport = await connect("payments", prefix, { durableCommands });
    const payments = createCatga({ logger: silentLogger, transport: paymentsTransport })
      .handle(Capture, ({ id }) => {
        attempts++;
        return err("PAYMENTS_DECLINED", `card declined for ${id}`);
      })
      .build();
    await paymentsTransport.ready();
    const web = createCatga({ logger: silentLogger, transport: await connect("web", prefix) })
      .remote(Capture)
      .build();
    const result = await web.send(Capture, { id: "r-1" }, { await: "result" });
    expect(result.ok ? undefined : result.error).toMatchObject({
      code: "PAYMENTS_DECLINED",
      message: "card declined for r-1",
    });
    // A command sent after it is handled after it: had the refusal been nak'ed, its redeliveries
    // (backoff 20 ms, maxDeliver 3) would have come first.
    expect((await web.send(Capture, { id: "r-2" }, { await: "result" })).ok).toBe(false);
    expect(attempts).toBe(2);
    const letters = await deadLetters(paymentsTransport);
    expect((await letters.counts()).total).toBe(0);
    await dropStreams(paymentsTransport, prefix);
    await Promise.all([web.close(), payments.close()]);
  });
});

describe("durable commands: the caller's deadline", () => {
  it("ends a 'result' wait at the caller's signal or at requestTimeoutMs; the command is still handled", async () => {
    const prefix = uniquePrefix("ddeadline");
    const handled: string[] = [];
    const paymentsTransport = await connect("payments", prefix, { durableCommands });
    createCatga({ logger: silentLogger, transport: paymentsTransport })
      .handle(Capture, async ({ id }) => {
        await new Promise((resolve) => setTimeout(resolve, 600));
        handled.push(id);
        return { captured: id };
      })
      .build();
    await paymentsTransport.ready();
    const webTransport = await connect("web", prefix, { requestTimeoutMs: 300 });
    const web = createCatga({ logger: silentLogger, transport: webTransport }).remote(Capture).build();
    // One signal shared by many sends (one abort listener for all of them).
    const signal = AbortSignal.timeout(200);
    const bySignal = await Promise.all(
      Array.from({ length: 12 }, (_, i) => web.send(Capture, { id: `s${i}` }, { await: "result", signal })),
    );
    expect(bySignal.map((r) => (r.ok ? "ok" : r.error.code))).toEqual(Array(12).fill(ErrorCodes.TIMEOUT));
    const byDefault = await web.send(Capture, { id: "d" }, { await: "result" });
    expect(byDefault.ok ? undefined : byDefault.error).toMatchObject({
      code: ErrorCodes.TIMEOUT,
      details: { timeoutMs: 300 },
    });
    const aborted = new AbortController();
    aborted.abort();
    const cancelled = await web.send(Capture, { id: "never" }, { await: "result", signal: aborted.signal });
    expect(cancelled.ok ? undefined : cancelled.error.code).toBe(ErrorCodes.ABORTED);
    await until(() => handled.length === 13, 10_000, "the commands whose callers gave up");
    expect(handled).not.toContain("never");
    await dropStreams(webTransport, prefix);
    await Promise.all([web.close(), paymentsTransport.close()]);
  });
});

describe("durable commands: close drains a 'result' wait", () => {
  it("a caller closing while a 'result' send waits still gets the Result, within the send's bound", async () => {
    const prefix = uniquePrefix("dclose");
    const paymentsTransport = await connect("payments", prefix, { durableCommands });
    const payments = createCatga({ logger: silentLogger, transport: paymentsTransport })
      .handle(Capture, async ({ id }) => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        return { captured: id };
      })
      .build();
    await paymentsTransport.ready();
    const webTransport = await connect("web", prefix, { requestTimeoutMs: 5_000 });
    const web = createCatga({ logger: silentLogger, transport: webTransport }).remote(Capture).build();
    await webTransport.ready();
    const pending = web.send(Capture, { id: "c1" }, { await: "result" });
    await new Promise((resolve) => setTimeout(resolve, 100)); // stored, being handled
    let closed = false;
    const closing = web.close().then(() => {
      closed = true;
    });
    const result = await pending;
    expect(result.ok && result.value).toEqual({ captured: "c1" });
    await closing;
    expect(closed).toBe(true);
    // And a wait whose bound passes first ends with that bound, not with a close that hangs.
    const other = await connect("web2", prefix, { requestTimeoutMs: 150 });
    const web2 = createCatga({ logger: silentLogger, transport: other }).remote(Capture).build();
    await other.ready();
    const slow = web2.send(Capture, { id: "c2" }, { await: "result" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await web2.close();
    const timedOut = await slow;
    expect(timedOut.ok || timedOut.error).toMatchObject({ code: ErrorCodes.TIMEOUT });
    await dropStreams(paymentsTransport, prefix);
    await payments.close();
  });
});

describe("durable commands: caller and handler must agree", () => {
  it("refuses a request/reply caller of a durable handler, and a durable caller of a request/reply handler", async () => {
    const prefix = uniquePrefix("dmismatch");
    const Plain = defineCommand("payments.capture").payload<{ id: string }>().returns<{ captured: string }>();
    const Refund = defineCommand("payments.refund").payload<{ id: string }>();
    const ran: string[] = [];
    const paymentsTransport = await connect("payments", prefix, { durableCommands });
    const payments = createCatga({ logger: silentLogger, transport: paymentsTransport })
      .handle(Capture, ({ id }) => {
        ran.push(id);
        return { captured: id };
      })
      .handle(Refund, ({ id }) => {
        ran.push(`refund ${id}`);
      })
      .build();
    await paymentsTransport.ready();
    const webTransport = await connect("web", prefix, { requestTimeoutMs: 3000 });
    const web = createCatga({ logger: silentLogger, transport: webTransport })
      .remote(Plain, Refund.durable())
      .build();
    const plain = await web.send(Plain, { id: "by-request" });
    expect(plain.ok ? undefined : plain.error).toMatchObject({
      code: ErrorCodes.NO_HANDLER,
      details: { handlerDelivery: "durable" },
    });
    const durable = await web.send(Refund.durable(), { id: "r1" });
    expect(durable.ok ? undefined : durable.error).toMatchObject({
      code: ErrorCodes.NO_HANDLER,
      details: { handlerDelivery: "request" },
    });
    expect(ran).toEqual([]);
    await dropStreams(webTransport, prefix);
    await Promise.all([web.close(), payments.close()]);
  });

  it("refuses a second service handling the same durable command: ready() rejects", async () => {
    const prefix = uniquePrefix("dtwice");
    const first = await connect("payments", prefix, { durableCommands });
    createCatga({ logger: silentLogger, transport: first })
      .handle(Capture, ({ id }) => ({ captured: id }))
      .build();
    await first.ready();
    const second = await connect("billing", prefix, { durableCommands });
    createCatga({ logger: silentLogger, transport: second })
      .handle(Capture, ({ id }) => ({ captured: id }))
      .build();
    // A work queue takes one consumer per subject (JetStream error 10100).
    await expect(second.ready()).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await dropStreams(first, prefix);
    await Promise.all([first.close(), second.close()]);
  });
});

describe("durable commands: options", () => {
  it("reports every bad durableCommands option with its path in one CatgaConfigError", async () => {
    const error = await connect("payments", uniquePrefix("dopts"), {
      durableCommands: {
        stream: "has space",
        provision: { retention: "limits", maxAgeMs: -1 },
        consumer: { maxDeliver: 0, ackWaitMs: "soon" },
        types: ["payments.capture"],
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CatgaConfigError);
    const paths = (error as CatgaConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual([
      "durableCommands.consumer.ackWaitMs",
      "durableCommands.consumer.maxDeliver",
      "durableCommands.provision.maxAgeMs",
      "durableCommands.provision.retention",
      "durableCommands.stream",
      "durableCommands.types",
    ]);
    expect((error as CatgaConfigError).code).toBe(ErrorCodes.CONFIG);
  });

  it("refuses a durableCommands stream that durableEvents already uses", async () => {
    const error = await connect("payments", uniquePrefix("dclash"), {
      durableEvents: { provision: false },
      durableCommands: { stream: "SHARED_EVENTS_DLQ", provision: false },
      prefix: "shared",
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CatgaConfigError);
    expect((error as CatgaConfigError).issues.map((i) => i.path)).toEqual(["durableCommands.stream"]);
  });

  it("leaves the streams to services given durableCommands: without them, sends and handlers fail coded", async () => {
    const prefix = uniquePrefix("dnostream");
    const callerTransport = await connect("web", prefix);
    const web = createCatga({ logger: silentLogger, transport: callerTransport }).remote(Capture).build();
    const sent = await web.send(Capture, { id: "x" });
    expect(sent.ok ? undefined : sent.error.code).toBe(ErrorCodes.NO_HANDLER);
    const handlerTransport = await connect("payments", prefix);
    createCatga({ logger: silentLogger, transport: handlerTransport })
      .handle(Capture, ({ id }) => ({ captured: id }))
      .build();
    await expect(handlerTransport.ready()).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await Promise.all([web.close(), handlerTransport.close()]);
  });
});

/**
 * How long a worker's handler takes. A worker runs its batch of 8 together and fetches the next
 * when all are done, so it holds unfinished commands for WORK_MS from each batch's start: long
 * enough that a kill sent when a batch is seen starting lands before the batch ends.
 */
const WORK_MS = 100;
const workerScript = fileURLToPath(new URL("./durable-worker.mjs", import.meta.url));
const workers: ChildProcess[] = [];

afterAll(() => {
  for (const child of workers) if (child.exitCode === null) child.kill("SIGKILL");
});

const startDurableWorker = (prefix: string, log: WorkerLog) =>
  startWorker(workerScript, [prefix, String(WORK_MS)], { NATS_URL }, log, workers);

describe("durable commands: a handler process killed mid-stream", () => {
  it("loses nothing: every command of a killed instance is handled by the other, every caller gets its result", async () => {
    const prefix = uniquePrefix("dkill");
    const logA: WorkerLog = { took: [], done: [] };
    const logB: WorkerLog = { took: [], done: [] };
    const [a, b] = await Promise.all([startDurableWorker(prefix, logA), startDurableWorker(prefix, logB)]);
    const callerTransport = await connect("caller", prefix, { durableCommands });
    const caller = createCatga({ logger: silentLogger, transport: callerTransport }).remote(Work).build();
    const total = 400;
    const signal = AbortSignal.timeout(30_000);
    const sends = Array.from({ length: total }, (_, n) =>
      caller.send(Work, { n }, { await: "result", signal }),
    );
    // Kill A while it holds commands it has not finished: just after a batch of it started.
    await until(
      () => logA.done.length >= 40 && logA.took.length > logA.done.length,
      20_000,
      "worker A to be busy",
    );
    a.kill("SIGKILL");
    // "close": after its output was read to the end, not just after it exited.
    await new Promise((resolve) => a.once("close", resolve));
    const unfinishedByA = logA.took.filter((n) => !logA.done.includes(n));
    expect(unfinishedByA.length).toBeGreaterThan(0);

    const results = await Promise.all(sends);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => r.unwrap().n)).toEqual(Array.from({ length: total }, (_, n) => n));
    // B's log is read from a pipe: its last lines can still be in flight when the results (over
    // NATS) are all in. Stop it and read its output to the end before checking who did what.
    b.kill("SIGTERM");
    await new Promise((resolve) => b.once("close", resolve));
    // What A took and never finished was redelivered to B, which finished it and answered.
    const doneByB = new Set(logB.done);
    expect(unfinishedByA.filter((n) => !doneByB.has(n))).toEqual([]);
    for (const n of unfinishedByA) expect(results[n]!.unwrap().pid).toBe(b.pid);
    // Every command was finished by one of them.
    const doneByA = new Set(logA.done);
    for (let n = 0; n < total; n++) expect(doneByA.has(n) || doneByB.has(n)).toBe(true);
    await dropStreams(callerTransport, prefix);
    await caller.close();
  });
});
