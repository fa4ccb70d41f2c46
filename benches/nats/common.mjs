// Shared pieces of the NATS benchmark (benches/nats.bench.mjs) and its child processes.
//
// Engine-level pieces (the "engine ceiling" rows, the RSS phase, the probes): both sides put the
// SAME bytes on the wire per message: a Catga envelope (msgpack array, see
// docs/architecture/overview.md) whose payload is 256 random bytes. Catga needs an envelope (its
// subscriptions check every one in Rust); nats.js is handed the identical Buffer as its raw
// payload and never decodes it, so it does strictly less work per message. Payloads are random
// and every message in a pool differs, so zstd (on above 1 KiB frames, only when it wins) cannot
// make Catga's frames smaller than the plain bytes — no compression advantage is measured.

import { randomBytes } from "node:crypto";
import { Packr } from "msgpackr";

/** Only the local server is ever targeted. */
export const NATS_HOST = "127.0.0.1";
export const NATS_PORT = Number(process.env.NATS_PORT ?? 4222);
export const NATS_URL = `nats://${NATS_HOST}:${NATS_PORT}`;

export const PAYLOAD_BYTES = 256;
/** Distinct envelopes cycled through by senders (a power of two). */
export const POOL = 1024;

const packr = new Packr({ useRecords: false, int64AsType: "number" });
const KIND = { command: 0, query: 1, event: 2, reply: 3, error: 4 };

function uuidLike() {
  const h = randomBytes(16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A 256-byte payload: random bytes (default; incompressible, the worst case for the zstd
 * attempt) or, with BENCH_PAYLOAD=json, an order-like JSON document that differs per message and
 * compresses the way typical application payloads do.
 */
function payload() {
  if (process.env.BENCH_PAYLOAD !== "json") return randomBytes(PAYLOAD_BYTES);
  const r = randomBytes(8).readUInt32LE(0);
  const doc = JSON.stringify({
    orderId: uuidLike(),
    customerId: `cust-${r % 100000}`,
    status: "placed",
    currency: "EUR",
    items: [
      { sku: `SKU-${r % 9973}`, qty: (r % 5) + 1, price: (r % 10000) / 100 },
      { sku: `SKU-${(r >>> 8) % 9973}`, qty: 1, price: ((r >>> 4) % 5000) / 100 },
    ],
    note: "",
  });
  return Buffer.from(doc.replace('"note":""', `"note":"${"x".repeat(PAYLOAD_BYTES - doc.length)}"`));
}

/** `count` distinct version-1 envelopes of `kind`, each with a 256-byte payload (see payload()). */
export function makeEnvelopes(kind, type, count = POOL) {
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = packr.pack([
      1,
      KIND[kind],
      type,
      uuidLike(),
      kind === "reply" ? uuidLike() : null,
      null,
      Date.now(),
      {},
      "msgpack",
      payload(),
    ]);
  }
  return out;
}

/**
 * Catga (Rust engine) connection from the built facade. CATGA_OPTS (JSON, e.g.
 * '{"batch":{"maxMessages":512}}' or '{"compressionThreshold":1e308}') is merged into the options
 * of every Catga connection of the run, children included, to try settings without editing code.
 */
export async function connectCatga(name, extra = {}) {
  const { NatsConnection } = await import("../../dist/nats.js");
  return NatsConnection.connect({ servers: NATS_URL, name, ...extra, ...catgaOverrides() });
}

/** CATGA_OPTS as connection options (also merged into the user-API rows' `natsTransport` options). */
export function catgaOverrides() {
  const overrides = JSON.parse(process.env.CATGA_OPTS ?? "{}");
  if (overrides.compressionThreshold >= 1e308) overrides.compressionThreshold = Number.POSITIVE_INFINITY;
  return overrides;
}

/**
 * nats.js (v2) connection. The "natsjs raw" rows pass NATSJS_FAST; the engine-era children
 * (subscriber.mjs, responder.mjs, rss.mjs) connect with the defaults.
 */
export async function connectNatsJs(name, extra = {}) {
  const { connect } = await import("nats");
  return connect({ servers: `${NATS_HOST}:${NATS_PORT}`, name, ...extra });
}

/** nats.js's own speed advice: no async stack traces on requests (`noAsyncTraces`). */
export const NATSJS_FAST = { noAsyncTraces: true };

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Child side of the parent/child protocol: exit when the parent goes away, whatever happens. */
export function guardChild() {
  process.on("disconnect", () => process.exit(0));
  process.on("uncaughtException", (error) => {
    process.send?.({ type: "error", message: String(error?.stack ?? error) });
    process.exit(1);
  });
  process.on("unhandledRejection", (error) => {
    process.send?.({ type: "error", message: String(error?.stack ?? error) });
    process.exit(1);
  });
}

/** One JSON line for a probe: messages, rate, and `cpu` (a `process.cpuUsage` diff) per message. */
export function reportCpuPerMessage(messages, seconds, cpu) {
  const perMessage = (us) => +(us / messages).toFixed(3);
  console.log(
    JSON.stringify({
      messages,
      msgsPerSec: Math.round(messages / seconds),
      cpuUsPerMsg: perMessage(cpu.user + cpu.system),
      userUs: perMessage(cpu.user),
      systemUs: perMessage(cpu.system),
    }),
  );
}
