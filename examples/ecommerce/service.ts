// What every service process of the shop shares: where the servers are, its connections, and how
// it tells the launcher it is ready and stops when asked (SIGTERM) or orphaned (stdin closes).
import pg from "pg";
import { consoleLogger } from "../../dist/index.js";
import { type NatsTransport, natsTransport } from "../../dist/nats.js";
import { DATABASE_URL, NATS_URL, needs } from "../services.js";

/** The NATS subject prefix and stream names of this shop; the test gives each run its own. */
export const PREFIX = process.env.CATGA_PREFIX ?? "ecommerce";
/** The PostgreSQL schema every table of the shop lives in; the launcher recreates it per run. */
export const SCHEMA = process.env.CATGA_SCHEMA ?? "catga_ecommerce";

/** Warnings and errors on stderr (the launcher prefixes them with the service's name). */
export const logger = consoleLogger({ level: "warn" });

/**
 * Whether the services create the JetStream streams themselves (the default). The chaos suite
 * (benches/chaos-orders.mjs) creates them beforehand with three replicas on its NATS cluster and
 * sets `ECOMMERCE_STREAMS=external`: the services then use them as they are.
 */
const provision = process.env.ECOMMERCE_STREAMS !== "external";
/**
 * How long a message taken by an instance that died waits before another instance gets it (ms);
 * the JetStream default (30 s) unless `ECOMMERCE_ACK_WAIT_MS` says otherwise (the chaos suite).
 */
const ackWait = process.env.ECOMMERCE_ACK_WAIT_MS
  ? { ackWaitMs: Number(process.env.ECOMMERCE_ACK_WAIT_MS) }
  : {};

/**
 * The durable-command streams (the saga's advance, refunds). Every service that provisions them
 * gives the same settings (docs/architecture/durable-commands.md): here orders and payments.
 */
export const durableCommands = {
  provision: provision && { storage: "memory" as const },
  consumer: { fetchWaitMs: 200, ...ackWait },
};

/** The durable events of the orders service (OrderPlaced starts the saga), provisioned as above. */
export function durableEvents(types: readonly string[]) {
  return { types, provision, consumer: ackWait };
}

/** A pool for one service: a few connections each, five services share the server. */
export function openPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  pool.on("error", (error) => logger.warn("idle PostgreSQL connection failed", { reason: error.message }));
  return pool;
}

/** The service's transport: its name is its queue group, so instances of one service share work. */
export function connect(
  service: string,
  options: Omit<Parameters<typeof natsTransport>[0], "servers" | "service" | "prefix"> = {},
): Promise<NatsTransport> {
  // 15 s rather than 5 s for a reply (saga steps included): on a busy machine a slow answer should
  // not turn into a timeout that cancels an order which would have gone through.
  return natsTransport({
    servers: NATS_URL.split(","), // one URL, or several comma-separated (a cluster's nodes)
    service,
    prefix: PREFIX,
    requestTimeoutMs: 15_000,
    ...options,
  }).catch(needs("NATS"));
}

/** Prints `ready …` for the launcher, then runs `close` once on SIGTERM or when the launcher is gone. */
export function serve(close: () => Promise<void>, ready = "ready"): void {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error("close failed:", error);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // The launcher holds our stdin: it closes when the launcher exits, even by SIGKILL.
  process.stdin.once("close", stop).resume();
  console.log(ready);
}
