// Probe: counts envelopes delivered to a Catga subscription's handler until `messages` arrived,
// then prints the process CPU per message. Pair it with publisher-probe.mjs on the same subject:
//   node benches/nats/subscriber-probe.mjs <subject> [messages=3000000] &
//   node benches/nats/publisher-probe.mjs 3000000 <subject>
import { connectCatga, reportCpuPerMessage } from "./common.mjs";

const [subject, messages = "3000000"] = process.argv.slice(2);
const total = Number(messages);
const conn = await connectCatga("subscriber-probe");
let count = 0;
let cpu0;
let t0;
let done;
let last = 0;
const finished = new Promise((resolve) => (done = resolve));
// A publisher without flow control may make the server drop some for this slow consumer:
// report what arrived once nothing came for a second.
const idle = setInterval(() => {
  if (count > 0 && performance.now() - last > 1000) done();
}, 200);
await conn.subscribe(subject, {}, async ({ envelopes }) => {
  if (count === 0) {
    cpu0 = process.cpuUsage();
    t0 = performance.now();
  }
  count += envelopes.length;
  last = performance.now();
  if (count >= total) done();
});
console.error("ready");
await finished;
clearInterval(idle);
const seconds = (last - t0) / 1000;
const cpuUsed = process.cpuUsage(cpu0);
await conn.close();
reportCpuPerMessage(count, seconds, cpuUsed);
