// Child process: sustains `rate` msgs/s publish + consume for `secs` seconds in ONE process (a
// publishing connection and a subscribing connection), sampling process.memoryUsage() every
// second. Run in a fresh process so earlier phases of the bench don't pollute its RSS.
//   node benches/nats/rss.mjs <catga|catga-user|natsjs> <subject> <rate> <secs>
// catga: the engine (NatsConnection, envelope bytes); catga-user: the user API (createCatga +
// natsTransport, `{ data: <256 bytes> }` payloads); natsjs: nats.js with envelope bytes.
// The publisher is paced on a 10 ms tick (catching up if a tick is late, at most 5 ticks' worth
// at once) and holds off while more than one second's worth of messages is undelivered, so the
// loop is bounded in count, time and memory.

import { connectCatga, connectNatsJs, guardChild, makeEnvelopes, POOL, sleep } from "./common.mjs";

guardChild();
const [impl, subject, rateArg, secsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const secs = Number(secsArg);
const envelopes = makeEnvelopes("event", "bench.rss");
const MASK = POOL - 1;
let delivered = 0;
let published = 0;
let errors = 0;
let publish;
let close;

if (impl === "catga") {
  const sub = await connectCatga("bench-rss-sub-catga");
  const pub = await connectCatga("bench-rss-pub-catga");
  const unsubscribe = await sub.subscribe(subject, {}, async ({ envelopes: got }) => {
    delivered += got.length;
  });
  publish = (n) => {
    let last;
    for (let i = 0; i < n; i++) last = pub.publish(subject, envelopes[published++ & MASK]);
    last?.catch(() => errors++);
  };
  close = async () => {
    await pub.close();
    await unsubscribe();
    await sub.close();
  };
} else if (impl === "catga-user") {
  // The user API: createCatga + natsTransport, publish(Event, payload) and a handler registered
  // with .handle(), in two mediators (two services) of this one process.
  const { createCatga, defineEvent } = await import("../../dist/index.js");
  const { natsTransport } = await import("../../dist/nats.js");
  const { NATS_URL } = await import("./common.mjs");
  const { randomBytes } = await import("node:crypto");
  const RssEvent = defineEvent("bench.rss");
  const payloads = Array.from({ length: POOL }, () => ({ data: randomBytes(256) }));
  const prefix = subject.replace(/[^A-Za-z0-9_-]/g, "_");
  const subTransport = await natsTransport({ servers: NATS_URL, service: "rss-sub", prefix });
  const subscriber = createCatga()
    .handle(RssEvent, () => {
      delivered++;
    })
    .withTransport(subTransport)
    .build();
  await subTransport.ready();
  const pubTransport = await natsTransport({ servers: NATS_URL, service: "rss-pub", prefix });
  const publisher = createCatga().withTransport(pubTransport).build();
  publish = (n) => {
    let last;
    for (let i = 0; i < n; i++) last = publisher.publish(RssEvent, payloads[published++ & MASK]);
    last?.then((result) => {
      if (!result.ok) errors++;
    });
  };
  close = async () => {
    await publisher.close();
    await subscriber.close();
  };
} else if (impl === "natsjs") {
  const sub = await connectNatsJs("bench-rss-sub-natsjs");
  const pub = await connectNatsJs("bench-rss-pub-natsjs");
  sub.subscribe(subject, {
    callback: (error) => {
      if (error) errors++;
      else delivered++;
    },
  });
  await sub.flush();
  publish = (n) => {
    for (let i = 0; i < n; i++) pub.publish(subject, envelopes[published++ & MASK]);
  };
  close = async () => {
    await pub.drain();
    await sub.drain();
  };
} else {
  throw new Error(`unknown implementation ${impl}`);
}

process.send?.({ type: "ready" });
const mb = (n) => Math.round((n / 1048576) * 10) / 10;
const samples = [];
const start = performance.now();
const end = start + secs * 1000;
let nextSample = start + 1000;
let lastDelivered = 0;
let throttled = 0;
const perTick = rate / 100;
while (performance.now() < end) {
  const now = performance.now();
  const target = Math.floor(((now - start) / 1000) * rate);
  if (published - delivered > rate) throttled++;
  else publish(Math.min(target - published, perTick * 5));
  if (now >= nextSample) {
    const m = process.memoryUsage();
    const sample = {
      t: Math.round((now - start) / 1000),
      rssMB: mb(m.rss),
      heapUsedMB: mb(m.heapUsed),
      heapTotalMB: mb(m.heapTotal),
      externalMB: mb(m.external),
      deliveredPerSec: delivered - lastDelivered,
      backlog: published - delivered,
    };
    lastDelivered = delivered;
    samples.push(sample);
    process.send?.({ type: "sample", sample });
    nextSample += 1000;
  }
  await sleep(10);
}
await Promise.race([close(), sleep(3000)]);
process.send?.({ type: "done", samples, published, delivered, errors, throttled, secs });
process.exit(0);
