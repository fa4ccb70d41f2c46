import { afterAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import {
  type Catga,
  createCatga,
  defineCommand,
  defineSaga,
  InMemorySagaStore,
  type SagaInstance,
  silentLogger,
  type Transport,
} from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";
import { eventually, sleep } from "../persistence/helpers.js";

// A step the transport refused before sending it (CATGA_BACKPRESSURE under `backpressure: "reject"`,
// likewise CATGA_NOT_CONNECTED under `whenDisconnected: "reject"`) was never delivered: the engine
// sends it again within the step's bound, as for CATGA_NO_HANDLER, instead of failing the saga.
const Open = defineCommand("notsent.open").payload<{ id: string }>();
const Hold = defineCommand("notsent.hold").payload<{ id: string }>().returns<{ hold: string }>();
const Free = defineCommand("notsent.free").payload<{ id: string }>();

const Booking = defineSaga<{ id: string; hold?: string }>("notsent_booking")
  .startedBy(Open, { id: (p) => p.id, init: (p) => ({ id: p.id }) })
  .step("hold", {
    send: Hold,
    payload: (s) => ({ id: s.id }),
    result: (s, r) => ({ ...s, hold: r.hold }),
    timeoutMs: 10_000,
  })
  .compensate("hold", { send: Free, payload: (s) => ({ id: s.id }) });

// A saga whose second step always refuses, so its first is compensated — by a service that is
// not up yet when the compensation is first sent.
const Reserve = defineCommand("notsent.reserve").payload<{ id: string }>();
const Refuse = defineCommand("notsent.refuse").payload<{ id: string }>();
const Unreserve = defineCommand("notsent.unreserve").payload<{ id: string }>();
const Refused = defineSaga<{ id: string }>("notsent_refused")
  .startedBy(Open, { id: (p) => p.id, init: (p) => ({ id: p.id }) })
  .step("reserve", { send: Reserve, payload: (s) => ({ id: s.id }) })
  .compensate("reserve", { send: Unreserve, payload: (s) => ({ id: s.id }) })
  .step("refuse", { send: Refuse, payload: (s) => ({ id: s.id }) });

const transports: Transport[] = [];
afterAll(async () => {
  for (const t of transports) await t.close().catch(() => undefined);
});

describe("a saga send refused before it left, or that nobody served", () => {
  it("is sent again until it goes through: every saga completes, none compensated", async () => {
    const prefix = uniquePrefix("notsent");
    const held: string[] = [];
    const freed: string[] = [];
    const servicesT = await natsTransport({ servers: NATS_URL, service: "svc", prefix });
    transports.push(servicesT);
    createCatga({ logger: silentLogger, transport: servicesT })
      .handle(Hold, async (p) => {
        await sleep(20); // keeps the host's one request slot taken while the others start
        held.push(p.id);
        return { hold: `h-${p.id}` };
      })
      .handle(Free, (p) => {
        freed.push(p.id);
      })
      .build();
    // One request in flight at a time, and past it a refusal instead of a wait.
    const hostT = await natsTransport({
      servers: NATS_URL,
      service: "host",
      prefix,
      durableCommands: {},
      maxInFlightRequests: 1,
      backpressure: "reject",
    });
    transports.push(hostT);
    const store = new InMemorySagaStore();
    const host = createCatga({ logger: silentLogger, transport: hostT })
      .remote(Hold, Free)
      .saga(Booking, { store })
      .build() as unknown as Catga;
    await Promise.all([servicesT.ready(), hostT.ready()]);
    const ids = ["b1", "b2", "b3", "b4"];
    for (const id of ids) (await host.send(Open, { id })).unwrap();
    const ended = async () =>
      (await Promise.all(ids.map((id) => store.get("notsent_booking", id)))) as (SagaInstance | undefined)[];
    await eventually(
      async () => (await ended()).every((i) => i?.status === "completed" || i?.status === "compensated"),
      20_000,
      "every booking ended",
    );
    expect((await ended()).map((i) => i?.status)).toEqual(ids.map(() => "completed"));
    expect([...held].sort()).toEqual(ids);
    expect(freed).toEqual([]);
    await host.close();
  }, 40_000);

  it("does not count a compensation nobody served as one of its attempts", async () => {
    const prefix = uniquePrefix("notsentundo");
    const reserved: string[] = [];
    const unreserved: string[] = [];
    const servicesT = await natsTransport({ servers: NATS_URL, service: "svc", prefix });
    transports.push(servicesT);
    createCatga({ logger: silentLogger, transport: servicesT })
      .handle(Reserve, (p) => {
        reserved.push(p.id);
      })
      .handle(Refuse, () => {
        throw new Error("refused");
      })
      .build();
    const hostT = await natsTransport({ servers: NATS_URL, service: "host", prefix, durableCommands: {} });
    transports.push(hostT);
    const store = new InMemorySagaStore();
    // Two attempts 10 ms apart: without waiting for a handler, both would fail at once (NO_HANDLER).
    const host = createCatga({ logger: silentLogger, transport: hostT })
      .remote(Reserve, Refuse, Unreserve)
      .saga(Refused, { store, compensationAttempts: 2, compensationBackoffMs: 10 })
      .build() as unknown as Catga;
    await Promise.all([servicesT.ready(), hostT.ready()]);
    (await host.send(Open, { id: "r1" })).unwrap();
    await eventually(
      async () => (await store.get("notsent_refused", "r1"))?.status === "compensating",
      10_000,
      "the saga compensates",
    );
    await sleep(500); // the compensation goes unserved for a while
    const lateT = await natsTransport({ servers: NATS_URL, service: "late", prefix });
    transports.push(lateT);
    createCatga({ logger: silentLogger, transport: lateT })
      .handle(Unreserve, (p) => {
        unreserved.push(p.id);
      })
      .build();
    await lateT.ready();
    await eventually(
      async () => (await store.get("notsent_refused", "r1"))?.status !== "compensating",
      15_000,
      "the saga ended",
    );
    const instance = await store.get("notsent_refused", "r1");
    expect(instance?.status).toBe("compensated");
    expect(reserved).toEqual(["r1"]);
    expect(unreserved).toEqual(["r1"]);
    await host.close();
  }, 40_000);
});
