// Scheduled messages through the user API (issue 16's scale bar: 1,000,000 pending timers without
// growth of any service's RSS; precision as lateness after the due time).
//   npx tsup && node benches/scheduling.bench.mjs [levels=0,10000,1000000] [probes=200]
// A private nats-server (JetStream, file storage in a temp dir), started and stopped by this script.
// The services, as child processes:
// - "timers": createCatga + natsTransport({ scheduling: {}, durableEvents: {} }); it schedules with
//   `publish(Event, payload, { deliverAt })`, and every such instance delivers due timers.
// - "receiver": natsTransport({ durableEvents: {} }) and `.handle(Probe, …)`: it records, for each
//   probe, Date.now() minus the probe's due time (the lateness at the handler, end to end: the
//   scheduler's redelivery, its publish to the event stream, the receiver's consumer).
// Levels (pending far-future timers, due in 7 days) are cumulative. For each one, a "timers"
// process schedules the missing far timers (500 in flight) and stops (its RSS: the cost of
// scheduling them); then a fresh "timers" instance starts, the script waits until the scheduler's
// consumer has taken every timer once (all pending on the server, none undelivered), reads the
// RSS of that instance, of the receiver (both after a gc) and of nats-server, has the instance
// schedule `probes` probe events due 2 s ahead and 20 ms apart, and waits for all at the receiver.
import { fork, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import nats from "nats";
import { createCatga, defineEvent, silentLogger } from "../dist/index.js";
import { natsTransport } from "../dist/nats.js";

const Far = defineEvent("bench.far").payload();
const Probe = defineEvent("bench.probe").payload();
const IN_FLIGHT = 500;

const role = process.argv[2];
if (role === "--timers") await timers(process.argv[3], process.argv[4]);
else if (role === "--receiver") await receiver(process.argv[3], process.argv[4]);
else await main();

function rssMb(pid) {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return line ? Number(line[1]) / 1024 : Number.NaN;
}

/** Answers "memory" with its RSS and heap after a full gc (so garbage is not counted as growth). */
function answerMemory(message) {
  if (message.op !== "memory") return false;
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  process.send({ op: "memory", rss: rss / 2 ** 20, heapUsed: heapUsed / 2 ** 20 });
  return true;
}

async function timers(servers, prefix) {
  const transport = await natsTransport({
    servers,
    service: "timers",
    prefix,
    durableEvents: {},
    scheduling: {},
  });
  const catga = createCatga({ logger: silentLogger, transport }).build();
  await transport.ready();
  process.on("message", async (message) => {
    if (answerMemory(message)) return;
    if (message.op === "far") {
      const started = performance.now();
      const deliverAt = Date.now() + 7 * 24 * 3600_000;
      let next = 0;
      const worker = async () => {
        while (next < message.count) {
          const n = next++;
          const result = await catga.publish(Far, { n }, { deliverAt });
          if (!result.ok) throw result.error;
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      process.send({ op: "far", seconds: (performance.now() - started) / 1000 });
    } else if (message.op === "probe") {
      const first = Date.now() + message.leadMs;
      const sends = [];
      for (let i = 0; i < message.count; i++) {
        const due = first + i * message.spacingMs;
        sends.push(catga.publish(Probe, { due }, { deliverAt: due }));
      }
      for (const result of await Promise.all(sends)) if (!result.ok) throw result.error;
      process.send({ op: "probe" });
    } else if (message.op === "stop") {
      await transport.close();
      process.send({ op: "stop" });
      process.exit(0);
    }
  });
  process.send({ op: "ready" });
}

async function receiver(servers, prefix) {
  const transport = await natsTransport({ servers, service: "receiver", prefix, durableEvents: {} });
  createCatga({ logger: silentLogger, transport })
    .handle(Probe, ({ due }) => {
      process.send({ op: "late", ms: Date.now() - due });
    })
    .build();
  await transport.ready();
  process.on("message", async (message) => {
    if (answerMemory(message)) return;
    if (message.op === "stop") {
      await transport.close();
      process.exit(0);
    }
  });
  process.send({ op: "ready" });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => (port ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

async function startNats() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "catga-sched-bench-"));
  const proc = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  await new Promise((resolve, reject) => {
    let log = "";
    proc.stderr.on("data", (chunk) => {
      log += chunk;
      if (log.includes("Server is ready")) resolve();
    });
    proc.once("exit", (code) => reject(new Error(`nats-server exited with ${code}: ${log}`)));
  });
  return { url: `nats://127.0.0.1:${port}`, proc, dir };
}

/** A child service; `next(op)` resolves with its next message of that op. */
async function child(flag, url, prefix) {
  const proc = fork(fileURLToPath(import.meta.url), [flag, url, prefix], {
    stdio: "inherit",
    execArgv: ["--expose-gc"],
  });
  const waiting = new Map();
  const late = [];
  proc.on("message", (message) => {
    if (message.op === "late") late.push(message.ms);
    const list = waiting.get(message.op);
    if (list?.length) list.shift()(message);
  });
  const next = (op) =>
    new Promise((resolve, reject) => {
      if (!waiting.has(op)) waiting.set(op, []);
      waiting.get(op).push(resolve);
      proc.once("exit", (code) => reject(new Error(`${flag} exited with ${code} while waiting for ${op}`)));
    });
  await next("ready");
  const ask = (op, extra = {}) => {
    const answer = next(op);
    proc.send({ op, ...extra });
    return answer;
  };
  return { proc, late, ask };
}

async function until(check, what, timeoutMs) {
  const started = Date.now();
  const safely = () => Promise.resolve(check()).catch(() => false); // a slow answer: ask again
  while (!(await safely())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return (Date.now() - started) / 1000;
}

async function main() {
  const levels = (process.argv[2] ?? "0,10000,1000000").split(",").map(Number);
  const PROBES = Number(process.argv[3] ?? 200);
  const prefix = "schedbench";
  const stream = "SCHEDBENCH_SCHEDULE";
  const server = await startNats();
  const rows = [];
  let timersSvc;
  let receiverSvc;
  let nc;
  try {
    receiverSvc = await child("--receiver", server.url, prefix);
    nc = await nats.connect({ servers: server.url });
    // At a million pending timers the server answers consumer info slowly.
    const jsm = await nc.jetstreamManager({ timeout: 30_000 });
    const consumer = () => jsm.consumers.info(stream, "catga-scheduler");
    const memory = async () => ({
      timers: await timersSvc.ask("memory"),
      receiver: await receiverSvc.ask("memory"),
      natsRss: rssMb(server.proc.pid),
    });
    let pending = 0;
    for (const level of levels) {
      const row = { level };
      if (level > pending) {
        // A process that schedules the timers, then stops: its RSS shows the cost of scheduling.
        const loader = await child("--timers", server.url, prefix);
        const far = await loader.ask("far", { count: level - pending });
        row.loader = await loader.ask("memory");
        await loader.ask("stop").catch(() => undefined);
        row.scheduleSeconds = far.seconds;
        row.schedulePerSecond = (level - pending) / far.seconds;
        pending = level;
      }
      // A fresh instance that only delivers: its RSS is what holding `level` pending timers costs a
      // service.
      timersSvc = await child("--timers", server.url, prefix);
      row.start = { timers: await timersSvc.ask("memory"), receiver: await receiverSvc.ask("memory") };
      // Every far timer taken once by the scheduler and handed back (nak'ed with its delay): the
      // steady state, where the server holds them.
      row.settleSeconds = await until(
        async () => {
          const info = await consumer();
          return info.num_pending === 0 && info.num_ack_pending >= pending;
        },
        `${pending} timers pending on the scheduler's consumer`,
        900_000,
      );
      row.before = await memory();
      receiverSvc.late.length = 0;
      await timersSvc.ask("probe", { count: PROBES, leadMs: 2000, spacingMs: 20 });
      await until(() => receiverSvc.late.length >= PROBES, `${PROBES} probes at the receiver`, 120_000);
      const late = [...receiverSvc.late].sort((a, b) => a - b);
      const at = (q) => late[Math.min(late.length - 1, Math.floor(q * late.length))];
      row.late = { min: late[0], p50: at(0.5), p99: at(0.99), max: late[late.length - 1] };
      row.after = await memory();
      row.streamMessages = (await jsm.streams.info(stream)).state.messages;
      await timersSvc.ask("stop").catch(() => undefined);
      timersSvc = undefined;
      rows.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    }
  } finally {
    await nc?.close();
    timersSvc?.proc.send({ op: "stop" });
    receiverSvc?.proc.send({ op: "stop" });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    server.proc.kill("SIGTERM");
    await new Promise((resolve) => server.proc.once("exit", resolve));
    rmSync(server.dir, { recursive: true, force: true });
  }

  const mb = (v) => v.toFixed(0);
  console.log(
    "| pending timers | scheduled/s | settle s | lateness min / p50 / p99 / max ms | scheduling process RSS (heap) MB | delivering instance RSS (heap) MB start → settled → after probes | receiver RSS (heap) MB start → after | nats-server RSS MB settled → after |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    const m = (x) => `${mb(x.rss)} (${mb(x.heapUsed)})`;
    console.log(
      `| ${r.level.toLocaleString("en-US")} | ${r.schedulePerSecond ? Math.round(r.schedulePerSecond).toLocaleString("en-US") : "–"} | ${r.settleSeconds.toFixed(1)} | ${r.late.min} / ${r.late.p50} / ${r.late.p99} / ${r.late.max} | ${r.loader ? m(r.loader) : "–"} | ${m(r.start.timers)} → ${m(r.before.timers)} → ${m(r.after.timers)} | ${m(r.start.receiver)} → ${m(r.after.receiver)} | ${mb(r.before.natsRss)} → ${mb(r.after.natsRss)} |`,
    );
  }
  process.exit(0);
}
