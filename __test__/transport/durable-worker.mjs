// A handler process for the durable-command tests: takes `work.do` from the shared durable
// consumer until killed, and prints each command it starts ("took <n>") and finishes ("done <n>").
// Uses the built package (dist/), as a real service would.
import { createCatga, defineCommand, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";

const [prefix, delayMs] = process.argv.slice(2);
const Work = defineCommand("work.do").durable();
const transport = await natsTransport({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  service: "worker",
  prefix,
  durableCommands: {
    provision: { storage: "memory" },
    // Small batches, so both instances take commands; a short ack wait, so the commands of a
    // killed instance come back soon.
    consumer: { batch: 8, maxAckPending: 16, ackWaitMs: 1500, fetchWaitMs: 100, backoffMs: [50] },
  },
});
createCatga({ logger: silentLogger, transport })
  .handle(Work, async ({ n }) => {
    process.stdout.write(`took ${n}\n`); // synchronous on a pipe: seen even if killed right after
    await new Promise((resolve) => setTimeout(resolve, Number(delayMs)));
    process.stdout.write(`done ${n}\n`);
    return { n, pid: process.pid };
  })
  .build();
await transport.ready();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  transport.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
