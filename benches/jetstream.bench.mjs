// Durable delivery bench (issue 5): Catga JetStream (Rust engine via N-API) vs nats.js v2
// JetStream, plus the PostgreSQL outbox relay. One run; loopback only.
//
//   npx tsup && npm run bench:jetstream [-- --quick] [--only=pub,relay,consume]
//
// 1. pub      publish with ack, 64 in flight, for RUN_S seconds after a warm-up:
//             catga  64x1 : `await js.publish(64 items)` back to back (one caller)
//             catga  16x4 : 4 concurrent callers, each `await js.publish(16 items)` back to back
//             catga 256x1 / 1024x1 : bigger batches, for reference (not "64 in flight")
//             natsjs w64  : 64 workers, each `await js.publish(subject, data, { msgID })` (a
//                           sliding window of 64 acks outstanding)
//             natsjs 64x1 : `await Promise.all(64 × js.publish)` back to back (Catga 64x1's shape)
//             Latency: per batch call for Catga and Promise.all, per message for the workers
//             (HDR histogram, µs). Memory storage; then file storage for catga 64x1 and natsjs w64.
// 2. relay    OutboxRelay with PostgreSQL: fresh schema (migrate), 20,000 rows inserted with
//             PostgresOutbox.addMany in 4 transactions, then 1 or 2 relays (batchSize 256, 1024)
//             publishing with Catga JetStream into a memory stream, from start() until the rows
//             are all sent (relay.stats), then pending() is checked to be 0. The publisher is
//             wrapped to time each publish call, so the share of publish vs database is visible.
// 3. consume  50,000 messages published with Catga, then read by a fresh durable consumer,
//             no-op handler, ack: Catga `JetStream.consume` (batch 256) vs nats.js
//             `consumer.consume({ max_messages: 256 })` with `m.ack()` (fire-and-forget, the
//             nats.js default) and with `await m.ackAck()` (acks confirmed by the server, what
//             Catga does). Time from starting the consumer until every message reached the handler.
// 4. order    per-key ordered consumption (issue 21): ORDER_N messages in one memory stream, read
//             by a fresh durable per run, no-op handler, batch 256. Rounds alternate three runs:
//             unordered; `orderBy` with 1,000 keys (a hash of the stream sequence); the same with
//             10 % of messages failing their first handler call (backoff 50 ms). Reports msgs/s
//             (until every message was handled once successfully), per-key inversions (a key's
//             message handled after a later one of the same key), and the median ordered /
//             unordered ratio over the rounds.
//
// Payload: the same Catga envelope (256 random payload bytes, ~330 B) for both clients, from
// benches/nats/common.mjs; Nats-Msg-Id is unique per message (`<run>-<n>`), so no publish is a
// duplicate. Streams and the schema get unique names (pid) and are deleted at the end, also on
// error. Every loop is bounded by a count and by time. CPU of nats-server and of all postgres
// processes is read from /proc around each run, with the machine's load.

import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import * as hdr from "hdr-histogram-js";
import pg from "pg";
import { connectCatga, connectNatsJs, makeEnvelopes, NATS_URL, POOL, sleep } from "./nats/common.mjs";

const { JetStream } = await import("../dist/jetstream.js");
const { OutboxRelay, PostgresOutbox, migrate } = await import("../dist/persistence.js");

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const ONLY = (argv.find((a) => a.startsWith("--only="))?.slice(7) ?? "pub,relay,consume,order").split(",");
const WARM_S = QUICK ? 0.5 : 1;
const RUN_S = QUICK ? 2 : 5;
const MAX_MSGS = 5_000_000; // count bound per publish run
const RELAY_ROWS = QUICK ? 5_000 : 20_000;
const CONSUME_N = QUICK ? 10_000 : 50_000;
const ORDER_N = QUICK ? 10_000 : 30_000;
const ORDER_ROUNDS = QUICK ? 2 : 3;
const ORDER_KEYS = 1000;
const DEADLINE_MS = 120_000; // time bound for relay / consume runs
const PG_URL = process.env.BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test";
const MASK = POOL - 1;
const TAG = `b${process.pid}`;

const envelopes = makeEnvelopes("event", "bench.evt");
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

// ---- CPU accounting (nats-server, postgres, this process, machine) --------------------------
function pidsOf(name) {
  const out = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) out.push(entry);
    } catch {}
  }
  return out;
}
function ticks(pids) {
  let sum = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      sum += Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return sum * 10; // 100 Hz ticks -> ms
}
const natsPids = pidsOf("nats-server");
function snapshot() {
  const all = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const cpu = process.cpuUsage();
  return {
    at: performance.now(),
    nats: ticks(natsPids),
    pg: ticks(pidsOf("postgres")),
    self: (cpu.user + cpu.system) / 1000,
    total: all.reduce((a, b) => a + b, 0),
    idle: all[3] + (all[4] ?? 0),
  };
}
function cpuBetween(a, b) {
  const wall = b.at - a.at;
  const pct = (ms) => `${Math.round((100 * ms) / wall)}%`;
  const total = b.total - a.total;
  return {
    node: pct(b.self - a.self),
    nats: pct(b.nats - a.nats),
    pg: pct(b.pg - a.pg),
    machine: `${Math.round((100 * (total - (b.idle - a.idle))) / Math.max(1, total))}%`,
  };
}

function histogram() {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}
const us = (h, p) => (h.getValueAtPercentile(p) / 1000).toFixed(2); // µs -> ms

// ---- resources: everything created is removed on the way out --------------------------------
const catgaConn = await connectCatga("bench-js-catga");
const catga = new JetStream(catgaConn);
const nc = await connectNatsJs("bench-js-natsjs");
const jsm = await nc.jetstreamManager();
const streams = new Set();
let pool;
let schema;
let streamSeq = 0;
async function stream(storage) {
  const name = `BENCH_JS_${process.pid}_${++streamSeq}`;
  const subject = `bench.js.${process.pid}.${streamSeq}`;
  await catga.ensureStream({
    name,
    subjects: [`${subject}.>`],
    storage,
    maxBytes: 1024 * 1024 * 1024, // bound memory use of a long run (old messages are dropped)
  });
  streams.add(name);
  return { name, subject: `${subject}.evt` };
}
async function dropStream(name) {
  streams.delete(name);
  await catga.deleteStream(name).catch((e) => console.error(`delete ${name}: ${e}`));
}
async function cleanup() {
  for (const name of [...streams]) await dropStream(name);
  if (pool && schema) await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
  await pool?.end().catch(() => {});
  await nc.close().catch(() => {});
  await catgaConn.close?.().catch(() => {});
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    cleanup().finally(() => process.exit(130));
  });
}

// ---- 1. publish with ack -------------------------------------------------------------------
let idSeq = 0;
const nextId = () => `${TAG}-${++idSeq}`;

async function timed(run) {
  // run(state) loops while !state.stop; state.recording gates counting
  const state = {
    stop: false,
    recording: false,
    count: 0,
    sent: 0,
    errors: 0,
    firstError: undefined,
    h: histogram(),
  };
  const loops = run(state);
  await sleep(WARM_S * 1000);
  const s0 = snapshot();
  state.recording = true;
  await sleep(RUN_S * 1000);
  state.recording = false;
  const s1 = snapshot();
  state.stop = true;
  await loops;
  if (state.firstError) console.error(`  ${state.errors} errors, first: ${state.firstError}`);
  const seconds = (s1.at - s0.at) / 1000;
  return { rate: state.count / seconds, h: state.h, cpu: cpuBetween(s0, s1), errors: state.errors };
}

function catgaPublisher(subject, batch, callers) {
  return (state) =>
    Promise.all(
      Array.from({ length: callers }, async () => {
        while (!state.stop && state.sent < MAX_MSGS) {
          const items = new Array(batch);
          for (let i = 0; i < batch; i++)
            items[i] = { subject, messageId: nextId(), envelope: envelopes[state.sent++ & MASK] };
          const t0 = performance.now();
          const outcomes = await catga.publish(items);
          const t1 = performance.now();
          let ok = 0;
          for (const o of outcomes) {
            if (o.ok && !o.duplicate) ok++;
            else if (!o.ok) {
              state.errors++;
              state.firstError ??= `${o.code}: ${o.message}`;
            }
          }
          if (state.recording) {
            state.count += ok;
            state.h.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
          }
        }
      }),
    );
}

function natsjsWorkers(js, subject, workers) {
  return (state) =>
    Promise.all(
      Array.from({ length: workers }, async () => {
        while (!state.stop && state.sent < MAX_MSGS) {
          const data = envelopes[state.sent++ & MASK];
          const t0 = performance.now();
          try {
            const ack = await js.publish(subject, data, { msgID: nextId() });
            if (state.recording && !ack.duplicate) {
              state.count++;
              state.h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
            }
          } catch (error) {
            state.errors++;
            state.firstError ??= error;
          }
        }
      }),
    );
}

function natsjsBatches(js, subject, batch) {
  return async (state) => {
    while (!state.stop && state.sent < MAX_MSGS) {
      const t0 = performance.now();
      const acks = await Promise.allSettled(
        Array.from({ length: batch }, () =>
          js.publish(subject, envelopes[state.sent++ & MASK], { msgID: nextId() }),
        ),
      );
      const t1 = performance.now();
      let ok = 0;
      for (const a of acks) {
        if (a.status === "fulfilled" && !a.value.duplicate) ok++;
        else if (a.status === "rejected") {
          state.errors++;
          state.firstError ??= a.reason;
        }
      }
      if (state.recording) {
        state.count += ok;
        state.h.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
      }
    }
  };
}

async function benchPublish() {
  const js = nc.jetstream();
  const cases = [
    ["memory", "catga 64x1 (1 caller, publish(64) back to back)", "batch", (s) => catgaPublisher(s, 64, 1)],
    ["memory", "natsjs w64 (64 workers, 1 publish each in flight)", "msg", (s) => natsjsWorkers(js, s, 64)],
    ["memory", "catga 16x4 (4 callers, publish(16) each)", "batch", (s) => catgaPublisher(s, 16, 4)],
    ["memory", "natsjs 64x1 (Promise.all of 64 back to back)", "batch", (s) => natsjsBatches(js, s, 64)],
    ["memory", "catga 256x1 (reference: bigger batch)", "batch", (s) => catgaPublisher(s, 256, 1)],
    ["memory", "catga 1024x1 (reference: bigger batch)", "batch", (s) => catgaPublisher(s, 1024, 1)],
    ["file", "catga 64x1 (1 caller, publish(64) back to back)", "batch", (s) => catgaPublisher(s, 64, 1)],
    ["file", "natsjs w64 (64 workers, 1 publish each in flight)", "msg", (s) => natsjsWorkers(js, s, 64)],
  ];
  console.log(`\n## 1. publish with ack (${RUN_S} s after ${WARM_S} s warm-up each)`);
  console.log(
    "| storage | case | msgs/s | latency per | p50 ms | p99 ms | cpu node / nats / machine | load |",
  );
  console.log("| --- | --- | ---: | --- | ---: | ---: | --- | --- |");
  const results = {};
  for (const [storage, label, per, make] of cases) {
    const { name, subject } = await stream(storage);
    try {
      const r = await timed(make(subject));
      results[`${storage}:${label.split(" (")[0]}`] = r.rate;
      console.log(
        `| ${storage} | ${label} | ${fmt(r.rate)} | ${per} | ${us(r.h, 50)} | ${us(r.h, 99)} | ${r.cpu.node} / ${r.cpu.nats} / ${r.cpu.machine} | ${load()} |`,
      );
    } finally {
      await dropStream(name);
    }
  }
  const ratio = (a, b) => (results[a] / results[b]).toFixed(2);
  console.log(
    `bar (catga >= 2x natsjs at 64 in flight, memory): 64x1 ${ratio("memory:catga 64x1", "memory:natsjs w64")}x, 16x4 ${ratio("memory:catga 16x4", "memory:natsjs w64")}x; file 64x1 ${ratio("file:catga 64x1", "file:natsjs w64")}x`,
  );
}

// ---- 2. outbox relay -----------------------------------------------------------------------
async function benchRelay() {
  pool = new pg.Pool({ connectionString: PG_URL, max: 8 });
  schema = `bench_js_${process.pid}`;
  const migrated = await migrate(pool, { schema });
  const outbox = new PostgresOutbox({ schema });
  console.log(`\n## 2. outbox relay (${fmt(RELAY_ROWS)} rows; migrate → ${JSON.stringify(migrated)})`);
  console.log(
    "| relays × batchSize | insert rows/s | relay events/s | batches | publish share of relay wall | publish ms p50 / p99 | cpu node / nats / pg / machine | load |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |");
  const cases = [
    [1, 256],
    [1, 1024],
    [2, 256],
    [2, 1024],
  ];
  for (const [relays, batchSize] of cases) {
    await pool.query(`TRUNCATE ${schema}.catga_outbox`);
    const { name, subject } = await stream("memory");
    try {
      // insert: 4 transactions of RELAY_ROWS / 4 rows, one addMany each
      const tIns = performance.now();
      const per = RELAY_ROWS / 4;
      for (let t = 0; t < 4; t++) {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          const rows = Array.from({ length: per }, (_, i) => ({
            subject,
            messageId: nextId(),
            envelope: envelopes[(t * per + i) & MASK],
          }));
          await outbox.addMany(client, rows);
          await client.query("COMMIT");
        } finally {
          client.release();
        }
      }
      const insertRate = RELAY_ROWS / ((performance.now() - tIns) / 1000);
      await pool.query(`ANALYZE ${schema}.catga_outbox`);
      const publishH = histogram();
      let publishMs = 0;
      const publisher = {
        async publish(items) {
          const t0 = performance.now();
          const out = await catga.publish(items);
          const ms = performance.now() - t0;
          publishMs += ms;
          publishH.recordValue(Math.max(1, Math.round(ms * 1000)));
          return out;
        },
      };
      // The relay's pool, with every statement timed by kind (checkout, begin, claim, mark, commit).
      const step = { connect: 0, begin: 0, claim: 0, mark: 0, commit: 0, other: 0 };
      const kind = (sql) =>
        /^\s*BEGIN/i.test(sql)
          ? "begin"
          : /^\s*COMMIT/i.test(sql)
            ? "commit"
            : /^\s*SELECT id, message_id/i.test(sql)
              ? "claim"
              : /^\s*UPDATE/i.test(sql)
                ? "mark"
                : "other";
      const timedPool = {
        query: (...args) => pool.query(...args),
        async connect() {
          const t0 = performance.now();
          const client = await pool.connect();
          step.connect += performance.now() - t0;
          return new Proxy(client, {
            get(target, prop) {
              if (prop === "query")
                return async (sql, ...rest) => {
                  const t1 = performance.now();
                  try {
                    return await target.query(sql, ...rest);
                  } finally {
                    step[kind(String(sql))] += performance.now() - t1;
                  }
                };
              const value = Reflect.get(target, prop);
              return typeof value === "function" ? value.bind(target) : value;
            },
          });
        },
      };
      const errors = [];
      const workers = Array.from(
        { length: relays },
        () =>
          new OutboxRelay({
            pool: timedPool,
            publisher,
            schema,
            batchSize,
            channel: false, // rows are already committed; the loop claims at once and keeps going while batches are full
            pollIntervalMs: 50,
            cleanupSentOlderThanMs: Number.POSITIVE_INFINITY,
            onError: (e) => errors.push(e),
          }),
      );
      const s0 = snapshot();
      await Promise.all(workers.map((r) => r.start()));
      const deadline = performance.now() + DEADLINE_MS;
      const sent = () => workers.reduce((a, r) => a + r.stats.sent, 0);
      while (sent() < RELAY_ROWS && performance.now() < deadline) await sleep(2);
      const s1 = snapshot();
      await Promise.all(workers.map((r) => r.stop()));
      const pending = await workers[0].pending();
      const seconds = (s1.at - s0.at) / 1000;
      const batches = workers.reduce((a, r) => a + r.stats.batches, 0);
      const dup = workers.reduce((a, r) => a + r.stats.duplicates, 0);
      const c = cpuBetween(s0, s1);
      const info = await jsm.streams.info(name);
      if (pending !== 0 || info.state.messages !== RELAY_ROWS || errors.length > 0 || dup > 0)
        console.error(
          `  check: pending ${pending}, stream has ${info.state.messages}, duplicates ${dup}, errors ${errors.length} ${errors[0] ?? ""}`,
        );
      console.log(
        `| ${relays} × ${batchSize} | ${fmt(insertRate)} | ${fmt(sent() / seconds)} | ${batches} | ${Math.round((100 * publishMs) / (relays * seconds * 1000))}% | ${us(publishH, 50)} / ${us(publishH, 99)} | ${c.node} / ${c.nats} / ${c.pg} / ${c.machine} | ${load()} |`,
      );
      const share = (ms) => `${Math.round((100 * ms) / (relays * seconds * 1000))}%`;
      console.log(
        `  ${relays} × ${batchSize} relay wall (summed over relays): publish ${share(publishMs)}, claim SELECT ${share(step.claim)}, mark sent UPDATE ${share(step.mark)}, COMMIT ${share(step.commit)}, BEGIN ${share(step.begin)}, pool checkout ${share(step.connect)}, other ${share(step.other)}; per batch: claim ${(step.claim / batches).toFixed(2)} ms, mark ${(step.mark / batches).toFixed(2)} ms, commit ${(step.commit / batches).toFixed(2)} ms, publish ${(publishMs / batches).toFixed(2)} ms`,
      );
    } finally {
      await dropStream(name);
    }
  }
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  schema = undefined;
}

// ---- 3. consume end to end -----------------------------------------------------------------
async function benchConsume() {
  const { name, subject } = await stream("memory");
  const { AckPolicy } = await import("nats");
  try {
    const tPub = performance.now();
    for (let at = 0; at < CONSUME_N; at += 1024) {
      const n = Math.min(1024, CONSUME_N - at);
      const outcomes = await catga.publish(
        Array.from({ length: n }, (_, i) => ({
          subject,
          messageId: nextId(),
          envelope: envelopes[(at + i) & MASK],
        })),
      );
      if (outcomes.some((o) => !o.ok)) throw new Error("publish failed while filling the stream");
    }
    const pubRate = CONSUME_N / ((performance.now() - tPub) / 1000);
    console.log(
      `\n## 3. consume end to end (${fmt(CONSUME_N)} msgs, filled with Catga publish(1024) at ${fmt(pubRate)}/s)`,
    );
    console.log("| consumer | msgs/s (all seen) | all seen s | cpu node / nats / machine | load |");
    console.log("| --- | ---: | ---: | --- | --- |");

    const report = (label, seen, s0, s1) => {
      const c = cpuBetween(s0, s1);
      const seconds = (s1.at - s0.at) / 1000;
      if (seen < CONSUME_N)
        console.error(`  ${label}: only ${seen} of ${CONSUME_N} within ${DEADLINE_MS} ms`);
      console.log(
        `| ${label} | ${fmt(seen / seconds)} | ${seconds.toFixed(2)} | ${c.node} / ${c.nats} / ${c.machine} | ${load()} |`,
      );
    };

    // Catga
    {
      let seen = 0;
      let done;
      const all = new Promise((r) => {
        done = r;
      });
      // Where a batch's time goes: the JS side (from the batch's first handler call to the next
      // macrotask; decode + handlers) vs the gap until the next batch (Rust: settle the previous
      // batch's acks, then fetch).
      const jsH = histogram();
      const gapH = histogram();
      let inBatch = false;
      let batchAt = 0;
      let lastEnd = 0;
      const s0 = snapshot();
      const stop = await catga.consume(
        { stream: name, durable: "catga", batch: 256, ackWaitMs: 60_000 },
        () => {
          if (!inBatch) {
            inBatch = true;
            batchAt = performance.now();
            if (lastEnd > 0) gapH.recordValue(Math.max(1, Math.round((batchAt - lastEnd) * 1000)));
            setImmediate(() => {
              inBatch = false;
              lastEnd = performance.now();
              jsH.recordValue(Math.max(1, Math.round((lastEnd - batchAt) * 1000)));
            });
          }
          if (++seen === CONSUME_N) done();
        },
      );
      await Promise.race([all, sleep(DEADLINE_MS)]);
      const s1 = snapshot();
      await stop();
      report("catga JetStream.consume (batch 256, ack confirmed)", seen, s0, s1);
      console.log(
        `  catga batches: ${jsH.totalCount}; JS part per batch p50 ${us(jsH, 50)} ms (p99 ${us(jsH, 99)}); gap to the next batch (settle acks + fetch, Rust) p50 ${us(gapH, 50)} ms (p99 ${us(gapH, 99)})`,
      );
    }

    // nats.js, ack() and ackAck()
    const js = nc.jetstream();
    for (const [durable, label, confirmed] of [
      ["natsjs_ack", "natsjs consumer.consume (256, m.ack())", false],
      ["natsjs_ackack", "natsjs consumer.consume (256, await m.ackAck())", true],
    ]) {
      await jsm.consumers.add(name, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        ack_wait: 60e9,
      });
      const s0 = snapshot();
      const consumer = await js.consumers.get(name, durable);
      const messages = await consumer.consume({ max_messages: 256 });
      let seen = 0;
      const timer = setTimeout(() => messages.stop(), DEADLINE_MS);
      for await (const m of messages) {
        if (confirmed) await m.ackAck();
        else m.ack();
        if (++seen === CONSUME_N) break;
      }
      const s1 = snapshot();
      clearTimeout(timer);
      messages.stop();
      report(label, seen, s0, s1);
    }

    // nats.js fetch(256), then every ack of the batch confirmed concurrently: Catga's
    // semantics (fetch, handle, ack with confirmation, fetch again) with the acks pipelined.
    {
      await jsm.consumers.add(name, {
        durable_name: "natsjs_fetch",
        ack_policy: AckPolicy.Explicit,
        ack_wait: 60e9,
      });
      const s0 = snapshot();
      const consumer = await js.consumers.get(name, "natsjs_fetch");
      const deadline = performance.now() + DEADLINE_MS;
      let seen = 0;
      while (seen < CONSUME_N && performance.now() < deadline) {
        const batch = await consumer.fetch({ max_messages: 256, expires: 1000 });
        const acks = [];
        for await (const m of batch) {
          seen++;
          acks.push(m.ackAck());
        }
        await Promise.all(acks);
      }
      const s1 = snapshot();
      report("natsjs fetch(256) + Promise.all(ackAck) per batch", seen, s0, s1);
    }
  } finally {
    await dropStream(name);
  }
}

// ---- 4. per-key ordered consumption ----------------------------------------------------------
async function benchOrder() {
  const { name, subject } = await stream("memory");
  try {
    for (let at = 0; at < ORDER_N; at += 1024) {
      const n = Math.min(1024, ORDER_N - at);
      const outcomes = await catga.publish(
        Array.from({ length: n }, (_, i) => ({
          subject,
          messageId: nextId(),
          envelope: envelopes[(at + i) & MASK],
        })),
      );
      if (outcomes.some((o) => !o.ok)) throw new Error("publish failed while filling the stream");
    }
    console.log(
      `\n## 4. per-key order (${fmt(ORDER_N)} msgs, ${ORDER_KEYS} keys = a hash of the stream sequence, ${ORDER_ROUNDS} rounds)`,
    );
    console.log(
      "| round | run | msgs/s (all handled) | s | inversions | keys with one | handler calls | cpu node / nats / machine | load |",
    );
    console.log("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |");
    // Keys and failures are spread by two different hashes of the sequence, so a key's messages
    // are scattered through the stream (some close together, some far apart).
    const mix = (x, k) => {
      let h = Math.imul(x ^ (x >>> 16), k) >>> 0;
      h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
      return (h ^ (h >>> 15)) >>> 0;
    };
    const keyNumber = (seq) => mix(seq, 0x45d9f3b) % ORDER_KEYS;
    const keyOf = (m) => String(keyNumber(m.streamSequence));
    const runs = [
      ["unordered", {}, false],
      ["orderBy, 1,000 keys", { orderBy: keyOf }, false],
      ["orderBy, 1,000 keys, 10 % fail once", { orderBy: keyOf, backoffMs: [50] }, true],
    ];
    const rates = new Map(runs.map(([label]) => [label, []]));
    let durableSeq = 0;
    for (let round = 1; round <= ORDER_ROUNDS; round++) {
      for (const [label, extra, failing] of runs) {
        const done = new Set();
        const lastByKey = new Map();
        const keysInverted = new Set();
        const failedOnce = new Set();
        let inversions = 0;
        let calls = 0;
        let finish;
        const all = new Promise((r) => {
          finish = r;
        });
        const s0 = snapshot();
        const stop = await catga.consume(
          {
            stream: name,
            durable: `order${++durableSeq}`,
            batch: 256,
            ackWaitMs: 60_000,
            maxDeliver: 5,
            ...extra,
          },
          (m) => {
            calls++;
            const seq = m.streamSequence;
            // 10 % of messages (by a hash of the sequence) fail their first handler call.
            if (failing && mix(seq, 0x2c1b3c6d) % 10 === 0 && !failedOnce.has(seq)) {
              failedOnce.add(seq);
              throw new Error("transient");
            }
            const key = keyNumber(seq);
            const last = lastByKey.get(key) ?? 0;
            if (seq < last && !done.has(seq)) {
              inversions++;
              keysInverted.add(key);
            }
            if (seq > last) lastByKey.set(key, seq);
            done.add(seq);
            if (done.size === ORDER_N) finish();
          },
        );
        await Promise.race([all, sleep(DEADLINE_MS)]);
        const s1 = snapshot();
        await stop();
        const seconds = (s1.at - s0.at) / 1000;
        if (done.size < ORDER_N)
          console.error(`  ${label}: only ${done.size} of ${ORDER_N} within ${DEADLINE_MS} ms`);
        const rate = done.size / seconds;
        rates.get(label).push(rate);
        const c = cpuBetween(s0, s1);
        console.log(
          `| ${round} | ${label} | ${fmt(rate)} | ${seconds.toFixed(2)} | ${inversions} | ${keysInverted.size} | ${fmt(calls)} | ${c.node} / ${c.nats} / ${c.machine} | ${load()} |`,
        );
      }
    }
    const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    const unordered = rates.get("unordered");
    for (const [label] of runs.slice(1)) {
      const ratios = rates.get(label).map((r, i) => r / unordered[i]);
      console.log(`${label} / unordered, median of per-round ratios: ${median(ratios).toFixed(2)}`);
    }
  } finally {
    await dropStream(name);
  }
}

// ---- run -----------------------------------------------------------------------------------
console.log(
  `# jetstream bench ${new Date().toISOString()} node ${process.version} ${os.cpus().length} cpus, load ${load()}, nats ${NATS_URL} (server ${nc.info?.version}), ${process.argv.slice(2).join(" ")}`,
);
try {
  if (ONLY.includes("pub")) await benchPublish();
  if (ONLY.includes("relay")) await benchRelay();
  if (ONLY.includes("consume")) await benchConsume();
  if (ONLY.includes("order")) await benchOrder();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
