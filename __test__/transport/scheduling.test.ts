import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import {
  createCatga,
  defineCommand,
  defineEvent,
  defineQuery,
  ErrorCodes,
  silentLogger,
} from "../../ts/index.js";
import type { NatsTransport } from "../../ts/transport/nats-transport.js";
import { DELIVER_AT_HEADER } from "../../ts/transport/scheduler.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";

// Issue 16, scheduled and delayed messages against the real NATS server (docs/architecture/scheduling.md).
const Reminder = defineEvent("sched.reminder").payload<{ n: number }>();
const Plain = defineEvent("sched.plain").payload<{ n: number }>();
const Charge = defineCommand("sched.charge").payload<{ n: number }>().durable();
const Ask = defineQuery("sched.ask").payload<{ n: number }>().returns<number>();

const prefix = uniquePrefix("sched");
let transport: NatsTransport;
const seen: { type: string; n: number; at: number; due: number }[] = [];
let catga: ReturnType<typeof build>;

function build(t: NatsTransport) {
  const record = (type: string) => (payload: { n: number }, ctx: { headers: Record<string, string> }) => {
    seen.push({ type, n: payload.n, at: Date.now(), due: Number(ctx.headers[DELIVER_AT_HEADER]) });
  };
  return createCatga({ logger: silentLogger, transport: t })
    .handle(Reminder, record("reminder"))
    .handle(Plain, record("plain"))
    .handle(Charge, async (payload, ctx) => {
      record("charge")(payload, ctx);
    })
    .handle(Ask, ({ n }) => n)
    .build();
}

beforeAll(async () => {
  transport = await natsTransport({
    servers: NATS_URL,
    service: "sched",
    prefix,
    durableEvents: { types: ["sched.reminder"], provision: { storage: "memory" } },
    durableCommands: { provision: { storage: "memory" }, consumer: { fetchWaitMs: 100 } },
    scheduling: { provision: { storage: "memory" }, consumer: { fetchWaitMs: 100, ackWaitMs: 2000 } },
  });
  catga = build(transport);
  await transport.ready();
});

afterAll(async () => {
  await catga?.close();
});

describe("scheduled messages", () => {
  it("delivers a delayed durable event, a core event and a durable command once, none before due", async () => {
    const event = (await catga.publish(Reminder, { n: 1 }, { delayMs: 300 })).unwrap();
    const at = Date.now() + 400;
    const plain = (await catga.publish(Plain, { n: 2 }, { deliverAt: new Date(at) })).unwrap();
    const command = (await catga.send(Charge, { n: 3 }, { delayMs: 200 })).unwrap();
    expect(plain.deliverAt).toBe(at);
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    // Nothing runs at scheduling time.
    expect(seen).toEqual([]);
    await until(() => seen.length >= 3, 15_000, "the three scheduled messages");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen.map((s) => s.type).sort()).toEqual(["charge", "plain", "reminder"]);
    for (const s of seen) expect(s.at).toBeGreaterThanOrEqual(s.due);
    expect(seen.find((s) => s.type === "reminder")!.due).toBe(event.deliverAt);
    expect(seen.find((s) => s.type === "charge")!.due).toBe(command.deliverAt);
  });

  it("lists pending timers in pages and cancels one; a cancelled timer never fires", async () => {
    seen.length = 0;
    const handles = [];
    for (let n = 0; n < 5; n++)
      handles.push((await catga.publish(Reminder, { n: 100 + n }, { delayMs: 2000 })).unwrap());
    const first = (await transport.schedules.list({ limit: 3 })).unwrap();
    expect(first.items.map((i) => i.id)).toEqual(handles.slice(0, 3).map((h) => h.id));
    expect(first.items[0]).toMatchObject({
      kind: "event",
      type: "sched.reminder",
      deliverAt: handles[0]!.deliverAt,
    });
    const second = (await transport.schedules.list({ after: first.next!, limit: 3 })).unwrap();
    expect(second.items.map((i) => i.id)).toEqual(handles.slice(3).map((h) => h.id));
    expect(second.next).toBeUndefined();

    expect((await transport.schedules.cancel(handles[1]!.id)).unwrap()).toEqual({ id: handles[1]!.id });
    const again = await transport.schedules.cancel(handles[1]!.id);
    expect(again.ok ? undefined : [again.error.code, again.error.details]).toEqual([
      ErrorCodes.INVALID_ARGUMENT,
      { field: "id", id: handles[1]!.id, unknown: true },
    ]);
    await until(() => seen.length >= 4, 15_000, "the four timers left");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen.map((s) => s.n).sort()).toEqual([100, 102, 103, 104]);
    expect((await transport.schedules.list()).unwrap().items).toEqual([]);
  });

  it("says when an id was scheduled already: the first timer stands, with its time", async () => {
    // Found from outside: the second call answered its own deliverAt, which never happened.
    seen.length = 0;
    const id = `dup-${Date.now()}`;
    const first = (await catga.publish(Reminder, { n: 200 }, { delayMs: 1500, messageId: id })).unwrap();
    expect(first.duplicate).toBeUndefined();
    const second = (await catga.publish(Reminder, { n: 201 }, { delayMs: 100, messageId: id })).unwrap();
    expect(second).toEqual({ id, deliverAt: first.deliverAt, duplicate: true });
    await until(() => seen.length >= 1, 15_000, "the standing timer");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen.map((s) => s.n)).toEqual([200]);
  });

  it("refuses bad input with coded errors naming the field", async () => {
    const field = async (result: Promise<{ ok: boolean; error?: { code: string; details?: unknown } }>) => {
      const r = await result;
      return r.ok ? "ok" : [r.error!.code, (r.error!.details as { field?: string } | undefined)?.field];
    };
    const invalid = (name: string) => [ErrorCodes.INVALID_ARGUMENT, name];
    expect(await field(catga.publish(Reminder, { n: 0 }, { delayMs: Number.NaN }))).toEqual(
      invalid("delayMs"),
    );
    expect(await field(catga.publish(Reminder, { n: 0 }, { delayMs: -1 }))).toEqual(invalid("delayMs"));
    expect(await field(catga.send(Charge, { n: 0 }, { delayMs: Number.POSITIVE_INFINITY }))).toEqual(
      invalid("delayMs"),
    );
    expect(await field(catga.publish(Reminder, { n: 0 }, { deliverAt: Date.now() - 3_600_000 }))).toEqual(
      invalid("deliverAt"),
    );
    expect(await field(catga.publish(Reminder, { n: 0 }, { deliverAt: new Date("nope") }))).toEqual(
      invalid("deliverAt"),
    );
    // @ts-expect-error: deliverAt and delayMs exclude each other
    expect(await field(catga.publish(Reminder, { n: 0 }, { deliverAt: Date.now(), delayMs: 5 }))).toEqual(
      invalid("deliverAt"),
    );
    // @ts-expect-error: a query cannot be scheduled
    expect(await field(catga.query(Ask, { n: 0 }, { delayMs: 5 }))).toEqual(invalid("delayMs"));
    // @ts-expect-error: a scheduled send resolves with its handle, not the handler's Result
    expect(await field(catga.send(Charge, { n: 0 }, { delayMs: 5, await: "result" }))).toEqual(
      invalid("await"),
    );
    expect(await field(catga.publish(Reminder, { n: 0 }, { delayMs: 5, messageId: "a.b" }))).toEqual(
      invalid("messageId"),
    );
    const long = await catga.publish(Reminder, { n: 0 }, { delayMs: 5, messageId: "x".repeat(129) });
    expect(long.ok ? undefined : long.error.message).toContain("at most 128 characters, got 129");
    expect(await field(transport.schedules.cancel("no-such-timer"))).toEqual(invalid("id"));
    // @ts-expect-error: an id is a string
    expect(await field(transport.schedules.cancel(42))).toEqual(invalid("id"));
    expect(await field(transport.schedules.list({ limit: 0 }))).toEqual(invalid("limit"));
    // From JavaScript: not an object, or a misspelt option — coded, never a throw.
    expect(await field(transport.schedules.list(null as never))).toEqual(invalid("page"));
    expect(await field(transport.schedules.list({ limt: 5 } as never))).toEqual(invalid("limt"));
  });

  it("says CATGA_CONFIG when scheduling is not enabled", async () => {
    const other = await natsTransport({ servers: NATS_URL, service: "nosched", prefix });
    const plain = createCatga({ logger: silentLogger, transport: other }).build();
    const r = await plain.publish(Plain, { n: 0 }, { delayMs: 10 });
    expect(r.ok ? "ok" : r.error.code).toBe(ErrorCodes.CONFIG);
    const listed = await other.schedules.list();
    expect(listed.ok ? "ok" : listed.error.code).toBe(ErrorCodes.CONFIG);
    await plain.close();
    const local = createCatga({ logger: silentLogger }).build();
    const l = await local.publish(Plain, { n: 0 }, { delayMs: 10 });
    expect(l.ok ? "ok" : l.error.code).toBe(ErrorCodes.CONFIG);
  });
});
