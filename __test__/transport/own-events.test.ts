import { Packr } from "msgpackr";
import { afterEach, describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { NatsConnection, natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineEvent, type HandlerContext, silentLogger } from "../../ts/index.js";
import { EnvelopeCodec } from "../../ts/nats/wire.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";

// Issue 14, item 8: a service used to skip events whose `catga-origin-service` header named it,
// so any publisher could make it miss events. Now no header decides delivery: a service gets its
// own events through its subscription, like every other service.

const OLD_ORIGIN_HEADER = "catga-origin-service";
const CORE = "own.core";
const DURABLE = "own.durable";
const Core = defineEvent(CORE).payload<{ id: string }>();
const Durable = defineEvent(DURABLE).payload<{ id: string }>();

const durableEvents = {
  types: [DURABLE],
  consumer: { fetchWaitMs: 100 },
  provision: { storage: "memory" as const },
};

/** What each instance of a service handled, by event id. */
class Ledger {
  readonly byInstance = new Map<string, string[]>();
  readonly contexts: HandlerContext[] = [];

  record(instance: string, id: string, ctx: HandlerContext): void {
    const list = this.byInstance.get(instance) ?? [];
    this.byInstance.set(instance, list);
    list.push(id);
    this.contexts.push(ctx);
  }

  /** Every id handled by any instance, in arrival order per instance. */
  all(): string[] {
    return [...this.byInstance.values()].flat();
  }

  count(id: string): number {
    return this.all().filter((x) => x === id).length;
  }
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

async function instance(service: string, name: string, prefix: string, ledger: Ledger) {
  const transport = await natsTransport({ servers: NATS_URL, service, prefix, durableEvents });
  const catga = createCatga({ logger: silentLogger, transport })
    .handle(Core, ({ id }, ctx) => ledger.record(name, id, ctx))
    .handle(Durable, ({ id }, ctx) => ledger.record(name, id, ctx))
    .build();
  cleanup.push(() => catga.close());
  await transport.ready();
  return { catga, transport };
}

function streamsOf(prefix: string): string[] {
  const events = `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_EVENTS`;
  return [events, `${events}_DLQ`];
}

describe("no header decides who gets an event (issue 14, item 8)", () => {
  it("a remote sender naming the victim in catga-origin-service does not stop its handlers (core and durable)", async () => {
    const prefix = uniquePrefix("forge");
    const ledger = new Ledger();
    await instance("orders", "orders", prefix, ledger); // the victim
    const attacker = await NatsConnection.connect({ servers: NATS_URL });
    cleanup.push(() => attacker.close());
    const js = new JetStream(attacker);
    cleanup.push(async () => {
      for (const stream of streamsOf(prefix)) await js.deleteStream(stream);
    });
    const forged = { [OLD_ORIGIN_HEADER]: "orders" };
    const codec = new EnvelopeCodec();
    // Catga's own layout (read in place) and another one (a numeric messageId: decoded generically).
    const packr = new Packr({ useRecords: false });
    const foreign = (type: string, id: string) =>
      packr.pack([1, 2, type, 42, null, null, Date.now(), forged, "msgpack", packr.pack({ id })]);
    await attacker.publish(`${prefix}.evt.${CORE}`, codec.encodeNew("event", CORE, forged, { id: "core-1" }));
    await attacker.publish(`${prefix}.evt.${CORE}`, foreign(CORE, "core-2"));
    await js.publish([
      {
        subject: `${prefix}.evt.${DURABLE}`,
        messageId: "forged-1",
        envelope: codec.encodeNew("event", DURABLE, forged, { id: "durable-1" }),
      },
      { subject: `${prefix}.evt.${DURABLE}`, messageId: "forged-2", envelope: foreign(DURABLE, "durable-2") },
    ]);
    await until(() => ledger.all().length === 4, 20_000, "the victim's handlers");
    expect(ledger.all().sort()).toEqual(["core-1", "core-2", "durable-1", "durable-2"]);
    // Dropped on receipt: what a handler sends inherits its headers, and instances still on an
    // old version would skip events carrying it.
    for (const ctx of ledger.contexts) expect(ctx.headers).toEqual({});
  });

  it("a service gets its own events once through NATS, shared by its instances (core and durable)", async () => {
    const prefix = uniquePrefix("own");
    const orders = new Ledger();
    const audit = new Ledger();
    const [a, b] = [
      await instance("orders", "orders-a", prefix, orders),
      await instance("orders", "orders-b", prefix, orders),
    ];
    await instance("audit", "audit", prefix, audit);
    cleanup.push(async () => {
      const js = new JetStream(a.transport.connection);
      for (const stream of streamsOf(prefix)) await js.deleteStream(stream);
    });

    const ids = Array.from({ length: 20 }, (_, i) => `e-${i}`);
    for (const id of ids) {
      // Not run in process: resolved once the transport took it.
      expect((await a.catga.publish(Core, { id: `core-${id}` })).unwrap()).toEqual({ handled: 0 });
      expect((await a.catga.publish(Durable, { id: `durable-${id}` })).unwrap()).toEqual({ handled: 0 });
    }
    const expected = ids.flatMap((id) => [`core-${id}`, `durable-${id}`]).sort();
    const complete = (ledger: Ledger) => expected.every((id) => ledger.count(id) >= 1);
    await until(() => complete(orders) && complete(audit), 20_000, "every event in both services");

    // A copy still on its way would arrive before a later event: on core NATS, one from the same
    // publisher (until each instance of orders got one, as the queue group picks one per event);
    // durable ones come in stream order, so one marker handled by the service will do.
    const markers = (instanceName: string) =>
      (orders.byInstance.get(instanceName) ?? []).filter((id) => id.startsWith("core-marker"));
    for (let i = 0; markers("orders-a").length === 0 || markers("orders-b").length === 0; i++) {
      (await a.catga.publish(Core, { id: `core-marker-${i}` })).unwrap();
      await until(() => orders.count(`core-marker-${i}`) === 1, 20_000, `core marker ${i}`);
    }
    (await b.catga.publish(Durable, { id: "durable-marker" })).unwrap();
    await until(() => orders.count("durable-marker") === 1, 20_000, "the durable marker");
    for (const id of expected) {
      expect(orders.count(id), id).toBe(1);
      expect(audit.count(id), id).toBe(1);
    }
    // Its own events reach it as received messages: a root event is its own correlation.
    const own = orders.contexts.find((ctx) => ctx.type === CORE)!;
    expect(own.correlationId).toBe(own.messageId);
    expect(own.causationId).toBeUndefined();
  });

  it("a service with one instance gets the events it publishes itself (its connection echoes)", async () => {
    const prefix = uniquePrefix("solo");
    const ledger = new Ledger();
    const solo = await instance("billing", "billing", prefix, ledger);
    cleanup.push(async () => {
      const js = new JetStream(solo.transport.connection);
      for (const stream of streamsOf(prefix)) await js.deleteStream(stream);
    });
    (await solo.catga.publish(Core, { id: "core-1" })).unwrap();
    (await solo.catga.publish(Durable, { id: "durable-1" })).unwrap();
    await until(() => ledger.all().length === 2, 20_000, "both own events");
    expect(ledger.all().sort()).toEqual(["core-1", "durable-1"]);
  });
});
