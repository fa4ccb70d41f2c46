// Wire-core bench: the Rust addon (through the TS facade in dist/) vs pure-JS msgpackr for
// building and decoding 128-message batches (256 B payloads) and single envelopes.
//
//   npm run build:ts && npm run bench:core        (BENCH_TIME=ms per task, default 1500)
//
// What each side does, so the comparison is fair:
// - Both start from the same envelope objects and end with the same kind of thing: a Buffer
//   (encode) or an array of envelopes whose payloads are zero-copy views into the input (decode).
// - addon encodeBatch: objects -> one N-API call -> CTG1 frame.
// - addon frameEncoded: msgpackr packs each envelope array in JS, one N-API call frames them.
// - addon decodeBatch: one N-API call -> facade objects (`decodeBatchNative` is the raw binding,
//   listed to show what the facade's second pass costs).
// - msgpackr: objects -> array of 128 envelope arrays -> pack; unpack gives arrays; "-> objects"
//   also maps them to envelope objects like decodeBatch returns.
// - "CTG1 split in JS": decodes the addon's own frame with JS reading the length prefixes and
//   msgpackr unpacking each envelope (the addon only inflates a zstd body): bytes cross N-API,
//   objects are built in JS.
// - The last section times single cheap calls, to separate the cost of crossing N-API from the
//   cost of converting objects.
// - zstd on: the addon compresses above 1024 B (level 1, only when smaller). Node 20 has no zstd,
//   so pure msgpackr appears only uncompressed (zstd-off section); in the zstd-on section the JS
//   side is the hybrid "msgpackr + addon zstd": pack in JS, then compress the whole packed body
//   with the addon's zstdCompress (one crossing, same zstd and level), for fairness.
// - Every 32 iterations the event loop gets one turn (an untimed afterEach hook), as it would
//   between flushes in a server. Node runs N-API finalizers from the event loop, so a tight
//   synchronous loop would keep every Buffer the addon returned alive (RSS grows by GBs);
//   BENCH_NO_YIELD=1 turns this off to see that.
// Ops/s is 1000 / mean latency (not tinybench's mean of per-sample rates).

import { Packr } from "msgpackr";
import { Bench } from "tinybench";
import { loadNativeBinding } from "../dist/internal.js";
import {
  decodeBatch,
  decodeEnvelope,
  encodeBatch,
  encodeEnvelope,
  frameEncoded,
  HashRing,
  zstdCompress,
  zstdDecompress,
} from "../dist/wire.js";

const BATCH = 128;
const PAYLOAD_BYTES = 256;
const TIME = Number(process.env.BENCH_TIME ?? 1500);
const WARMUP = Math.min(300, TIME);
const YIELD_EVERY = process.env.BENCH_NO_YIELD === "1" ? 0 : 32;

const KINDS = ["command", "query", "event", "reply", "error"];
const KIND_CODE = Object.fromEntries(KINDS.map((k, i) => [k, i]));

// Deterministic data so runs are comparable.
let seed = 0x2f6e2b1;
function rand() {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed;
}
const hex = (n) => Array.from({ length: n }, () => (rand() & 15).toString(16)).join("");
const uuidLike = () =>
  `${hex(8)}-${hex(4)}-7${hex(3)}-${(8 + (rand() & 3)).toString(16)}${hex(3)}-${hex(12)}`;

/** An order-placed JSON document, padded with a note to exactly `size` bytes. */
function jsonPayload(i, size) {
  const doc = {
    orderId: `ord-${100000 + i}`,
    customerId: `cus-${rand() % 90000}`,
    lines: [
      { sku: `SKU-${rand() % 1000}`, qty: 1 + (rand() % 5), price: (rand() % 10000) / 100 },
      { sku: `SKU-${rand() % 1000}`, qty: 1 + (rand() % 5), price: (rand() % 10000) / 100 },
    ],
    currency: "EUR",
    note: "",
  };
  const base = Buffer.byteLength(JSON.stringify(doc));
  doc.note = "leave at the door, ring twice; ".repeat(10).slice(0, size - base);
  const bytes = Buffer.from(JSON.stringify(doc));
  if (bytes.length !== size) throw new Error(`payload is ${bytes.length} B, wanted ${size}`);
  return bytes;
}

const correlationId = uuidLike();
const envelopes = Array.from({ length: BATCH }, (_, i) => ({
  kind: "event",
  type: "orders.placed",
  messageId: uuidLike(),
  correlationId,
  causationId: uuidLike(),
  createdAtMs: 1_764_028_800_000 + i,
  headers: { traceparent: `00-${hex(32)}-${hex(16)}-01` },
  codec: "json",
  payload: jsonPayload(i, PAYLOAD_BYTES),
}));

// Standard MessagePack (no record extension) so Rust can read what msgpackr writes; 64-bit
// integers (Rust writes createdAtMs as one) decode as numbers, not BigInt.
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: "number" });

const toArray = (e) => [
  1,
  KIND_CODE[e.kind],
  e.type,
  e.messageId,
  e.correlationId ?? null,
  e.causationId ?? null,
  e.createdAtMs ?? 0,
  e.headers ?? {},
  e.codec ?? "msgpack",
  e.payload,
];
const fromArray = (a) => ({
  kind: KINDS[a[1]],
  type: a[2],
  messageId: a[3],
  ...(a[4] == null ? {} : { correlationId: a[4] }),
  ...(a[5] == null ? {} : { causationId: a[5] }),
  createdAtMs: a[6],
  headers: a[7],
  codec: a[8],
  payload: a[9],
});

const jsEncodeBatch = (envs) => packr.pack(envs.map(toArray));
const jsDecodeBatch = (bytes) => packr.unpack(bytes);
const jsDecodeBatchObjects = (bytes) => packr.unpack(bytes).map(fromArray);

/**
 * Reads a CTG1 frame in JS (zstd body through the addon) and unpacks each envelope with
 * msgpackr: what decoding costs when the addon hands JS bytes instead of objects.
 */
function splitFrameAndUnpack(frame) {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = view.getUint32(6, true);
  let body = frame.subarray(10);
  if (frame[5] & 1) body = zstdDecompress(frame.subarray(14), view.getUint32(10, true));
  const bodyView = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out = new Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = bodyView.getUint32(at, true);
    out[i] = fromArray(packr.unpack(body.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return out;
}
const frameViaMsgpackr = (envs, options) =>
  frameEncoded(
    envs.map((e) => packr.pack(toArray(e))),
    options,
  );

const OFF = { compressionThreshold: Number.POSITIVE_INFINITY };
const ON = { compressionThreshold: 1024 };
const MAX_DECOMPRESSED = 16 * 1024 * 1024;
const rawDecodeBatch = loadNativeBinding().decodeBatchNative;

// Sanity: every path round-trips to the same envelopes before anything is timed.
function checkOne(label, a, b) {
  for (const key of ["kind", "type", "messageId", "correlationId", "causationId", "createdAtMs", "codec"]) {
    if (a[key] !== b[key]) throw new Error(`${label}: ${key} ${b[key]} != ${a[key]}`);
  }
  if (a.headers.traceparent !== b.headers.traceparent) throw new Error(`${label}: headers`);
  if (!Buffer.from(a.payload).equals(Buffer.from(b.payload))) throw new Error(`${label}: payload`);
}
function check(label, decoded) {
  if (decoded.length !== BATCH) throw new Error(`${label}: ${decoded.length} messages`);
  for (let i = 0; i < BATCH; i++) checkOne(`${label} message ${i}`, envelopes[i], decoded[i]);
}
const frames = {
  off: encodeBatch(envelopes, OFF),
  on: encodeBatch(envelopes, ON),
  msgpackrFramedOff: frameViaMsgpackr(envelopes, OFF),
  msgpackrFramedOn: frameViaMsgpackr(envelopes, ON),
  js: jsEncodeBatch(envelopes),
};
frames.jsZstd = zstdCompress(frames.js);
check("addon off", decodeBatch(frames.off));
check("addon on", decodeBatch(frames.on));
check("msgpackr-framed off", decodeBatch(frames.msgpackrFramedOff));
check("msgpackr-framed on", decodeBatch(frames.msgpackrFramedOn));
check("msgpackr", jsDecodeBatchObjects(frames.js));
check("CTG1 split in JS", splitFrameAndUnpack(frames.off));
check("CTG1 split in JS, zstd", splitFrameAndUnpack(frames.on));
check("msgpackr+zstd", jsDecodeBatchObjects(zstdDecompress(frames.jsZstd, MAX_DECOMPRESSED)));
if (frames.on.readUInt8(5) !== 1) throw new Error("zstd-on frame is not compressed");
if (frames.off.readUInt8(5) !== 0) throw new Error("zstd-off frame is compressed");
const single = envelopes[0];
const singleNative = encodeEnvelope(single);
const singleJs = packr.pack(toArray(single));
checkOne("single addon", single, decodeEnvelope(singleNative));
checkOne("single msgpackr", single, fromArray(packr.unpack(singleJs)));
checkOne("single msgpackr -> addon", single, decodeEnvelope(singleJs));

const ring = new HashRing();
for (let i = 0; i < 16; i++) ring.addNode(`node-${i}`);
const tiny = Buffer.from("0123456789abcdef");
const tinyZstd = zstdCompress(tiny);
const preEncoded = envelopes.map((e) => packr.pack(toArray(e)));

let sink = 0;
const sections = [
  {
    title: "128 × 256 B batch, zstd off",
    perOp: BATCH,
    tasks: {
      "addon encodeBatch": () => encodeBatch(envelopes, OFF).length,
      "addon frameEncoded(msgpackr per envelope)": () => frameViaMsgpackr(envelopes, OFF).length,
      "msgpackr pack": () => jsEncodeBatch(envelopes).length,
      "addon decodeBatch": () => decodeBatch(frames.off).length,
      "addon decodeBatchNative (raw binding)": () => rawDecodeBatch(frames.off).messages.length,
      "CTG1 split in JS + msgpackr unpack per envelope": () => splitFrameAndUnpack(frames.off).length,
      "msgpackr unpack (arrays)": () => jsDecodeBatch(frames.js).length,
      "msgpackr unpack -> objects": () => jsDecodeBatchObjects(frames.js).length,
      "addon round trip": () => decodeBatch(encodeBatch(envelopes, OFF)).length,
      "msgpackr round trip (-> objects)": () => jsDecodeBatchObjects(jsEncodeBatch(envelopes)).length,
    },
  },
  {
    title: "128 × 256 B batch, zstd on (threshold 1024, level 1)",
    perOp: BATCH,
    tasks: {
      "addon encodeBatch": () => encodeBatch(envelopes, ON).length,
      "addon frameEncoded(msgpackr per envelope)": () => frameViaMsgpackr(envelopes, ON).length,
      "msgpackr pack + addon zstdCompress": () => zstdCompress(jsEncodeBatch(envelopes)).length,
      "addon decodeBatch": () => decodeBatch(frames.on).length,
      "addon decodeBatchNative (raw binding)": () => rawDecodeBatch(frames.on).messages.length,
      "addon zstdDecompress + CTG1 split in JS + msgpackr unpack per envelope": () =>
        splitFrameAndUnpack(frames.on).length,
      "addon zstdDecompress + msgpackr unpack -> objects": () =>
        jsDecodeBatchObjects(zstdDecompress(frames.jsZstd, MAX_DECOMPRESSED)).length,
      "addon round trip": () => decodeBatch(encodeBatch(envelopes, ON)).length,
      "msgpackr + addon zstd round trip (-> objects)": () =>
        jsDecodeBatchObjects(zstdDecompress(zstdCompress(jsEncodeBatch(envelopes)), MAX_DECOMPRESSED)).length,
    },
  },
  {
    title: "single envelope (256 B payload)",
    perOp: 1,
    tasks: {
      "addon encodeEnvelope": () => encodeEnvelope(single).length,
      "msgpackr pack": () => packr.pack(toArray(single)).length,
      "addon decodeEnvelope": () => decodeEnvelope(singleNative).messageId.length,
      "msgpackr unpack -> object": () => fromArray(packr.unpack(singleJs)).messageId.length,
    },
  },
  {
    title: "what one N-API crossing costs",
    perOp: 1,
    tasks: {
      "HashRing.lookup (string in, string out)": () => ring.lookup("order-42")?.length ?? 0,
      "zstdCompress(16 B)": () => zstdCompress(tiny).length,
      "zstdDecompress(16 B)": () => zstdDecompress(tinyZstd, 1024).length,
      // 128 messages per call: msgs/s is per message here.
      "frameEncoded(128 pre-encoded envelopes), zstd off": {
        fn: () => frameEncoded(preEncoded, OFF).length,
        perOp: BATCH,
      },
    },
  },
];

const fmt = (n, digits = 2) =>
  n >= 1000 ? Math.round(n).toLocaleString("en-US") : n.toFixed(n >= 100 ? 0 : digits);

console.log(`# core.bench.mjs — node ${process.version}, ${process.arch}, ${BENCH_INFO()}`);
console.log(
  `frame sizes (bytes): addon off ${frames.off.length}, addon zstd ${frames.on.length}, ` +
    `msgpackr-framed off ${frames.msgpackrFramedOff.length}, msgpackr-framed zstd ${frames.msgpackrFramedOn.length}, ` +
    `msgpackr ${frames.js.length}, msgpackr + zstd ${frames.jsZstd.length}; ` +
    `single envelope: addon ${singleNative.length}, msgpackr ${singleJs.length}`,
);

for (const section of sections) {
  const bench = new Bench({ time: TIME, warmupTime: WARMUP, warmupIterations: 16, throws: true });
  const perOp = {};
  for (const [name, task] of Object.entries(section.tasks)) {
    const fn = typeof task === "function" ? task : task.fn;
    perOp[name] = typeof task === "function" ? section.perOp : task.perOp;
    let iteration = 0;
    bench.add(
      name,
      () => {
        sink += fn();
      },
      {
        afterEach: async () => {
          if (YIELD_EVERY > 0 && ++iteration % YIELD_EVERY === 0) await new Promise(setImmediate);
        },
      },
    );
  }
  await bench.run();
  console.log(`\n### ${section.title}\n`);
  console.log("| case | ops/s | mean µs | p99 µs | msgs/s | samples |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== "completed") throw new Error(`${task.name}: ${r.state} ${r.error ?? ""}`);
    const meanMs = r.latency.mean;
    const ops = 1000 / meanMs;
    console.log(
      `| ${task.name} | ${fmt(ops)} | ${fmt(meanMs * 1000)} | ${fmt(r.latency.p99 * 1000)} | ${fmt(ops * perOp[task.name])} | ${r.latency.samplesCount} |`,
    );
  }
}
if (sink === 0) console.log("(sink)");
console.log(`\npeak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);

function BENCH_INFO() {
  const turns = YIELD_EVERY > 0 ? `event-loop turn every ${YIELD_EVERY} iterations` : "no event-loop turns";
  return `BENCH_TIME ${TIME} ms/task, warmup ${WARMUP} ms, ${turns}`;
}
