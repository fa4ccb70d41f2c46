// A sharded worker in its own process: handles `shard.touch` sharded by `key`, answering with its
// instance id and when the handler started and ended (a wall clock shared by the processes of
// this machine). Prints "ready"; on SIGTERM leaves the cluster gracefully and exits. Uses dist/.
import { cluster } from "../../dist/cluster.js";
import { createCatga, defineCommand, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";

const [prefix, bucket, instanceId, heartbeatMs] = process.argv.slice(2);
const Touch = defineCommand("shard.touch");
const now = () => performance.timeOrigin + performance.now();
const transport = await natsTransport({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  service: "shards",
  prefix,
  requestTimeoutMs: 20_000,
});
const catga = createCatga({ transport, logger: silentLogger })
  .handle(
    Touch,
    async ({ n }) => {
      const start = now();
      // Yield (sometimes for a timer) so a second handler of the same key could overlap if allowed.
      await new Promise((resolve) => (n % 7 === 0 ? setTimeout(resolve, 1) : setImmediate(resolve)));
      return { n, instance: instanceId, start, end: now() };
    },
    { shardBy: (p) => p.key },
  )
  .build();
const members = await cluster(catga, {
  bucket,
  instanceId,
  heartbeatMs: Number(heartbeatMs),
  discovery: false,
});
process.on("SIGTERM", async () => {
  await members.close();
  await catga.close();
  process.exit(0);
});
process.stdout.write("ready\n");
setInterval(() => undefined, 1 << 30);
