// Cluster on NATS: three instances of the "accounts" service share the accounts (a sharded
// handler: one owner per account) and elect one leader for a nightly job. This launcher starts
// them as child processes, sends deposits from a client, kills the leader with SIGKILL and shows
// what the cluster does: a new leader within its TTL, and only the dead instance's accounts move.
// Needs NATS with JetStream. Run: npm run example:cluster
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createCatga } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { NATS_URL, needs, PREFIX } from "../services.js";
import { Deposit } from "./contracts.js";

const ACCOUNTS = 30;
const DEPOSITS = 600;

/** A worker process and what it has printed so far. */
interface Worker {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[];
}

function start(name: string): Worker {
  const child = spawn(
    process.execPath,
    [...process.execArgv, new URL("worker.ts", import.meta.url).pathname, name],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const worker: Worker = { name, child, lines: [], waiters: [] };
  createInterface({ input: child.stdout! }).on("line", (line) => {
    worker.lines.push(line);
    for (const waiter of worker.waiters.filter((w) => w.match(line))) {
      worker.waiters.splice(worker.waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  return worker;
}

/** Resolves with the first line (already printed, or to come) that `match` accepts. */
function line(worker: Worker, match: (line: string) => boolean): Promise<string> {
  const seen = worker.lines.find(match);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve) => worker.waiters.push({ match, resolve }));
}

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms),
    ),
  ]);
}

/** Sends the deposits, 32 in flight, and returns which instance served each account. */
async function deposit(count: number): Promise<Map<string, Set<string>>> {
  const owners = new Map<string, Set<string>>();
  let next = 0;
  const sender = async () => {
    while (next < count) {
      const account = `acct-${next++ % ACCOUNTS}`;
      const { servedBy } = (await web.send(Deposit, { account, amount: 1 })).unwrap();
      owners.set(account, (owners.get(account) ?? new Set()).add(servedBy));
    }
  };
  await Promise.all(Array.from({ length: 32 }, sender));
  return owners;
}

function tally(owners: Map<string, Set<string>>): string {
  const counts = new Map<string, number>();
  for (const served of owners.values())
    for (const name of served) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts]
    .sort()
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
}

const transport = await natsTransport({ servers: NATS_URL, service: "web", prefix: PREFIX }).catch(
  needs("NATS"),
);
// `.remote()`: the client knows nothing of shards; the instance that takes a deposit forwards it
// to the account's owner when that is another instance.
const web = createCatga({ transport }).remote(Deposit).build();

const workers = ["a", "b", "c"].map(start);
try {
  await within(20_000, "workers ready", Promise.all(workers.map((w) => line(w, (l) => l === "ready"))));
  const elected = (w: Worker) => line(w, (l) => l.startsWith("elected "));
  const first = await within(10_000, "first leader", Promise.race(workers.map(elected)));
  const leader = workers.find((w) => w.name === first.split(" ")[1])!;
  console.log(`3 instances up; leader of nightly-report: ${leader.name}`);

  const before = await deposit(DEPOSITS);
  const single = [...before.values()].every((served) => served.size === 1);
  console.log(
    `${DEPOSITS} deposits over ${before.size} accounts: owners ${tally(before)}; one owner per account: ${single}`,
  );

  const killedAt = performance.now();
  leader.child.kill("SIGKILL");
  const survivors = workers.filter((w) => w !== leader);
  const next = await within(10_000, "new leader", Promise.race(survivors.map(elected)));
  const took = Math.round(performance.now() - killedAt);
  console.log(
    `leader ${leader.name} killed with SIGKILL; ${next.split(" ")[1]} elected ${took < 2_000 ? "within the 1 s TTL + 1 s" : `after ${took} ms`}`,
  );
  // Both survivors drop the dead instance from their view (2 heartbeats at most); then its
  // accounts have new owners.
  await within(
    10_000,
    "membership",
    Promise.all(survivors.map((w) => line(w, (l) => l === `left accounts-${leader.name}`))),
  );

  const after = await deposit(DEPOSITS);
  const kept = [...after].filter(
    ([account, served]) => [...served][0] === [...before.get(account)!][0],
  ).length;
  const orphans = [...before.values()].filter((served) => served.has(leader.name)).length;
  console.log(
    `${DEPOSITS} more: owners ${tally(after)}; moved ${after.size - kept} of ${after.size} accounts ` +
      `(the ${orphans} the dead instance owned: ${after.size - kept === orphans})`,
  );

  for (const w of survivors) w.child.kill("SIGTERM");
  const overlaps = await within(
    10_000,
    "survivors stopping",
    Promise.all(survivors.map((w) => line(w, (l) => l.startsWith("overlaps ")))),
  );
  console.log(
    `deposits of one account running at once: ${overlaps.map((l) => Number(l.split(" ")[1])).reduce((a, b) => a + b, 0)}`,
  );
} finally {
  for (const w of workers)
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  await web.close();
}
