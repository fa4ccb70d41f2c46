// A separate worker process for the cross-process tests: serves `math.add` over NATS until
// SIGTERM, then closes gracefully. Uses the built package (dist/), as a real service would.
import { createCatga, defineCommand, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";

const [prefix, service] = process.argv.slice(2);
const Add = defineCommand("math.add");
const transport = await natsTransport({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  service,
  prefix,
});
const catga = createCatga({ logger: silentLogger, transport })
  .handle(Add, ({ a, b }) => ({ sum: a + b, pid: process.pid }))
  .build();
await transport.ready();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  catga.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
