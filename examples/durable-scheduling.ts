// Durable commands and scheduling on NATS JetStream. A `.durable()` command is stored before
// `send` resolves, so it survives the death of any handler process (handled at least once); a
// scheduled message is a timer the broker keeps, not this process. Needs NATS with JetStream.
// Run: npm run example:durable-scheduling
import { createCatga, defineCommand, defineEvent, uuidv7 } from "../dist/index.js";
import { natsTransport } from "../dist/nats.js";
import { NATS_URL, needs, PREFIX } from "./services.js";

// The contract says "durable"; caller and handler share it, so they cannot disagree.
const Capture = defineCommand("payments.capture")
  .payload<{ paymentId: string }>()
  .returns<string>()
  .durable();
const PaymentDue = defineEvent("payments.due").payload<{ paymentId: string; scheduledAt: number }>();

// `durableCommands`, `scheduling` and `durableEvents` make this service create the streams at
// connect; a scheduled event should be durable too, or a redelivered timer could fire it twice.
const transport = await natsTransport({
  servers: NATS_URL,
  service: "billing",
  prefix: PREFIX,
  durableCommands: {},
  durableEvents: {},
  scheduling: {},
}).catch(needs("NATS"));

let reminded: (late: number) => void;
const reminder = new Promise<number>((resolve) => (reminded = resolve));
const catga = createCatga({ transport })
  // At least once: a command redelivered after a lost ack replays its first outcome here.
  .withIdempotency()
  .handle(Capture, ({ paymentId }) => `captured ${paymentId}`)
  .handle(PaymentDue, ({ scheduledAt }) => reminded(Date.now() - scheduledAt))
  .build();
await transport.ready();

// 1. Send and wait only until JetStream stored it (the default): the answer is `Accepted`.
const messageId = uuidv7();
const accepted = (await catga.send(Capture, { paymentId: "p-1" }, { messageId })).unwrap();
console.log("stored:", accepted.duplicate ? "duplicate" : "new");
// A retry by the caller with the same messageId is dropped by JetStream: handled once, not twice.
const again = (await catga.send(Capture, { paymentId: "p-1" }, { messageId })).unwrap();
console.log("stored again:", again.duplicate ? "duplicate" : "new");

// 2. Or wait for the handler's answer (the send's own deadline ends the wait, not the command).
const answer = await catga.send(Capture, { paymentId: "p-2" }, { await: "result" });
console.log("result:", answer.unwrap());

// 3. A delayed event: stored now (publish resolves with the timer's `{ id, deliverAt }`),
// delivered by the broker's timer, never early.
const scheduledAt = Date.now();
(await catga.publish(PaymentDue, { paymentId: "p-3", scheduledAt }, { delayMs: 300 })).unwrap();
console.log(`reminder: delivered ${(await reminder) >= 300 ? "after" : "BEFORE"} its 300 ms delay`);

// 4. Timers can be listed and cancelled (operators' tools do this with a transport alone).
const later = (
  await catga.publish(PaymentDue, { paymentId: "p-4", scheduledAt: Date.now() }, { delayMs: 60_000 })
).unwrap();
const pending = async () => (await transport.schedules.list()).unwrap().items.some((t) => t.id === later.id);
console.log("in a minute:", (await pending()) ? "pending" : "gone");
(await transport.schedules.cancel(later.id)).unwrap();
console.log("after cancel:", (await pending()) ? "pending" : "gone");

await catga.close();
