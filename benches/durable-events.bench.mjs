// Durable events through the user API (issue 13's bar: >= 2x nats.js JetStream publish).
//   npx tsup && node benches/durable-events.bench.mjs [seconds=4] [rounds=3]
// Catga: createCatga + natsTransport({ durableEvents }) and `catga.publish(Event, payload)`, each
// Result checked; nats.js: `js.publish(subject, bytes, { msgID })` with `noAsyncTraces`. Both keep 64
// publishes in flight (64 workers awaiting theirs), memory storage, the same 256 random bytes
// (Catga: `{ data: <bytes> }`). Rounds alternate the two; medians and the median of per-round ratios.
// Loopback only; streams carry this process's pid and are deleted at the end.
import { randomBytes } from "node:crypto";
import nats from "nats";
import { createCatga, defineEvent } from "../dist/index.js";
import { JetStream } from "../dist/jetstream.js";
import { natsTransport } from "../dist/nats.js";

const SECONDS = Number(process.argv[2] ?? 4);
const ROUNDS = Number(process.argv[3] ?? 3);
const IN_FLIGHT = 64;
const prefix = `durbench${process.pid}`;
const stream = `${prefix.toUpperCase()}_EVENTS`;
const BenchEvent = defineEvent("bench.event");
const pool = Array.from({ length: 1024 }, () => ({ data: randomBytes(256) }));

async function measure(publishOne) {
  let count = 0;
  let stop = false;
  const warmUntil = Date.now() + 500;
  while (Date.now() < warmUntil) await publishOne(count++);
  count = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const timer = setTimeout(() => {
    stop = true;
  }, SECONDS * 1000);
  const worker = async () => {
    while (!stop) await publishOne(count++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  clearTimeout(timer);
  const used = process.cpuUsage(cpu);
  return {
    perSecond: count / ((performance.now() - started) / 1000),
    cpuUsPerEvent: (used.user + used.system) / count,
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const transport = await natsTransport({
  servers: "nats://127.0.0.1:4222",
  service: "bench",
  prefix,
  durableEvents: { provision: { storage: "memory" } },
});
const catga = createCatga().withTransport(transport).build();
const nc = await nats.connect({ servers: "127.0.0.1:4222", noAsyncTraces: true });
const js = nc.jetstream();
const raw = randomBytes(256);
const rows = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const catgaRun = await measure((i) =>
      catga.publish(BenchEvent, pool[i & 1023]).then((result) => {
        if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
      }),
    );
    const natsRun = await measure((i) => js.publish(`${prefix}.evt.raw`, raw, { msgID: `${round}-${i}` }));
    rows.push({ round, catga: catgaRun, nats: natsRun, ratio: catgaRun.perSecond / natsRun.perSecond });
  }
} finally {
  await catga.close();
  await nc.close();
  const cleanup = await natsTransport({ servers: "nats://127.0.0.1:4222", service: "cleanup", prefix });
  const admin = new JetStream(cleanup.connection);
  await Promise.all([admin.deleteStream(stream), admin.deleteStream(`${stream}_DLQ`)]).catch(() => undefined);
  await cleanup.close();
}
console.log("| round | catga events/s | catga CPU µs/event | nats.js msgs/s | nats.js CPU µs/msg | ratio |");
console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows)
  console.log(
    `| ${r.round} | ${Math.round(r.catga.perSecond)} | ${r.catga.cpuUsPerEvent.toFixed(1)} | ${Math.round(r.nats.perSecond)} | ${r.nats.cpuUsPerEvent.toFixed(1)} | ${r.ratio.toFixed(2)}× |`,
  );
const ratio = median(rows.map((r) => r.ratio));
console.log(
  `\nbar: durable events >= 2x nats.js JetStream publish -> ${ratio.toFixed(2)}x: ${ratio >= 2 ? "MET" : "MISSED"}`,
);
