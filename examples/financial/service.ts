// What every service process of the financial example shares: its NATS transport (same durable
// settings everywhere, as docs/architecture/durable-commands.md asks), its PostgreSQL pool, a logger that keeps
// stdout for the launcher, and how it says "ready" and stops.
import pg from "pg";
import { consoleLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { DATABASE_URL, NATS_URL, needs, PREFIX } from "../services.js";

/** The ledger's tables live in this schema, next to Catga's (inbox, saga store). */
export { SCHEMA } from "../services.js";

/** Errors only, on stderr: stdout carries the lines the launcher reads ("ready"). */
export const logger = consoleLogger({ level: "error" });

/**
 * Durable command settings, identical in every service that has them (each one provisions the
 * streams at connect). A short ack wait brings back soon what a killed process held. A saga step
 * that a killed host had sent is sent again by the next one and, inside the duplicate window, waited
 * out (docs/architecture/sagas.md, "Crash recovery"): a short window keeps that wait short in this demo.
 */
const durableCommands = {
  provision: { duplicateWindowMs: 5_000 },
  consumer: { batch: 16, maxAckPending: 128, ackWaitMs: 2_000, fetchWaitMs: 50, backoffMs: [100, 500] },
};

/** Connects `service` to NATS; exits with status 2, saying so, when NATS is not there. */
export function connect(service: string, durable: { commands?: boolean; events?: boolean } = {}) {
  return natsTransport({
    servers: NATS_URL,
    service,
    prefix: PREFIX,
    // A step's "result" send waits this long; long enough for a killed ledger's commands to come back.
    requestTimeoutMs: 30_000,
    ...(durable.commands ? { durableCommands } : {}),
    ...(durable.events ? { durableEvents: {} } : {}),
  }).catch(needs("NATS"));
}

/** A small pool per service: PostgreSQL holds every service's state in this example. */
export function database(max = 8): pg.Pool {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max });
  pool.on("error", () => {}); // an idle client dropped by the server: the next query reconnects
  return pool;
}

/**
 * Says "ready" to the launcher, then runs until SIGTERM or until the launcher goes away (its end of
 * stdin closes, also when it was killed), closing what `stop` closes.
 */
export function serve(stop: () => Promise<unknown>): void {
  process.stdout.write("ready\n");
  let stopping = false;
  const end = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", end);
  process.stdin.on("end", end).resume();
}
