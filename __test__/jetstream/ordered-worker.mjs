// An ordered durable consumer for the crash test: runs JetStream.consume with `orderBy` from the
// built package (dist/), as a real service would, until it is killed. Every successful handler
// call is written to stdout as "<stream sequence> <key>" before the handler returns (a pipe
// write is synchronous on Linux, so a line printed is a call that happened). A tenth of the
// messages fail their first handler call in this process. Everything comes in argv.
import { JetStream } from "../../dist/jetstream.js";
import { NatsConnection } from "../../dist/nats.js";

const [natsUrl, stream, durable, ackWaitMs] = process.argv.slice(2);
const connection = await NatsConnection.connect({ servers: natsUrl, reconnectDelayMs: 20 });
const failedOnce = new Set();
const mix = (x) => {
  const h = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  return (Math.imul(h ^ (h >>> 13), 0x5bd1e995) ^ (h >>> 15)) >>> 0;
};
await new JetStream(connection).consume(
  {
    stream,
    durable,
    ackWaitMs: Number(ackWaitMs),
    backoffMs: [20, 50],
    batch: 64,
    fetchWaitMs: 100,
    orderBy: (m) => m.envelope.messageId.split("-")[0],
  },
  async (m) => {
    const seq = m.streamSequence;
    await new Promise((resolve) => setTimeout(resolve, seq % 3));
    if (mix(seq) % 10 === 0 && !failedOnce.has(seq)) {
      failedOnce.add(seq);
      throw new Error("transient");
    }
    process.stdout.write(`${seq} ${m.envelope.messageId.split("-")[0]}\n`);
  },
);
process.stdout.write("ready\n");
