import { afterAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import {
  type Catga,
  createCatga,
  defineCommand,
  defineSaga,
  InMemorySagaStore,
  silentLogger,
  type Transport,
} from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";
import { eventually, sleep } from "../persistence/helpers.js";

// A saga host that closes (a rolling deploy) while a saga is between steps: close() waits for the
// advance in hand (the durable consumer settles what it took), so the drive runs to its end on
// this host; none of its sends meets a closed transport, and nothing is compensated.
const Begin = defineCommand("close.begin").payload<{ id: string }>();
const Reserve = defineCommand("close.reserve").payload<{ id: string }>().returns<{ r: string }>();
const Release = defineCommand("close.release").payload<{ id: string }>();
const Pay = defineCommand("close.pay").payload<{ id: string }>().returns<{ p: string }>();
const Ship = defineCommand("close.ship").payload<{ id: string }>().returns<{ s: string }>();

const Order = defineSaga<{ id: string; r?: string; p?: string; s?: string }>("closing_order")
  .startedBy(Begin, { id: (p) => p.id, init: (p) => ({ id: p.id }) })
  .step("reserve", { send: Reserve, payload: (s) => ({ id: s.id }), result: (s, r) => ({ ...s, r: r.r }) })
  .compensate("reserve", { send: Release, payload: (s) => ({ id: s.id }) })
  .step("pay", { send: Pay, payload: (s) => ({ id: s.id }), result: (s, r) => ({ ...s, p: r.p }) })
  .step("ship", { send: Ship, payload: (s) => ({ id: s.id }), result: (s, r) => ({ ...s, s: r.s }) });

const transports: Transport[] = [];
afterAll(async () => {
  for (const t of transports) await t.close().catch(() => undefined);
});

describe("a saga host that closes mid-saga", () => {
  it("finishes the drive in hand before close() resolves, compensating nothing", async () => {
    const prefix = uniquePrefix("sagaclose");
    const released: string[] = [];
    const shipped: string[] = [];
    const servicesT = await natsTransport({ servers: NATS_URL, service: "svc", prefix });
    transports.push(servicesT);
    createCatga({ logger: silentLogger, transport: servicesT })
      .handle(Reserve, (p) => ({ r: `r-${p.id}` }))
      .handle(Release, (p) => {
        released.push(p.id);
      })
      .handle(Pay, (p) => ({ p: `p-${p.id}` }))
      .handle(Ship, (p) => {
        shipped.push(p.id);
        return { s: `s-${p.id}` };
      })
      .build();
    const store = new InMemorySagaStore();
    // The write that records `reserve` (and claims `pay`) is slow: the host closes meanwhile, with
    // no request of its in flight; the drive's later sends go out while close() waits for it.
    let slowWrites = 1;
    let slowWriteStarted = false;
    const update = store.update.bind(store);
    store.update = async (next) => {
      if (next.progress.inFlight === "pay" && slowWrites-- > 0) {
        slowWriteStarted = true;
        await sleep(400);
      }
      return update(next);
    };
    const host = async () => {
      const t = await natsTransport({ servers: NATS_URL, service: "orders", prefix, durableCommands: {} });
      transports.push(t);
      const catga = createCatga({ logger: silentLogger, transport: t })
        .remote(Reserve, Release, Pay, Ship)
        .saga(Order, { store })
        .build();
      await t.ready();
      return catga as unknown as Catga;
    };
    await servicesT.ready();
    const first = await host();
    (await first.send(Begin, { id: "o1" })).unwrap();
    await eventually(async () => slowWriteStarted, 10_000, "the slow write");
    await first.close();
    const ended = await store.get("closing_order", "o1");
    expect(ended?.status).toBe("completed");
    expect(ended?.progress.done).toEqual(["reserve", "pay", "ship"]);
    expect(released).toEqual([]);
    expect(shipped).toEqual(["o1"]);
  }, 40_000);
});
