// Durable commands through the user API vs BullMQ (issue 16's bar: >= 2x BullMQ completed jobs/s,
// p99 completion latency <= BullMQ's).
//   npx tsup && node benches/durable-commands.bench.mjs [seconds=4] [rounds=3]
// Catga: the caller is createCatga + natsTransport + `.remote(Cmd)`, and `send(Cmd, { n })`; the
// handler is a child process with createCatga + natsTransport({ durableCommands }) and
// `.handle(Cmd, ({ n }) => ({ n }))` (consumer batch 64). BullMQ: `Queue.add("cmd", { n }, { jobId })`
// and a `Worker` in a child process with the same handler and `concurrency: 64`
// (`removeOnComplete`/`removeOnFail`, so Redis does not grow). Both keep 64 sends in flight.
// - accepted/s: Catga `send` (await "accepted": stored by JetStream) vs `Queue.add` (stored in Redis).
// - completed/s and latency: Catga `send(…, { await: "result" })` (the handler's Result, sent back
//   before the ack) vs `Queue.add` then the job's `completed` event from one `QueueEvents` (the
//   BullMQ way to learn a job finished; one listener, waiters by jobId, registered before `add`).
// Between phases each side's backlog is drained. Rounds alternate Catga and BullMQ; medians and
// the median of per-round ratios. Loopback NATS :4222 and Redis :6379; names carry the pid.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Queue, QueueEvents, Worker } from "bullmq";
import nats from "nats";
import { createCatga, defineCommand, silentLogger } from "../dist/index.js";
import { JetStream } from "../dist/jetstream.js";
import { natsTransport } from "../dist/nats.js";

const NATS = "nats://127.0.0.1:4222";
const REDIS = { host: "127.0.0.1", port: 6379 };
const IN_FLIGHT = 64;
const Cmd = defineCommand("bench.cmd").payload().returns().durable();

const role = process.argv[2];
if (role === "--catga-handler") await catgaHandler(process.argv[3]);
else if (role === "--bullmq-worker") await bullWorker(process.argv[3]);
else await main();

async function catgaHandler(prefix) {
  const transport = await natsTransport({
    servers: NATS,
    service: "handler",
    prefix,
    durableCommands: { provision: { storage: "memory" }, consumer: { batch: 64, fetchWaitMs: 100 } },
  });
  createCatga({ logger: silentLogger, transport })
    .handle(Cmd, ({ n }) => ({ n }))
    .build();
  await transport.ready();
  process.send("ready");
  process.on("message", () => transport.close().then(() => process.exit(0)));
}

async function bullWorker(queue) {
  const worker = new Worker(queue, async (job) => ({ n: job.data.n }), {
    connection: { ...REDIS, maxRetriesPerRequest: null },
    concurrency: IN_FLIGHT,
  });
  await worker.waitUntilReady();
  process.send("ready");
  process.on("message", () => worker.close().then(() => process.exit(0)));
}

function child(flag, name) {
  const proc = fork(fileURLToPath(import.meta.url), [flag, name], { stdio: "inherit" });
  return new Promise((resolve, reject) => {
    proc.once("message", () => resolve(proc));
    proc.once("exit", (code) => reject(new Error(`${flag} exited with ${code}`)));
  });
}

/** 64 workers each awaiting one send at a time for `seconds` (after a 0.5 s warm-up). */
async function measure(seconds, sendOne) {
  let count = 0;
  const warmUntil = Date.now() + 500;
  while (Date.now() < warmUntil) await sendOne(count++);
  const latencies = [];
  let stop = false;
  const started = performance.now();
  const timer = setTimeout(() => {
    stop = true;
  }, seconds * 1000);
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      await sendOne(count++);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  clearTimeout(timer);
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { perSecond: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

async function until(check, what, timeoutMs = 120_000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out draining ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main() {
  const SECONDS = Number(process.argv[2] ?? 4);
  const ROUNDS = Number(process.argv[3] ?? 3);
  const prefix = `dcmdbench${process.pid}`;
  const stream = `${prefix.toUpperCase()}_COMMANDS`;
  const queueName = `catga-bench-${process.pid}`;
  const handler = await child("--catga-handler", prefix);
  const bullWorkerProc = await child("--bullmq-worker", queueName);

  const transport = await natsTransport({ servers: NATS, service: "caller", prefix });
  const catga = createCatga({ logger: silentLogger, transport }).remote(Cmd).build();
  // Only to see the stream drain (a work queue holds what is not yet acked).
  const nc = await nats.connect({ servers: NATS });
  const jsm = await nc.jetstreamManager();
  const queue = new Queue(queueName, {
    connection: REDIS,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  const events = new QueueEvents(queueName, { connection: REDIS });
  await events.waitUntilReady();
  const waiting = new Map();
  events.on("completed", ({ jobId, returnvalue }) => {
    const done = waiting.get(jobId);
    if (done !== undefined) {
      waiting.delete(jobId);
      done(returnvalue);
    }
  });
  events.on("failed", ({ jobId, failedReason }) => {
    throw new Error(`job ${jobId} failed: ${failedReason}`);
  });

  const check = (result) => {
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  };
  let ids = 0;
  const run = {
    catgaAccepted: () => measure(SECONDS, (n) => catga.send(Cmd, { n }).then(check)),
    catgaCompleted: () => measure(SECONDS, (n) => catga.send(Cmd, { n }, { await: "result" }).then(check)),
    bullAccepted: () => measure(SECONDS, (n) => queue.add("cmd", { n }, { jobId: `a${++ids}` })),
    bullCompleted: () =>
      measure(SECONDS, (n) => {
        const jobId = `c${++ids}`;
        const done = new Promise((resolve) => waiting.set(jobId, resolve));
        return queue.add("cmd", { n }, { jobId }).then(() => done);
      }),
    catgaDrained: () =>
      until(async () => (await jsm.streams.info(stream)).state.messages === 0, "the Catga stream"),
    bullDrained: () =>
      until(async () => {
        const c = await queue.getJobCounts("wait", "active", "delayed", "prioritized");
        return Object.values(c).every((v) => v === 0);
      }, "the BullMQ queue"),
  };

  const rows = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const row = { round };
      row.catgaAccepted = await run.catgaAccepted();
      await run.catgaDrained();
      row.bullAccepted = await run.bullAccepted();
      await run.bullDrained();
      row.catgaCompleted = await run.catgaCompleted();
      await run.catgaDrained();
      row.bullCompleted = await run.bullCompleted();
      await run.bullDrained();
      rows.push(row);
      process.stderr.write(`round ${round} done\n`);
    }
  } finally {
    await catga.close();
    await nc.close();
    handler.send("stop");
    bullWorkerProc.send("stop");
    await events.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    const cleanup = await natsTransport({ servers: NATS, service: "cleanup", prefix });
    const admin = new JetStream(cleanup.connection);
    await Promise.all([
      admin.deleteStream(stream),
      admin.deleteStream(`${stream}_DLQ`),
      admin.deleteStream(`${stream}_RESULTS`),
    ]).catch(() => undefined);
    await cleanup.close();
  }

  const fmt = (v) => Math.round(v).toLocaleString("en-US");
  const ms = (v) => v.toFixed(2);
  console.log(
    "| round | catga accepted/s | BullMQ added/s | catga completed/s | BullMQ completed/s | completed ratio | catga p50 / p99 ms | BullMQ p50 / p99 ms |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows)
    console.log(
      `| ${r.round} | ${fmt(r.catgaAccepted.perSecond)} | ${fmt(r.bullAccepted.perSecond)} | ${fmt(r.catgaCompleted.perSecond)} | ${fmt(r.bullCompleted.perSecond)} | ${(r.catgaCompleted.perSecond / r.bullCompleted.perSecond).toFixed(2)}× | ${ms(r.catgaCompleted.p50)} / ${ms(r.catgaCompleted.p99)} | ${ms(r.bullCompleted.p50)} / ${ms(r.bullCompleted.p99)} |`,
    );
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const med = (pick) => median(rows.map(pick));
  const completedRatio = med((r) => r.catgaCompleted.perSecond / r.bullCompleted.perSecond);
  const acceptedRatio = med((r) => r.catgaAccepted.perSecond / r.bullAccepted.perSecond);
  const p99Catga = med((r) => r.catgaCompleted.p99);
  const p99Bull = med((r) => r.bullCompleted.p99);
  console.log(
    `\nmedians: accepted ${fmt(med((r) => r.catgaAccepted.perSecond))} vs ${fmt(med((r) => r.bullAccepted.perSecond))}/s (${acceptedRatio.toFixed(2)}×); ` +
      `completed ${fmt(med((r) => r.catgaCompleted.perSecond))} vs ${fmt(med((r) => r.bullCompleted.perSecond))}/s (${completedRatio.toFixed(2)}×); ` +
      `p50 ${ms(med((r) => r.catgaCompleted.p50))} vs ${ms(med((r) => r.bullCompleted.p50))} ms; p99 ${ms(p99Catga)} vs ${ms(p99Bull)} ms`,
  );
  console.log(
    `bar: completed >= 2x BullMQ -> ${completedRatio.toFixed(2)}x: ${completedRatio >= 2 ? "MET" : "MISSED"}; ` +
      `p99 <= BullMQ's -> ${p99Catga <= p99Bull ? "MET" : "MISSED"}`,
  );
  process.exit(0);
}
