// `npm run chaos`: the two chaos suites of issue 19, one after the other, each with the same
// --tiny and --out:
//   - benches/chaos.mjs (`npm run chaos:instance`): flow (b) with two service instances, one killed
//     with kill -9, restarted and starved (SIGSTOP/SIGCONT); the time with errors per fault;
//   - benches/chaos-orders.mjs (`npm run chaos:orders`): the e-commerce shop on a private 3-node
//     NATS cluster behind a TCP proxy: instance and NATS node kills, added latency, connection
//     resets, SIGSTOP; zero lost orders checked in PostgreSQL.
// Each suite stops every process it starts. --rate means different things to the two, so it is
// not passed on: run a suite's own command to set it. Exits 1 when either suite fails.
//
//   npx tsup && npm run chaos [-- --tiny] [--out=benches/reports]
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const passed = process.argv.slice(2).filter((a) => a === "--tiny" || a.startsWith("--out="));
if (process.argv.some((a) => a.startsWith("--rate=")))
  console.warn("--rate is not passed on: use npm run chaos:instance or chaos:orders to set a rate");
const suites = [
  [join(here, "chaos.mjs")],
  ["--import", join(here, "..", "examples", "ts-hooks.mjs"), join(here, "chaos-orders.mjs")],
];
let failed = false;
for (const suite of suites) {
  const { status, signal } = spawnSync(process.execPath, [...suite, ...passed], { stdio: "inherit" });
  if (status !== 0) {
    failed = true;
    console.error(`${suite.at(-1)} ended with ${signal ?? `status ${status}`}`);
  }
}
process.exitCode = failed ? 1 : 0;
