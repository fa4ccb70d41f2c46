// A sharded worker in its own process: handles `shard.touch` sharded by `key`, answering with its
// instance id and when the handler started and ended. Every handler run is also appended to the
// log file given (`key n instance start end`, times from the system-wide monotonic clock, ns), so
// the test sees runs whose replies never arrived too. Prints "ready"; on SIGTERM leaves the
// cluster gracefully, writes what is left of its log and exits. Uses dist/.
//
// A command with `hold: true` (handoff.test.ts) prints "holding <key> <n>" once its handler has
// started and ends only when the test writes a line to this process's stdin: the instance is
// inside a handler of that key for as long as the test needs, its event loop free (heartbeats and
// hand-off claims go on), so a hand-off meets a busy key by construction, not by timing. With
// SHARD_CHILD_GO=1 it prints "built" and joins the cluster only when the test writes a line to
// stdin (the test picks the instant a newcomer appears; such a worker holds nothing).
import { appendFileSync } from "node:fs";
import { cluster } from "../../dist/cluster.js";
import { createCatga, defineCommand, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";

const [prefix, bucket, instanceId, heartbeatMs, logFile] = process.argv.slice(2);
const Touch = defineCommand("shard.touch");
// CLOCK_MONOTONIC is one clock for every process of the machine: intervals compare exactly.
const now = () => Number(process.hrtime.bigint());
let lines = [];
const flush = () => {
  if (lines.length === 0) return;
  appendFileSync(logFile, lines.join(""));
  lines = [];
};
setInterval(flush, 50);
const transport = await natsTransport({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  service: "shards",
  prefix,
  requestTimeoutMs: 20_000,
});
let released;
const release = () => {
  released ??= new Promise((resolve) => process.stdin.once("data", resolve));
  return released;
};
const catga = createCatga({ transport, logger: silentLogger })
  .handle(
    Touch,
    async ({ key, n, hold }) => {
      const start = now();
      if (hold === true) {
        process.stdout.write(`holding ${key} ${n}\n`);
        await release();
      } else {
        // Even-numbered commands (the sharding test's hot keys) take milliseconds, so a hot key's
        // owner is always busy with it when it moves. The others only yield.
        await new Promise((resolve) =>
          n % 2 === 0 ? setTimeout(resolve, 1 + (n % 3)) : setImmediate(resolve),
        );
      }
      const end = now();
      lines.push(`${key} ${n} ${instanceId} ${start} ${end}\n`);
      return { n, instance: instanceId, start, end };
    },
    { shardBy: (p) => p.key },
  )
  .build();
if (process.env.SHARD_CHILD_GO === "1") {
  process.stdout.write("built\n");
  await new Promise((resolve) => process.stdin.once("data", resolve));
}
const members = await cluster(catga, {
  bucket,
  instanceId,
  heartbeatMs: Number(heartbeatMs),
  discovery: false,
});
process.on("SIGTERM", async () => {
  await members.close();
  await catga.close();
  flush();
  process.exit(0);
});
process.stdout.write("ready\n");
