// Sharded send vs plain queue-group send (issue 18): two server processes handle the same
// no-op command twice, once plain (`bench.plain`, NATS queue group) and once sharded
// (`bench.sharded`, `shardBy: p => p.key` over 1,000 keys). A caller in this process sends each with
// 64 in flight, alternating rounds; reports p50 / p99 latency and req/s per round and the median
// ratio of the p50s (bar: sharded ≤ 1.2× plain). The caller is a `.remote()` caller: its sharded
// sends reach any instance through the queue group and are forwarded once when that instance does
// not own the key (docs/architecture/cluster.md, "Sharded handlers"). A second caller ("routed") declares
// `.route(Sharded, { balance: "consistent-hash", hashBy })` with the same key: it sends straight to
// the owner (same ring, same members).
//   npx tsup && node benches/cluster-sharded.bench.mjs [--requests=5000] [--rounds=5]
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { cluster } from "../dist/cluster.js";
import { createCatga, defineCommand, silentLogger } from "../dist/index.js";
import { natsTransport } from "../dist/nats.js";

const NATS = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const arg = (name, fallback) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const Plain = defineCommand("bench.plain");
const Sharded = defineCommand("bench.sharded");
const IN_FLIGHT = 64;

if (process.argv[2] === "--server") await server(...process.argv.slice(3));
else await main();

async function server(prefix, bucket, id) {
  const transport = await natsTransport({ servers: NATS, service: "bench", prefix });
  const catga = createCatga({ transport, logger: silentLogger })
    .handle(Plain, ({ n }) => n)
    .handle(Sharded, ({ n }) => n, { shardBy: (p) => p.key })
    .build();
  await cluster(catga, { bucket, instanceId: id, heartbeatMs: 500, discovery: false });
  // An orderly exit, so a --cpu-prof profile gets written.
  process.on("SIGTERM", () => process.exit(0));
  process.stdout.write("ready\n");
}

async function main() {
  const requests = arg("requests", 5000);
  const rounds = arg("rounds", 5);
  const prefix = `benchsh${process.pid}`;
  const bucket = `bench_sharded_${process.pid}`;
  const script = fileURLToPath(import.meta.url);
  const children = await Promise.all(
    ["s1", "s2"].map(
      (id) =>
        new Promise((resolve) => {
          // execArgv passes on flags such as --cpu-prof, so the servers can be profiled too.
          const child = spawn(
            process.execPath,
            [...process.execArgv, script, "--server", prefix, bucket, id],
            {
              stdio: ["ignore", "pipe", "inherit"],
            },
          );
          createInterface({ input: child.stdout }).on("line", (line) => line === "ready" && resolve(child));
        }),
    ),
  );
  const transport = await natsTransport({ servers: NATS, service: "caller", prefix });
  const caller = createCatga({ transport, logger: silentLogger }).remote(Plain, Sharded).build();
  // A second caller routes by the same key on the same ring: straight to the owner, no forward.
  const directTransport = await natsTransport({ servers: NATS, service: "caller", prefix });
  const direct = createCatga({ transport: directTransport, logger: silentLogger })
    .remote(Sharded)
    .route(Sharded, { balance: "consistent-hash", hashBy: (p) => p.key })
    .build();
  const directMember = await cluster(direct, { bucket, heartbeatMs: 500, discovery: false });
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the servers' shard views settle

  const run = async (contract, via = caller) => {
    const latencies = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < requests) {
          const n = next++;
          const t = performance.now();
          const result = await via.send(contract, { key: `k${n % 1000}`, n });
          if (!result.ok) throw new Error(`${contract.type}: ${result.error.code} ${result.error.message}`);
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    return { p50: at(0.5), p99: at(0.99), rps: requests / seconds };
  };
  // --only=routed (comma-separated) runs some of the three modes, e.g. to profile one path.
  const only = process.argv
    .find((a) => a.startsWith("--only="))
    ?.slice(7)
    .split(",");
  const modes = [
    ["plain", () => run(Plain)],
    ["sharded", () => run(Sharded)],
    ["routed", () => run(Sharded, direct)],
  ].filter(([name]) => only === undefined || only.includes(name));
  for (const [, measure] of modes) await measure(); // warm-up
  const results = new Map(modes.map(([name]) => [name, []]));
  const show = (name, r) =>
    console.log(
      `${name.padEnd(8)} p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${Math.round(r.rps)} req/s`,
    );
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}`);
    for (const [name, measure] of modes) {
      const r = await measure();
      show(name, r);
      results.get(name).push(r);
    }
  }
  const median = (list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const ratios = (name) => results.get(name).map((r, i) => r.p50 / results.get("plain")[i].p50);
  if (results.has("plain") && results.has("sharded"))
    console.log(
      `median p50 ratio sharded (queue group + forward)/plain: ${median(ratios("sharded")).toFixed(2)} (bar ≤ 1.2)`,
    );
  if (results.has("plain") && results.has("routed"))
    console.log(
      `median p50 ratio sharded (routed to the owner)/plain: ${median(ratios("routed")).toFixed(2)} (bar ≤ 1.2)`,
    );
  await directMember.close();
  await direct.close();
  await caller.close();
  await Promise.all(
    children.map((child) => new Promise((resolve) => child.once("exit", resolve).kill("SIGTERM"))),
  );
  const admin = await natsTransport({ servers: NATS, service: "admin", prefix });
  await admin.connection.native.deleteStream(`KV_${bucket}`).catch(() => undefined);
  await admin.close();
  process.exit(0);
}
