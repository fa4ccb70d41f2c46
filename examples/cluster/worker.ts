// One instance of the "accounts" service (started three times by main.ts). Deposits are sharded
// by account: one instance owns each account at a time and runs its deposits one after another,
// so per-account work needs no lock. Every instance also campaigns to lead the nightly report.
// Prints "ready", "elected <name> <token>" and "left <instance>"; on SIGTERM hands its accounts
// over, leaves, and prints how many deposits overlapped on one account (always 0).

import { cluster } from "../../dist/cluster.js";
import { createCatga } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { NATS_URL, needs, PREFIX } from "../services.js";
import { Deposit } from "./contracts.js";

const name = process.argv[2] ?? "a";
const busy = new Set<string>(); // accounts with a deposit running here right now
let overlaps = 0;

const transport = await natsTransport({ servers: NATS_URL, service: "accounts", prefix: PREFIX }).catch(
  needs("NATS"),
);
const catga = createCatga({ transport })
  .handle(
    // eslint-disable-next-line @catga/require-idempotency-for-durable -- this deposit changes no state; a real one dedupes by messageId (exactlyOnce)
    Deposit,
    async ({ account }) => {
      if (busy.has(account)) overlaps++; // two deposits of one account at once: never, by design
      busy.add(account);
      await new Promise((resolve) => setTimeout(resolve, 1)); // the work takes a moment
      busy.delete(account);
      return { servedBy: name };
    },
    { shardBy: (deposit) => deposit.account },
  )
  .build();

// After build(): the cluster reads the sharded types from the mediator. Its own bucket per prefix,
// so example runs side by side elect their own leaders.
const members = await cluster(catga, {
  instanceId: `accounts-${name}`,
  heartbeatMs: 300,
  bucket: `${PREFIX}_cluster`,
});
members.on("leave", (member) => console.log(`left ${member.instanceId}`));
const report = members.leader("nightly-report", { ttlMs: 1000 });
report.on("elected", ({ token }) => console.log(`elected ${name} ${token}`));
console.log("ready");

process.on("SIGTERM", async () => {
  await members.close(); // hands its accounts over and resigns first
  await catga.close();
  console.log(`overlaps ${overlaps}`);
  process.exit(0);
});
