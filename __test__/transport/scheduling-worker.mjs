// A scheduling process for the scheduling kill test: with "schedule <count> <maxDelayMs>" it first
// schedules that many `sched.tick` events with random delays, prints "scheduled", then (like every
// mode) delivers due timers until killed. Uses the built package (dist/), as a real service would.
import { createCatga, defineEvent, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";

const [servers, prefix, mode, count, maxDelayMs] = process.argv.slice(2);
const Tick = defineEvent("sched.tick").payload();
const transport = await natsTransport({
  servers,
  service: "timers",
  prefix,
  reconnectDelayMs: 50,
  reconnectDelayMaxMs: 250,
  durableEvents: { provision: false },
  // A short ack wait: the timers a killed instance held come back soon.
  scheduling: { consumer: { ackWaitMs: 1500, fetchWaitMs: 200 } },
});
const catga = createCatga({ logger: silentLogger, transport }).build();
process.stdout.write("ready\n");
if (mode === "schedule") {
  const total = Number(count);
  for (let from = 0; from < total; from += 500) {
    const sends = [];
    for (let n = from; n < Math.min(total, from + 500); n++)
      sends.push(catga.publish(Tick, { n }, { delayMs: Math.floor(Math.random() * Number(maxDelayMs)) }));
    for (const result of await Promise.all(sends)) if (!result.ok) throw result.error;
  }
  process.stdout.write("scheduled\n");
}
