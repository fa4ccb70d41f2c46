import { afterAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import {
  type Catga,
  createCatga,
  defineCommand,
  defineEvent,
  defineSaga,
  err,
  InMemorySagaStore,
  sagaOperations,
  silentLogger,
  type Transport,
} from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";
import { eventually, sleep } from "../persistence/helpers.js";

// Sagas across services on the real NATS: a durable step in another service, an event from another
// service correlated by key, and a wait timed out by a scheduled (JetStream) timer.
const Place = defineCommand("shop.place").payload<{ orderId: string; amount: number }>().durable();
const Charge = defineCommand("pay.charge")
  .payload<{ orderId: string; amount: number }>()
  .returns<{ paymentId: string }>()
  .durable();
const Refund = defineCommand("pay.refund").payload<{ paymentId: string }>().durable();
const Captured = defineEvent("pay.captured").payload<{ orderId: string }>();

interface State {
  orderId: string;
  amount: number;
  paymentId?: string;
  captured?: boolean;
}

const Checkout = defineSaga<State>("checkout")
  .startedBy(Place, { id: (p) => p.orderId, init: (p) => ({ orderId: p.orderId, amount: p.amount }) })
  .step("charge", {
    send: Charge,
    payload: (s) => ({ orderId: s.orderId, amount: s.amount }),
    result: (s, r) => ({ ...s, paymentId: r.paymentId }),
    timeoutMs: 10_000,
  })
  .compensate("charge", { send: Refund, payload: (s) => ({ paymentId: s.paymentId! }) })
  .waitFor("captured", {
    event: Captured,
    key: (e) => e.orderId,
    timeoutMs: 400,
    result: (s) => ({ ...s, captured: true }),
  });

// A long wait that its event ends early: its scheduled timeout timer must not stay behind.
const Open = defineCommand("longwait.open").payload<{ id: string }>();
const Closed = defineEvent("longwait.closed").payload<{ id: string }>();
const LongWait = defineSaga<{ id: string }>("longwait")
  .startedBy(Open, { id: (p) => p.id, init: (p) => ({ id: p.id }) })
  .waitFor("closed", { event: Closed, key: (e) => e.id, timeoutMs: 10 * 60_000 });

// A step whose command nobody serves yet (CATGA_NO_HANDLER: never delivered) is sent again.
const Order = defineCommand("unserved.order").payload<{ orderId: string; late?: boolean }>();
const Hold = defineCommand("unserved.hold").payload<{ orderId: string }>().returns<{ holdId: string }>();
const Unhold = defineCommand("unserved.unhold").payload<{ holdId: string }>();
const Pack = defineCommand("unserved.pack").payload<{ orderId: string }>();
const Late = defineCommand("unserved.late").payload<{ orderId: string }>();

const Fulfil = defineSaga<{ orderId: string; late: boolean; holdId?: string }>("fulfil")
  .startedBy(Order, { id: (p) => p.orderId, init: (p) => ({ orderId: p.orderId, late: p.late === true }) })
  .step("hold", {
    send: Hold,
    payload: (s) => ({ orderId: s.orderId }),
    result: (s, r) => ({ ...s, holdId: r.holdId }),
  })
  .compensate("hold", { send: Unhold, payload: (s) => ({ holdId: s.holdId! }) })
  .step("pack", { send: Pack, payload: (s) => ({ orderId: s.orderId }), when: (s) => !s.late })
  .step("late", {
    send: Late,
    payload: (s) => ({ orderId: s.orderId }),
    when: (s) => s.late,
    timeoutMs: 300,
  });

const transports: Transport[] = [];
afterAll(async () => {
  for (const t of transports) await t.close();
});

describe("sagas on NATS", () => {
  it("runs a durable step in another service, continues on its event, and times a wait out with a scheduled timer", async () => {
    const prefix = uniquePrefix("saganats");
    const refunds: string[] = [];
    const payT = await natsTransport({ servers: NATS_URL, service: "pay", prefix, durableCommands: {} });
    transports.push(payT);
    const pay = createCatga({ logger: silentLogger, transport: payT })
      .handle(Charge, (p) => ({ paymentId: `pay-${p.orderId}` }))
      .handle(Refund, (p) => {
        refunds.push(p.paymentId);
      })
      .build();
    const shopT = await natsTransport({
      servers: NATS_URL,
      service: "shop",
      prefix,
      durableCommands: {},
      scheduling: {},
    });
    transports.push(shopT);
    const store = new InMemorySagaStore();
    const timers: unknown[] = [];
    const logger = {
      ...silentLogger,
      debug: (message: string, fields?: Record<string, unknown>) => {
        if (message === "saga timer set") timers.push(fields?.via);
      },
    };
    const shop = createCatga({ logger, transport: shopT })
      .remote(Charge, Refund)
      .saga(Checkout, { store })
      .build();
    await Promise.all([payT.ready(), shopT.ready()]);
    const web = shop as unknown as Catga;

    (await web.send(Place, { orderId: "n1", amount: 3 })).unwrap();
    (await web.send(Place, { orderId: "n2", amount: 4 })).unwrap();
    await eventually(
      async () => (await store.get("checkout", "n1"))?.status === "waiting",
      20_000,
      "n1 waiting",
    );
    // The event comes from another service, over NATS.
    (await pay.publish(Captured, { orderId: "n1" })).unwrap();
    await eventually(
      async () => (await store.get("checkout", "n1"))?.status === "completed",
      20_000,
      "n1 completed",
    );
    expect((await store.get("checkout", "n1"))?.state).toEqual({
      orderId: "n1",
      amount: 3,
      paymentId: "pay-n1",
      captured: true,
    });
    // n2's payment is never captured: the scheduled timer times the wait out, and it is refunded.
    await eventually(
      async () => (await store.get("checkout", "n2"))?.status === "compensated",
      20_000,
      "n2 compensated",
    );
    expect((await store.get("checkout", "n2"))?.progress.error).toMatchObject({
      code: "CATGA_TIMEOUT",
      step: "captured",
    });
    expect(refunds).toEqual(["pay-n2"]);
    expect(timers).toEqual(["schedule", "schedule"]); // on JetStream, not in this process
    const ops = sagaOperations(shop, Checkout, store);
    expect((await ops.list()).map((i) => `${i.id}:${i.status}`)).toEqual(["n1:completed", "n2:compensated"]);
  }, 60_000);

  it("resumes a saga whose durable compensation failed: the resumed attempt is a new message, not a dropped duplicate", async () => {
    // Found by an outside review: the resumed attempt reused the failed attempt's message id, so
    // JetStream's duplicate window dropped it and the instance went straight back to failed.
    const prefix = uniquePrefix("sagaresume");
    let refundWorks = false;
    const refunds: string[] = [];
    const payT = await natsTransport({ servers: NATS_URL, service: "pay", prefix, durableCommands: {} });
    transports.push(payT);
    createCatga({ logger: silentLogger, transport: payT })
      .handle(Charge, (p) => ({ paymentId: `pay-${p.orderId}` }))
      .handle(Refund, (p) => {
        if (!refundWorks) return err("PAY_DOWN", "the refund service is down");
        refunds.push(p.paymentId);
      })
      .build();
    const shopT = await natsTransport({
      servers: NATS_URL,
      service: "shop",
      prefix,
      durableCommands: {},
      scheduling: {},
    });
    transports.push(shopT);
    const store = new InMemorySagaStore();
    const shop = createCatga({ logger: silentLogger, transport: shopT })
      .remote(Charge, Refund)
      .saga(Checkout, { store, compensationAttempts: 2, compensationBackoffMs: 10 })
      .build();
    await Promise.all([payT.ready(), shopT.ready()]);
    // Never captured: the wait times out, the refund fails twice, the instance is failed.
    (await (shop as unknown as Catga).send(Place, { orderId: "r1", amount: 5 })).unwrap();
    await eventually(
      async () => (await store.get("checkout", "r1"))?.status === "failed",
      20_000,
      "r1 failed",
    );
    refundWorks = true;
    const ops = sagaOperations(shop, Checkout, store);
    await ops.resume("r1", "refunds are back");
    await eventually(
      async () => (await store.get("checkout", "r1"))?.status === "compensated",
      20_000,
      "r1 compensated after the resume",
    );
    expect(refunds).toEqual(["pay-r1"]);
  }, 60_000);

  it("cancels a wait's scheduled timeout when its event comes first", async () => {
    // Found from outside: every completed wait left its timer stored for its whole timeoutMs.
    const prefix = uniquePrefix("sagatimer");
    const hostT = await natsTransport({
      servers: NATS_URL,
      service: "desk",
      prefix,
      durableCommands: { provision: { storage: "memory" } },
      scheduling: { provision: { storage: "memory" } },
    });
    transports.push(hostT);
    const store = new InMemorySagaStore();
    const host = createCatga({ logger: silentLogger, transport: hostT }).saga(LongWait, { store }).build();
    await hostT.ready();
    const pending = async () => (await hostT.schedules.list()).unwrap().items.length;
    for (const id of ["w1", "w2", "w3"]) (await (host as unknown as Catga).send(Open, { id })).unwrap();
    await eventually(async () => (await pending()) === 3, 20_000, "three timers scheduled");
    for (const id of ["w1", "w2"]) (await host.publish(Closed, { id })).unwrap();
    await eventually(
      async () => (await store.get("longwait", "w2"))?.status === "completed",
      20_000,
      "w1, w2 completed",
    );
    await eventually(
      async () => (await pending()) === 1,
      10_000,
      "the two completed waits' timers cancelled",
    );
    expect((await store.get("longwait", "w3"))?.status).toBe("waiting");
  }, 60_000);

  it("sends a step again while nobody serves its command (CATGA_NO_HANDLER), up to the step's timeoutMs, then compensates", async () => {
    const prefix = uniquePrefix("unserved");
    const hostT = await natsTransport({
      servers: NATS_URL,
      service: "shop",
      prefix,
      durableCommands: { provision: { storage: "memory" } },
    });
    transports.push(hostT);
    const store = new InMemorySagaStore();
    const host = createCatga({ logger: silentLogger, transport: hostT })
      .remote(Hold, Unhold, Pack, Late)
      .saga(Fulfil, { store })
      .build() as unknown as Catga;
    const warehouseT = await natsTransport({ servers: NATS_URL, service: "warehouse", prefix });
    transports.push(warehouseT);
    await Promise.all([hostT.ready(), warehouseT.ready()]);
    const ran: string[] = [];
    // The warehouse serves hold, unhold and pack, but only from later on; nobody ever serves late.
    (await host.send(Order, { orderId: "u1" })).unwrap();
    await sleep(400);
    expect((await store.get("fulfil", "u1"))?.status).toBe("running"); // not compensated at once
    createCatga({ logger: silentLogger, transport: warehouseT })
      .handle(Hold, (p) => {
        ran.push(`hold:${p.orderId}`);
        return { holdId: `h-${p.orderId}` };
      })
      .handle(Unhold, (p) => {
        ran.push(`unhold:${p.holdId}`);
      })
      .handle(Pack, (p) => {
        ran.push(`pack:${p.orderId}`);
      })
      .build();
    await warehouseT.ready();
    await eventually(
      async () => (await store.get("fulfil", "u1"))?.status === "completed",
      20_000,
      "u1 completed once served",
    );
    expect(ran).toEqual(["hold:u1", "pack:u1"]);

    // Unserved past its timeoutMs: the step fails with CATGA_NO_HANDLER (it never ran, so it is not
    // undone) and the step before it is compensated.
    (await host.send(Order, { orderId: "u2", late: true })).unwrap();
    await eventually(
      async () => (await store.get("fulfil", "u2"))?.status === "compensated",
      20_000,
      "u2 compensated",
    );
    expect((await store.get("fulfil", "u2"))?.progress.error).toMatchObject({
      code: "CATGA_NO_HANDLER",
      step: "late",
    });
    expect(ran).toEqual(["hold:u1", "pack:u1", "hold:u2", "unhold:h-u2"]);
  }, 60_000);
});
