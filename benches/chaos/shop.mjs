// The e-commerce shop of examples/ecommerce as the orders suites run it (benches/chaos-orders.mjs,
// benches/load-orders.mjs): each service its own process (`node --import ./examples/ts-hooks.mjs`),
// started with the suite's environment, ready when it prints `ready`; stopped by its PID (SIGTERM,
// SIGKILL after 10 s), SIGKILLed if the suite exits first. Also the streams the shop uses, for a
// suite that creates them itself (ECOMMERCE_STREAMS=external), and the order bodies the suites post
// with how each must end.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { JetStream } from "../../dist/jetstream.js";
import { NatsConnection } from "../../dist/nats.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Order bodies posted in turn, and how each must end (examples/ecommerce/scenario.ts). */
export const ORDER_KINDS = {
  /** One tea, a good card: confirmed (or out of stock once the tea is gone). */
  tea: { customer: "c-1", sku: "tea", qty: 1, paymentToken: "tok_visa", country: "NL" },
  /** One mug, a declined card: PAYMENT_DECLINED, the mug released. */
  declined: { customer: "c-2", sku: "mug", qty: 1, paymentToken: "tok_chargeDeclined", country: "DE" },
  /** Two tea to Atlantis: SHIPPING_UNREACHABLE, refunded and released. */
  atlantis: { customer: "c-3", sku: "tea", qty: 2, paymentToken: "tok_visa", country: "Atlantis" },
};

/**
 * How an order row must end, told by its amount (one kind each: one tea 450, one mug 1200, two tea
 * 900). A saga step that failed for want of an answer (a CATGA_* code: its request timed out, or
 * found no responder past the retries, while NATS was broken) cancels the order whatever its kind: still one terminal state, with what was
 * done undone, so it is accepted as that ending and counted apart in the reports.
 */
export function expectedEnd(row) {
  if (row.reason?.startsWith("CATGA_")) return row.reason;
  if (row.amount === 1200) return "PAYMENT_DECLINED";
  if (row.amount === 900) return "SHIPPING_UNREACHABLE";
  return "scarce";
}

export class Shop {
  /** `env`: what every service gets on top of this process's environment (prefix, schema, NATS). */
  constructor(env) {
    this.env = env;
    this.services = new Map();
    /** Lines each service wrote on stderr (the first few are shown). */
    this.stderrLines = {};
    process.on("exit", () => this.killAll());
  }

  /** The child process of the service started as `label`. */
  child(label) {
    return this.services.get(label)?.child;
  }

  /** Starts examples/ecommerce/`script`.ts as `label`; resolves once it printed `ready` (the gateway: its URL). */
  start(label, script) {
    const child = spawn(
      process.execPath,
      [
        "--import",
        join(root, "examples", "ts-hooks.mjs"),
        join(root, "examples", "ecommerce", `${script}.ts`),
      ],
      { env: { ...process.env, ...this.env }, stdio: ["pipe", "pipe", "pipe"] },
    );
    this.services.set(label, { child, script });
    this.stderrLines[label] ??= 0;
    createInterface({ input: child.stderr }).on("line", (line) => {
      if (this.stderrLines[label]++ < 3) console.error(`[${label}] ${line}`);
    });
    return new Promise((resolve, reject) => {
      // Generous: on a loaded machine six processes transpiling and connecting at once are slow.
      const timer = setTimeout(() => reject(new Error(`${label} not ready within 90 s`)), 90_000);
      child.once("exit", (code, signal) =>
        reject(new Error(`${label} exited (${code ?? signal}) before ready`)),
      );
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (!line.startsWith("ready")) return;
        clearTimeout(timer);
        resolve(line.slice(6));
      });
    });
  }

  /** Starts the gateway and the services (`orders` instances as asked); resolves with the gateway's URL. */
  async startAll(ordersInstances = 1) {
    const orders = Array.from({ length: ordersInstances }, (_, i) =>
      this.start(ordersInstances === 1 ? "orders" : `orders-${"abcdefgh"[i]}`, "orders"),
    );
    const [gatewayUrl] = await Promise.all([
      this.start("gateway", "gateway"),
      ...orders,
      this.start("payments", "payments"),
      this.start("inventory", "inventory"),
      this.start("shipping", "shipping"),
    ]);
    return gatewayUrl;
  }

  /** Whether every service process is still running. */
  alive() {
    return Object.fromEntries(
      [...this.services].map(([label, { child }]) => [
        label,
        child.exitCode === null && child.signalCode === null,
      ]),
    );
  }

  /** "label pid, …" of the running services. */
  pids() {
    return [...this.services].map(([label, s]) => `${label} ${s.child.pid}`).join(", ");
  }

  /** SIGTERM to a service's PID, SIGKILL after 10 s; resolves once it has exited. */
  async stop(label) {
    const child = this.child(label);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops every service, one by one. */
  async stopAll() {
    for (const label of [...this.services.keys()]) await this.stop(label);
  }

  /** SIGKILLs every service still running (synchronous: for process exit). */
  killAll() {
    for (const { child } of this.services.values())
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/** The streams the shop uses under `prefix` (names as the transport derives them). */
export function shopStreams(prefix, settings) {
  const base = prefix.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  return [
    { ...settings, name: `${base}_EVENTS`, subjects: [`${prefix}.evt.>`] },
    { ...settings, name: `${base}_EVENTS_DLQ`, subjects: [`${prefix}.dlq.>`] },
    { ...settings, name: `${base}_COMMANDS`, subjects: [`${prefix}.dcmd.>`], retention: "workqueue" },
    { ...settings, name: `${base}_COMMANDS_DLQ`, subjects: [`${prefix}.dcmd-dlq.>`] },
    {
      ...settings,
      name: `${base}_COMMANDS_RESULTS`,
      subjects: [`${prefix}.dres.>`],
      retention: "limits",
      maxAgeMs: 5 * 60_000,
    },
  ];
}

/** Creates `streams` on the servers at `urls`, retrying while a new cluster elects its leaders (30 s). */
export async function createStreams(urls, streams) {
  const connection = await NatsConnection.connect({ servers: urls });
  try {
    const jetstream = new JetStream(connection);
    const until = Date.now() + 30_000;
    for (const stream of streams) {
      for (;;) {
        try {
          await jetstream.ensureStream(stream);
          break;
        } catch (error) {
          if (Date.now() > until) throw error;
          await sleep(250);
        }
      }
    }
  } finally {
    await connection.close();
  }
}

/** Removes `streams` (by name) from the servers at `urls`; a missing one is fine. */
export async function removeStreams(urls, streams) {
  const connection = await NatsConnection.connect({ servers: urls });
  try {
    const jetstream = new JetStream(connection);
    for (const { name } of streams) await jetstream.deleteStream(name).catch(() => false);
  } finally {
    await connection.close();
  }
}
