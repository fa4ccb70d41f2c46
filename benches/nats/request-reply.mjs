// Scenarios "rr64" and "rr1": request/reply from the bench process to one implementation's
// responder in a child process (the client module's peer), `concurrency` requests in flight:
// warm-up, then a fixed window; req/s, latency percentiles from an HDR histogram (µs, 3
// significant digits) of every request completed in the window, and CPU per request on both
// sides (process.cpuUsage() here, the child's cpuUsage at two marks over IPC).

import * as hdr from "hdr-histogram-js";
import { forkChild } from "./children.mjs";
import { sleep } from "./common.mjs";
import { cpuSnapshot, cpuWindow, load } from "./machine.mjs";
import { nextTag } from "./names.mjs";

const MAX_REQUESTS = 20_000_000; // count bound per run

const cpuUs = (a, b) => b.user - a.user + (b.system - a.system);

/** One run of `client` (a benches/nats/clients module) at `concurrency` requests in flight. */
export async function runRequestReply(client, concurrency, { warmS, runS, payloads }) {
  const tag = nextTag();
  const { script, args } = client.peerFor("rr", tag);
  const responder = forkChild(script, args);
  let session;
  let stopped = false;
  try {
    await responder.ready;
    session = await client.open("rr", tag, payloads);
    const histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    let recording = false;
    let sent = 0;
    let completed = 0;
    let errors = 0;
    let firstError;
    const worker = async () => {
      while (!stopped && sent < MAX_REQUESTS) {
        const t0 = performance.now();
        try {
          await session.request(sent++);
        } catch (error) {
          errors++;
          firstError ??= error;
          continue;
        }
        if (recording) {
          histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          completed++;
        }
      }
    };
    const workers = Array.from({ length: concurrency }, worker);
    await sleep(warmS * 1000);
    const markStart = await responder.mark();
    const cpu0 = process.cpuUsage();
    const snap0 = cpuSnapshot();
    const t0 = performance.now();
    recording = true;
    await sleep(runS * 1000);
    recording = false;
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = process.cpuUsage();
    const snap1 = cpuSnapshot();
    const markEnd = await responder.mark();
    stopped = true;
    await Promise.all(workers);
    if (firstError)
      console.error(`  ${client.label} c${concurrency}: ${errors} errors, first: ${firstError}`);
    const requests = Math.max(1, completed);
    return {
      reqPerSec: completed / seconds,
      p50: histogram.getValueAtPercentile(50),
      p90: histogram.getValueAtPercentile(90),
      p99: histogram.getValueAtPercentile(99),
      p999: histogram.getValueAtPercentile(99.9),
      max: histogram.maxValue,
      errors,
      clientCpuUsPerReq: cpuUs(cpu0, cpu1) / requests,
      responderCpuUsPerReq: cpuUs(markStart.cpu, markEnd.cpu) / requests,
      cpuUsPerReq: (cpuUs(cpu0, cpu1) + cpuUs(markStart.cpu, markEnd.cpu)) / requests,
      ...cpuWindow(snap0, snap1),
      load: load(),
    };
  } finally {
    stopped = true;
    await session?.close().catch(() => undefined);
    await responder.stop();
  }
}
