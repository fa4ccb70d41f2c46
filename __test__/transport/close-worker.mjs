// A service with a durable command consumer, a durable event consumer and a core subscription
// that handles one command, closes, and must then exit by itself: nothing the transport started
// may keep Node alive after `catga.close()`. Uses the built package (dist/), as a real service would.
import { createCatga, defineCommand, defineEvent, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";

const [prefix] = process.argv.slice(2);
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
const sent = await catga.send(Work, {});
if (!sent.ok) throw new Error(`send failed: ${sent.error.code}`);
await handled;
await catga.close();
console.log("closed");
