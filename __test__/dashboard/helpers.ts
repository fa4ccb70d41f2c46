/**
 * A small system with dead letters for the dashboard tests, on the machine's NATS and PostgreSQL:
 * `billing` handles `orders.placed` (failing while `world.failing` is true) and the durable
 * command `billing.charge` (always refused); the outbox, inbox and saga tables hold a row each.
 */
import type pg from "pg";
import { JetStream } from "../../ts/entries/jetstream.js";
import { natsTransport } from "../../ts/entries/nats.js";
import { type DeadLetters, deadLetters } from "../../ts/entries/operations.js";
import {
  migrate,
  outboxEvent,
  PostgresIdempotencyStore,
  PostgresOutbox,
  PostgresSagaStore,
} from "../../ts/entries/persistence.js";
import {
  type Catga,
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  silentLogger,
} from "../../ts/index.js";
import type { NatsTransport } from "../../ts/transport/nats-transport.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";
import { dropSchema, eventually, newPool, uniqueName } from "../persistence/helpers.js";

export const Placed = defineEvent("orders.placed").payload<{ orderId: string; note?: string }>();
export const Charge = defineCommand("billing.charge")
  .payload<{ orderId: string }>()
  .returns<void>()
  .durable();
export const Shipped = defineEvent("orders.shipped").payload<{ orderId: string }>();
export const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

const consumer = { maxDeliver: 2, backoffMs: [20], fetchWaitMs: 100 };
const durable = { consumer, provision: { storage: "memory" as const } };

export interface World {
  readonly prefix: string;
  readonly dlq: DeadLetters;
  readonly pool: pg.Pool;
  readonly schema: string;
  /** While true, billing's event handler throws. */
  failing: boolean;
  /** Events billing handled: order id and the message id it saw. */
  readonly handled: { readonly orderId: string; readonly messageId: string }[];
  readonly publisher: Catga;
  readonly billing: Catga;
  close(): Promise<void>;
}

export async function world(name: string): Promise<World> {
  const prefix = uniquePrefix(name);
  const transports: NatsTransport[] = [];
  const connect = async (service: string) => {
    const transport = await natsTransport({
      servers: NATS_URL,
      service,
      prefix,
      durableEvents: durable,
      durableCommands: durable,
    });
    transports.push(transport);
    return transport;
  };
  const handled: { orderId: string; messageId: string }[] = [];
  const billingTransport = await connect("billing");
  const w = { failing: true } as { failing: boolean };
  const billing = createCatga({ logger: silentLogger, transport: billingTransport })
    .handle(Placed, (event, ctx) => {
      if (w.failing) throw new Error("card service down");
      handled.push({ orderId: event.orderId, messageId: ctx.messageId });
    })
    .handle(Charge, () => {
      throw new CatgaError("BILLING_REFUSED", "no such card");
    })
    .build();
  const webTransport = await connect("web");
  const publisher = createCatga({ logger: silentLogger, transport: webTransport }).build();
  await Promise.all([billingTransport.ready(), webTransport.ready()]);
  const dlq = await deadLetters(webTransport);

  const pool = newPool(4);
  const schema = uniqueName("dashboard");
  await migrate(pool, { schema });
  await seedStore(pool, schema, prefix);

  return Object.assign(w, {
    prefix,
    dlq,
    pool,
    schema,
    handled,
    publisher,
    billing,
    async close() {
      await billing.close().catch(() => undefined);
      await publisher.close().catch(() => undefined);
      const js = new JetStream(transports[0]!.connection);
      const base = prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase();
      for (const stream of ["EVENTS", "EVENTS_DLQ", "COMMANDS", "COMMANDS_DLQ", "COMMANDS_RESULTS"])
        await js.deleteStream(`${base}_${stream}`).catch(() => false);
      for (const transport of transports) await transport.close().catch(() => undefined);
      await dropSchema(pool, schema).catch(() => undefined);
      await pool.end();
    },
  });
}

/** Publishes `orders.placed` events and a `billing.charge` per given order and waits until all are dead letters. */
export async function deadLetterSome(
  w: World,
  events: readonly { readonly orderId: string; readonly note?: string }[],
  commands: readonly string[] = [],
): Promise<void> {
  const before = (await w.dlq.counts()).total;
  for (const event of events) {
    const published = await w.publisher.publish(Placed, event, {
      messageId: `msg-${event.orderId}`,
      headers: { traceparent: TRACEPARENT },
    });
    if (!published.ok) throw published.error;
  }
  for (const orderId of commands) {
    const sent = await w.billing.send(Charge, { orderId }, { messageId: `charge-${orderId}` });
    if (!sent.ok) throw sent.error;
  }
  const expected = before + events.length + commands.length;
  await eventually(async () => (await w.dlq.counts()).total === expected, 20_000, `${expected} dead letters`);
}

async function seedStore(pool: pg.Pool, schema: string, prefix: string): Promise<void> {
  await new PostgresOutbox({ schema }).add(
    pool,
    outboxEvent(
      Shipped,
      { orderId: "o-7" },
      { subject: `${prefix}.evt.orders.shipped`, messageId: "ship-7" },
    ),
  );
  const inbox = new PostgresIdempotencyStore({ pool, schema });
  await inbox.set("orders:handled-1", { value: 1 }, 60_000);
  await inbox.claim("orders:running-2", "worker-a", 60_000);
  const now = Date.now();
  await new PostgresSagaStore({ pool, schema }).insert({
    saga: "checkout",
    id: "c-1",
    status: "failed",
    step: 1,
    revision: 1,
    state: { orderId: "o-1", note: "<b>not bold</b>" },
    progress: { startedAt: now, done: [], error: { code: "PAYMENT_DECLINED", message: "declined" } },
    updatedAt: now,
  });
}

/** The anti-CSRF token of a page's forms. */
export function formToken(page: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(page);
  if (match === null) throw new Error("the page has no CSRF token");
  return match[1]!;
}

/** `name=value` of a `set-cookie` header, for a `cookie` header. */
export function cookieOf(setCookie: string | string[] | undefined): string {
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  if (first === undefined) throw new Error("no set-cookie");
  return first.split(";")[0]!;
}
