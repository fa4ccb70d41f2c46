import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineEvent, silentLogger } from "../../ts/index.js";
import { DELIVER_AT_HEADER } from "../../ts/transport/scheduler.js";
import { PrivateNats, until } from "../nats/helpers.js";

// Issue 16: 10,000 timers survive the scheduling process killed twice, a stretch with no scheduler
// at all, and a broker restart. Delays are up to 12 s, not the 30 s: the kills, the gap and
// the restart are all kept, and the test stays well under a minute on a loaded CI machine.
const Tick = defineEvent("sched.tick").payload<{ n: number }>();
const TOTAL = 10_000;
const MAX_DELAY_MS = 12_000;

let server: PrivateNats;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await PrivateNats.start();
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await server?.dispose();
});

function worker(...args: string[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [new URL("./scheduling-worker.mjs", import.meta.url).pathname, server.url, "killsched", ...args],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(child);
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const want = args[0] === "schedule" ? "scheduled" : "ready";
  return until(() => out.includes(want), 60_000, `worker ${want}`).then(() => child);
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe("scheduling: kills and a broker restart", () => {
  it("delivers each of 10,000 timers once and none early", async () => {
    const received = new Map<string, number>();
    const early: string[] = [];
    const transport = await natsTransport({
      servers: server.url,
      service: "receiver",
      prefix: "killsched",
      reconnectDelayMs: 50,
      reconnectDelayMaxMs: 250,
      durableEvents: { consumer: { batch: 512, maxAckPending: 4096, fetchWaitMs: 200 } },
    });
    const receiver = createCatga({ logger: silentLogger, transport })
      .handle(Tick, (_payload, ctx) => {
        received.set(ctx.messageId, (received.get(ctx.messageId) ?? 0) + 1);
        if (Date.now() < Number(ctx.headers[DELIVER_AT_HEADER])) early.push(ctx.messageId);
      })
      .build();
    await transport.ready();

    const first = await worker("schedule", String(TOTAL), String(MAX_DELAY_MS));
    await until(() => received.size >= 1000, 60_000, "1,000 timers delivered");
    await kill(first);
    const second = await worker("deliver");
    await until(() => received.size >= 4000, 60_000, "4,000 timers delivered");
    await kill(second);
    // No scheduler at all while timers fall due, and the broker restarts meanwhile.
    const beforeGap = received.size;
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await server.start();
    await worker("deliver");
    await until(() => received.size === TOTAL, 90_000, "every timer delivered");
    await new Promise((resolve) => setTimeout(resolve, 1000));

    expect(beforeGap).toBeLessThan(TOTAL);
    expect(early).toEqual([]);
    // Fired once: the event stream stored each timer once (a re-fire after a kill is dropped by
    // id). The receiver may see a few twice: its own acks lost in the broker restart are the
    // durable consumer's at-least-once (docs/architecture/jetstream.md), not the scheduler's.
    const info = JSON.parse(
      (
        await transport.connection.request("$JS.API.STREAM.INFO.KILLSCHED_EVENTS", Buffer.from(""), 5000)
      ).toString(),
    ) as { state: { messages: number; last_seq: number } };
    expect(info.state.last_seq).toBe(TOTAL);
    expect(received.size).toBe(TOTAL);
    await receiver.close();
  }, 240_000);
});
