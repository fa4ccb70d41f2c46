// A service with a durable command consumer, a durable event consumer and a core subscription
// that handles one command, closes, and must then exit by itself: nothing the transport started
// may keep Node alive after `catga.close()`. Uses the built package (dist/), as a real service would.

import { cluster } from "../../dist/cluster.js";
import { createCatga, defineCommand, defineEvent, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";

// With "cluster": the service also joins a cluster and leads, and closes only the mediator.
const [prefix, mode] = process.argv.slice(2);
const Work = defineCommand("close.work").durable();
const Seen = defineEvent("close.seen");
const Ping = defineCommand("close.ping");
const transport = await natsTransport({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  service: "closer",
  prefix,
  durableCommands: { provision: { storage: "memory" }, consumer: { fetchWaitMs: 100 } },
  durableEvents: { types: ["close.seen"], provision: { storage: "memory" }, consumer: { fetchWaitMs: 100 } },
});
let done;
const handled = new Promise((resolve) => {
  done = resolve;
});
const catga = createCatga({ logger: silentLogger, transport })
  .withIdempotency()
  .handle(Work, () => done())
  .handle(Seen, () => undefined)
  .handle(Ping, () => "pong")
  .build();
await transport.ready();
let leadership;
if (mode === "cluster") {
  const members = await cluster(catga, {
    bucket: `${prefix.replace(/[^A-Za-z0-9_-]/g, "_")}_cluster`,
    heartbeatMs: 200,
    discovery: false,
  });
  leadership = members.leader("closer", { ttlMs: 1000 });
  await new Promise((resolve) => leadership.once("elected", resolve));
}
const sent = await catga.send(Work, {});
if (!sent.ok) throw new Error(`send failed: ${sent.error.code}`);
await handled;
await catga.close();
// The cluster is closed with its transport: leadership given up, nothing left running.
if (leadership?.isLeader) throw new Error("still the leader after close");
console.log("closed");
