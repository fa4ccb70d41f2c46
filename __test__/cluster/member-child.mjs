// A cluster member in its own process, for tests that kill it: joins with the given instance id
// and heartbeat interval, prints "ready", then idles until killed. Uses the built package (dist/).
import { cluster } from "../../dist/cluster.js";
import { natsTransport } from "../../dist/nats.js";

const [prefix, bucket, instanceId, heartbeatMs] = process.argv.slice(2);
const transport = await natsTransport({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  service: "svc",
  prefix,
});
await cluster(transport, { bucket, instanceId, heartbeatMs: Number(heartbeatMs), discovery: false });
process.stdout.write("ready\n");
setInterval(() => undefined, 1 << 30);
