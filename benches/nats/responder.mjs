// Child process: answers requests on a subject in a queue group until told to stop. The peer of
// the "engine ceiling" request/reply rows (clients/engine.mjs); the user-API peers are in peers/.
//   node benches/nats/responder.mjs <catga|natsjs> <subject> <queue>
// catga:  NatsConnection.subscribe({ queue }) returning the batch's replies (RESPONDER_VIA_REPLY=1:
//         reply() for each request instead),
//         awaiting the replies as NatsTransport.serve does (RESPONDER_NO_AWAIT=1 skips the await).
// natsjs: nc.subscribe({ queue, callback }) + msg.respond().
// Each reply is a reply envelope of the same size as the request (256-byte payload).

import { connectCatga, connectNatsJs, guardChild, makeEnvelopes, POOL } from "./common.mjs";

guardChild();
const [impl, subject, queue] = process.argv.slice(2);
const replies = makeEnvelopes("reply", "bench.reply");
const MASK = POOL - 1;
let served = 0;
let stop;
/** Messages and inbound batches so far (Catga engine counters; one per message for nats.js). */
let counters = () => ({ messages: served, batches: served });

if (impl === "catga") {
  const conn = await connectCatga("bench-responder-catga");
  const noAwait = process.env.RESPONDER_NO_AWAIT === "1";
  const viaReply = process.env.RESPONDER_VIA_REPLY === "1";
  const unsubscribe = await conn.subscribe(subject, { queue }, async ({ envelopes, replies: to }) => {
    if (!viaReply) {
      // Default: return the replies; the engine publishes them when the batch settles.
      const out = [];
      for (let i = 0; i < envelopes.length; i++) {
        const replyTo = to[i];
        if (replyTo) out.push({ subject: replyTo, envelope: replies[served++ & MASK] });
      }
      return out;
    }
    const sent = new Array(envelopes.length);
    for (let i = 0; i < envelopes.length; i++) {
      const replyTo = to[i];
      if (replyTo) sent[i] = conn.reply(replyTo, replies[served++ & MASK]);
    }
    if (!noAwait) await Promise.all(sent);
  });
  stop = async () => {
    await unsubscribe();
    await conn.close();
  };
  counters = () => {
    const stats = conn.stats();
    return { messages: stats.messagesReceived, batches: stats.batchesDelivered };
  };
} else if (impl === "natsjs") {
  const nc = await connectNatsJs("bench-responder-natsjs");
  nc.subscribe(subject, {
    queue,
    callback: (error, msg) => {
      if (!error) msg.respond(replies[served++ & MASK]);
    },
  });
  await nc.flush();
  stop = () => nc.drain();
} else {
  throw new Error(`unknown implementation ${impl}`);
}

process.on("message", async (message) => {
  if (message?.type === "mark") {
    process.send?.({ type: "mark", id: message.id, served, cpu: process.cpuUsage(), ...counters() });
    return;
  }
  if (message?.type !== "stop") return;
  await Promise.race([stop(), new Promise((resolve) => setTimeout(resolve, 2000))]);
  process.send?.({ type: "stopped", served, cpu: process.cpuUsage() });
  process.exit(0);
});
process.send({ type: "ready" });
