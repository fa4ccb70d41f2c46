// Probe: publishes N envelopes to a subject nobody listens on, as the pub/sub bench's publisher
// does (chunks of 1024, up to 4 chunks in flight), and prints the process CPU per message.
//   node benches/nats/publisher-probe.mjs [messages=3000000] [subject]
import { connectCatga, makeEnvelopes, POOL, reportCpuPerMessage } from "./common.mjs";

const total = Number(process.argv[2] ?? 3_000_000);
const MASK = POOL - 1;
const CHUNK = 1024;
const events = makeEnvelopes("event", "bench.event");
const conn = await connectCatga("publisher-probe");
const subject = process.argv[3] ?? `probe.${process.pid}.nobody`;
const inFlight = [];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let published = 0; published < total; ) {
  let last;
  for (let i = 0; i < CHUNK; i++) last = conn.publish(subject, events[published++ & MASK]);
  inFlight.push(last);
  if (inFlight.length >= 4) await inFlight.shift();
}
await Promise.all(inFlight);
const seconds = (performance.now() - t0) / 1000;
const cpuUsed = process.cpuUsage(cpu0);
await conn.close();
reportCpuPerMessage(total, seconds, cpuUsed);
