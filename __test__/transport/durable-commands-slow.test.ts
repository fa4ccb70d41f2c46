import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";

const Slow = defineCommand("reports.build")
  .payload<{ id: string }>()
  .returns<{ id: string; by: string }>()
  .durable();

describe("durable commands: a handler slower than ackWaitMs", () => {
  it("runs once: in-progress acks keep the command from redelivery to the other instance", async () => {
    const prefix = uniquePrefix("dslow");
    const ackWaitMs = 600;
    const runs: string[] = [];
    // Two instances of the handling service: a redelivery would go to either.
    const instances = await Promise.all(
      ["a", "b"].map(async (name) => {
        const transport = await natsTransport({
          servers: NATS_URL,
          service: "reports",
          prefix,
          durableCommands: {
            provision: { storage: "memory" },
            consumer: { ackWaitMs, fetchWaitMs: 100, batch: 4, backoffMs: [20] },
          },
        });
        const catga = createCatga({ logger: silentLogger, transport })
          .handle(Slow, async ({ id }) => {
            runs.push(id);
            // Three ack waits: without +WIP the server would hand it out again twice meanwhile.
            await new Promise((resolve) => setTimeout(resolve, 3 * ackWaitMs));
            return { id, by: name };
          })
          .build();
        await transport.ready();
        return { transport, catga };
      }),
    );
    const callerTransport = await natsTransport({ servers: NATS_URL, service: "web", prefix });
    const web = createCatga({ logger: silentLogger, transport: callerTransport }).remote(Slow).build();
    const signal = AbortSignal.timeout(20_000);
    const ids = ["r1", "r2", "r3", "r4", "r5", "r6"];
    const results = await Promise.all(ids.map((id) => web.send(Slow, { id }, { await: "result", signal })));
    expect(results.map((r) => r.unwrap().id)).toEqual(ids);
    // A redelivery would have come one ack wait after the first delivery, well before these
    // Results (three ack waits), and its run would be listed here.
    expect([...runs].sort()).toEqual(ids);
    // The server's count agrees: one delivery per command (a redelivery takes a consumer sequence too).
    const stream = `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_COMMANDS`;
    const nc = await connect({ servers: NATS_URL });
    const info = await (await nc.jetstreamManager()).consumers.info(stream, "reports-reports_build");
    expect(info.delivered.consumer_seq).toBe(ids.length);
    expect(info.config.ack_wait).toBe(ackWaitMs * 1_000_000); // the server's ack wait was this short (ns)
    await nc.close();

    const js = new JetStream(callerTransport.connection);
    await Promise.all([
      js.deleteStream(stream),
      js.deleteStream(`${stream}_DLQ`),
      js.deleteStream(`${stream}_RESULTS`),
    ]);
    await Promise.all([web.close(), ...instances.map((i) => i.catga.close())]);
  });
});
