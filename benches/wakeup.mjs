// What one cross-thread wake-up costs on this machine: the unit the NATS request path pays per hop
// (JS thread -> engine thread -> JS thread on each side; docs/architecture/overview.md).
//   node benches/wakeup.mjs [round-trips=20000]
// Two threads ping-pong through a SharedArrayBuffer with Atomics.wait/notify (futex): each round
// trip is two wake-ups. Prints wall time and the process CPU per wake-up; compare with an
// in-thread round trip through a resolved promise (no wake-up) as the floor.
import { Worker } from "node:worker_threads";

const trips = Number(process.argv[2] ?? 20_000);
const shared = new Int32Array(new SharedArrayBuffer(8));
const worker = new Worker(
  `const { workerData } = require("node:worker_threads");
   const s = new Int32Array(workerData);
   for (;;) {
     Atomics.wait(s, 0, 0);
     if (Atomics.load(s, 1) === -1) break;
     Atomics.store(s, 0, 0);
     Atomics.store(s, 1, Atomics.load(s, 1) + 1);
     Atomics.notify(s, 1);
   }`,
  { eval: true, workerData: shared.buffer },
);
await new Promise((resolve) => setTimeout(resolve, 200));
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < trips; i++) {
  Atomics.store(shared, 0, 1);
  Atomics.notify(shared, 0);
  Atomics.wait(shared, 1, i); // until the worker has answered trip i
}
const wallNs = Number(process.hrtime.bigint() - t0);
const cpu = process.cpuUsage(cpu0);
Atomics.store(shared, 1, -1);
Atomics.store(shared, 0, 1);
Atomics.notify(shared, 0);
await worker.terminate();

let floorNs = 0;
{
  const start = process.hrtime.bigint();
  for (let i = 0; i < trips; i++) await Promise.resolve(i);
  floorNs = Number(process.hrtime.bigint() - start) / trips;
}
const wakeUps = 2 * trips;
console.log(
  JSON.stringify({
    roundTrips: trips,
    wallUsPerWakeUp: +(wallNs / wakeUps / 1000).toFixed(2),
    cpuUsPerWakeUp: +((cpu.user + cpu.system) / wakeUps).toFixed(2),
    sameThreadPromiseHopUs: +(floorNs / 1000).toFixed(3),
  }),
);
