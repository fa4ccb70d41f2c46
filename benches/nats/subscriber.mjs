// Child process: counts messages delivered to a handler until told to stop. The peer of the
// "engine ceiling" events rows (clients/engine.mjs, with catga); the user-API peers are in peers/.
//   node benches/nats/subscriber.mjs <catga|natsjs> <subject>
// catga:  NatsConnection.subscribe(subject, {}, handler) — the handler gets each inbound batch
//         (Buffer views of checked envelopes) and adds its length.
// natsjs: nc.subscribe(subject, { callback }) — the callback runs once per message.
// Reports the running count every 5 ms (the parent uses it for flow control) and answers
// `mark` with (count, hrtime) taken here, so rates are measured where the messages arrive.

import { connectCatga, connectNatsJs, guardChild } from "./common.mjs";

guardChild();
const [impl, subject] = process.argv.slice(2);
let count = 0;
let batches = 0;
let stop;

if (impl === "catga") {
  const conn = await connectCatga("bench-subscriber-catga");
  const unsubscribe = await conn.subscribe(subject, {}, async ({ envelopes }) => {
    count += envelopes.length;
    batches++;
  });
  stop = async () => {
    await unsubscribe();
    await conn.close();
  };
} else if (impl === "natsjs") {
  const nc = await connectNatsJs("bench-subscriber-natsjs");
  nc.subscribe(subject, {
    callback: (error) => {
      if (!error) {
        count++;
        batches++;
      }
    },
  });
  await nc.flush();
  stop = () => nc.close();
} else {
  throw new Error(`unknown implementation ${impl}`);
}

const reporter = setInterval(() => process.send?.({ type: "count", count }), 5);
process.on("message", async (message) => {
  if (message?.type === "mark") {
    process.send?.({
      type: "mark",
      id: message.id,
      count,
      batches,
      ns: process.hrtime.bigint().toString(),
      cpu: process.cpuUsage(),
    });
  } else if (message?.type === "stop") {
    clearInterval(reporter);
    await Promise.race([stop(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    process.send?.({ type: "stopped", count, batches, cpu: process.cpuUsage() });
    process.exit(0);
  }
});
process.send({ type: "ready" });
