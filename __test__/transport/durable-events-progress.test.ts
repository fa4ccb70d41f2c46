import { describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineEvent, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";

const Slow = defineEvent("jobs.slow").payload<{ id: string }>();

// Issue 14, item 13: in-progress acks (`+WIP`, every ackWaitMs / 3 while the handlers of a batch
// run) make a short ack wait safe for durable event handlers slower than it.
describe("durable events: a handler slower than the ack wait", () => {
  it("runs once, not again on another instance, when it takes 2.5 ack waits", async () => {
    const prefix = uniquePrefix("wip");
    const durableEvents = {
      consumer: { ackWaitMs: 1000, fetchWaitMs: 100 },
      provision: { storage: "memory" as const },
    };
    const runs: string[] = [];
    // Two instances of one service share its durable consumer: a redelivery of the slow event
    // would go to the idle one while the first still runs it.
    const instances = await Promise.all(
      [1, 2].map(async (instance) => {
        const transport = await natsTransport({
          servers: NATS_URL,
          service: "worker",
          prefix,
          durableEvents,
        });
        const app = createCatga({ logger: silentLogger, transport })
          .handle(Slow, async (event) => {
            runs.push(`${event.id}@${instance}`);
            if (event.id === "slow") await new Promise((resolve) => setTimeout(resolve, 2500));
          })
          .build();
        await transport.ready();
        return { app, transport };
      }),
    );
    const publisherTransport = await natsTransport({
      servers: NATS_URL,
      service: "boss",
      prefix,
      durableEvents,
    });
    const boss = createCatga({ logger: silentLogger, transport: publisherTransport }).build();
    expect((await boss.publish(Slow, { id: "slow" })).ok).toBe(true);
    await until(() => runs.length === 1, 10_000, "the slow event starts");
    await new Promise((resolve) => setTimeout(resolve, 2600));
    // Published after the slow one ended: a redelivery of "slow" would have come before it.
    expect((await boss.publish(Slow, { id: "after" })).ok).toBe(true);
    await until(() => runs.some((run) => run.startsWith("after")), 10_000, "the event after it");
    expect(runs.filter((run) => run.startsWith("slow"))).toHaveLength(1);
    const js = new JetStream(publisherTransport.connection);
    const stream = `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_EVENTS`;
    await Promise.all([js.deleteStream(stream), js.deleteStream(`${stream}_DLQ`)]);
    await Promise.all([boss.close(), ...instances.map(({ app }) => app.close())]);
  }, 30_000);
});
