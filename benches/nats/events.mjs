// Scenario "events": one implementation's publisher in the bench process, its subscriber in a
// child process (the client module's peer), rate counted at the subscriber's handler between two
// marks taken in the child. The publisher sends chunks of CHUNK events, keeps at most 4 chunks'
// promises unsettled, and holds off while more than the client's `window` events are undelivered
// (the child reports its count every 5 ms), so neither side can flood the server (a subscriber
// that falls 64 MiB behind is cut off by nats-server as a slow consumer).

import { forkChild } from "./children.mjs";
import { sleep, tick } from "./common.mjs";
import { cpuSnapshot, cpuWindow, load } from "./machine.mjs";
import { nextTag } from "./names.mjs";

const MAX_PUBLISH = 200_000_000; // count bound per run
const CHUNK = 1024; // events published between yields
const IN_FLIGHT_CHUNKS = 4;

const cpuUs = (a, b) => b.user - a.user + (b.system - a.system);

/** One run of `client` (a benches/nats/clients module): delivered msgs/s and CPU per message. */
export async function runEvents(client, { warmS, runS, payloads }) {
  const tag = nextTag();
  const { script, args } = client.peerFor("events", tag);
  const subscriber = forkChild(script, args);
  let delivered = 0;
  subscriber.child.on("message", (m) => {
    if (m?.type === "count") delivered = m.count;
  });
  let stopped = false;
  let session;
  try {
    await subscriber.ready;
    session = await client.open("events", tag, payloads);
    let published = 0;
    let waits = 0;
    let errors = 0;
    let firstError;
    let loopFailure;
    const failed = (error) => {
      errors++;
      firstError ??= error;
    };
    const inFlight = [];
    const loop = (async () => {
      while (!stopped && published < MAX_PUBLISH) {
        if (published - delivered > client.window) {
          waits++;
          await sleep(1);
          continue;
        }
        const last = session.emitChunk(published, CHUNK);
        published += CHUNK;
        if (last !== undefined) inFlight.push(last.catch(failed));
        // Waiting on the oldest chunk also yields the loop; with nothing to wait on, yield anyway.
        if (inFlight.length >= IN_FLIGHT_CHUNKS) await inFlight.shift();
        else await tick();
      }
      await Promise.all(inFlight);
    })().catch((error) => {
      loopFailure = error;
      stopped = true;
    });
    await sleep(warmS * 1000);
    const a = await subscriber.mark();
    const cpu0 = process.cpuUsage();
    const snap0 = cpuSnapshot();
    const published0 = published;
    const t0 = performance.now();
    await sleep(runS * 1000);
    const b = await subscriber.mark();
    const cpu1 = process.cpuUsage();
    const snap1 = cpuSnapshot();
    const seconds = (performance.now() - t0) / 1000;
    const publishedInWindow = published - published0;
    stopped = true;
    await loop;
    if (loopFailure) throw loopFailure;
    if (firstError) console.error(`  ${client.label} events: ${errors} failed chunks, first: ${firstError}`);
    const subSeconds = Number(BigInt(b.ns) - BigInt(a.ns)) / 1e9;
    const deliveredInWindow = b.count - a.count;
    return {
      msgsPerSec: deliveredInWindow / subSeconds,
      publishedPerSec: publishedInWindow / seconds,
      pubCpuUsPerMsg: cpuUs(cpu0, cpu1) / Math.max(1, publishedInWindow),
      subCpuUsPerMsg: cpuUs(a.cpu, b.cpu) / Math.max(1, deliveredInWindow),
      ...cpuWindow(snap0, snap1),
      flowControlWaits: waits,
      errors,
      load: load(),
    };
  } finally {
    stopped = true;
    await session?.close().catch(() => undefined);
    await subscriber.stop();
  }
}
