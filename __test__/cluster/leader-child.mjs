// A leader candidate in its own process, for the failover tests (kill -9, SIGSTOP). Campaigns for
// `name`; while it leads it writes to PostgreSQL in a loop through `fencedWrite`, taking the
// token first and writing after a short pause, as real work does. Prints (stdout, one per line):
// "ready", "elected <token>", "revoked <token>", "accepted <token>" (first accepted write of a
// term), "refused <token>". On "stale" (stdin) it writes once with the last token it led with and
// prints "stale <isLeader> <accepted|refused> <token>". Uses the built package (dist/).
import { createInterface } from "node:readline";
import pg from "pg";
import { cluster, fencedWrite } from "../../dist/cluster.js";
import { natsTransport } from "../../dist/nats.js";

const [prefix, bucket, instanceId, name, ttlMs, log, fences] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: process.env.PG_URL, max: 2 });
pool.on("error", () => undefined);
const transport = await natsTransport({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  service: "elect",
  prefix,
});
const member = await cluster(transport, { bucket, instanceId, discovery: false });
const leadership = member.leader(name, { ttlMs: Number(ttlMs) });
const say = (line) => process.stdout.write(`${line}\n`);
let lastToken;
leadership.on("elected", ({ token }) => {
  lastToken = token;
  say(`elected ${token}`);
});
leadership.on("revoked", ({ token }) => say(`revoked ${token}`));

const write = (token) =>
  fencedWrite(
    pool,
    name,
    token,
    (client) => client.query(`INSERT INTO ${log} (token, instance) VALUES ($1, $2)`, [token, instanceId]),
    { table: fences },
  );

createInterface({ input: process.stdin }).on("line", async (line) => {
  if (line !== "stale") return;
  const isLeader = leadership.isLeader;
  const outcome = await write(lastToken);
  say(`stale ${isLeader} ${outcome.accepted ? "accepted" : "refused"} ${lastToken}`);
});

say("ready");
let announced;
for (;;) {
  const token = leadership.token;
  if (token === undefined) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    continue;
  }
  await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
  try {
    const outcome = await write(token);
    if (!outcome.accepted) say(`refused ${token}`);
    else if (announced !== token) {
      announced = token;
      say(`accepted ${token}`);
    }
  } catch (error) {
    say(`error ${error?.code ?? error}`);
  }
}
