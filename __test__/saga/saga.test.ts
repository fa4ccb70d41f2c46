import { describe, expect, it } from "vitest";
import { createTestCatga } from "../../ts/entries/testing.js";
import {
  CatgaConfigError,
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  defineSaga,
  InMemorySagaStore,
  type SagaInstance,
  type SagaStarted,
  type SagaStore,
  sagaOperations,
  silentLogger,
} from "../../ts/index.js";
import { eventually } from "../persistence/helpers.js";
import {
  Charge,
  host,
  Notify,
  type OrderState,
  orderSaga,
  PaymentCaptured,
  PlaceOrder,
  Refund,
  Release,
  Reserve,
  Ship,
  services,
} from "./fixtures.js";

async function instance(store: InMemorySagaStore | { get: InMemorySagaStore["get"] }, id: string) {
  return (await store.get("order", id)) as SagaInstance<OrderState> | undefined;
}

async function settled(store: { get: InMemorySagaStore["get"] }, id: string, status: string) {
  await eventually(async () => (await store.get("order", id))?.status === status, 10_000, `${id} ${status}`);
  return (await store.get("order", id)) as SagaInstance<OrderState>;
}

describe("sagas (in process)", () => {
  it("runs the steps in order, records each Result in the state, and completes", async () => {
    const s = services();
    const { catga, store } = host(s);
    const started = await catga.send(PlaceOrder, { orderId: "o1", amount: 10 });
    expect(started.unwrap()).toEqual({ sagaId: "o1", started: true });
    await settled(store, "o1", "waiting");
    await catga.publish(PaymentCaptured, { orderId: "o1", at: 7 });
    const done = await settled(store, "o1", "completed");
    expect(done.state).toEqual({
      orderId: "o1",
      amount: 10,
      express: false,
      reservationId: "r-o1",
      paymentId: "p-o1",
      paidAt: 7,
      trackingId: "t-o1",
    });
    expect(done.progress.done).toEqual(["reserve", "charge", "captured", "ship"]);
    // Step messages carry ids from saga + instance + step; the condition skipped "notify".
    expect(s.calls).toEqual(["reserve order:o1:reserve", "charge order:o1:charge", "ship order:o1:ship"]);
  });

  it("a second start of the same id creates nothing and runs no step again", async () => {
    const s = services();
    s.captureInline = true;
    const { catga, store } = host(s);
    await catga.send(PlaceOrder, { orderId: "o2", amount: 1 });
    await settled(store, "o2", "completed");
    const again = await catga.send(PlaceOrder, { orderId: "o2", amount: 1 });
    expect(again.unwrap()).toEqual({ sagaId: "o2", started: false });
    expect(s.calls.filter((c) => c.startsWith("reserve"))).toHaveLength(1);
  });

  it("runs a conditional step when its predicate holds", async () => {
    const s = services();
    s.captureInline = true;
    const { catga, store } = host(s);
    await catga.send(PlaceOrder, { orderId: "o3", amount: 1, express: true });
    await settled(store, "o3", "completed");
    expect(s.calls.map((c) => c.split(" ")[0])).toEqual(["reserve", "charge", "notify", "ship"]);
  });

  it("an event that arrives before its wait step is kept and used when the step is reached", async () => {
    const s = services();
    s.captureInline = true; // published from inside Charge, while the saga is still on "charge"
    const { catga, store } = host(s);
    await catga.send(PlaceOrder, { orderId: "o4", amount: 1 });
    const done = await settled(store, "o4", "completed");
    expect(done.state.paidAt).toBe(42);
  });

  it("a failing step compensates the completed steps in reverse order", async () => {
    const s = services();
    s.captureInline = true;
    s.fail.ship = 1;
    const { catga, store } = host(s);
    await catga.send(PlaceOrder, { orderId: "o5", amount: 1 });
    const done = await settled(store, "o5", "compensated");
    expect(s.calls).toEqual([
      "reserve order:o5:reserve",
      "charge order:o5:charge",
      "ship order:o5:ship",
      "refund order:o5:charge:undo:1",
      "release order:o5:reserve:undo:1",
    ]);
    expect(done.progress.error).toEqual({ code: "SHIPPING_CLOSED", message: "closed", step: "ship" });
    expect(done.progress.undo).toEqual([]);
  });

  it("a failing first step ends compensated with nothing to undo", async () => {
    const s = services();
    s.fail.reserve = 1;
    const { catga, store } = host(s);
    await catga.send(PlaceOrder, { orderId: "o6", amount: 1 });
    const done = await settled(store, "o6", "compensated");
    expect(done.progress.error?.code).toBe("INVENTORY_SHORT");
    expect(s.calls).toEqual(["reserve order:o6:reserve"]);
  });

  it("retries a compensation with a new id per attempt until it succeeds", async () => {
    const s = services();
    s.captureInline = true;
    s.fail.ship = 1;
    s.fail.refund = 2;
    const { catga, store } = host(s);
    await catga.send(PlaceOrder, { orderId: "o7", amount: 1 });
    await settled(store, "o7", "compensated");
    expect(s.calls.filter((c) => c.startsWith("refund"))).toEqual([
      "refund order:o7:charge:undo:1",
      "refund order:o7:charge:undo:2",
      "refund order:o7:charge:undo:3",
    ]);
    expect(s.calls.at(-1)).toBe("release order:o7:reserve:undo:1");
  });

  it("a compensation that keeps failing leaves the instance failed; an operator resumes or aborts it", async () => {
    const s = services();
    s.captureInline = true;
    s.fail.ship = 2;
    s.fail.release = 3;
    const { catga, store } = host(s, new InMemorySagaStore(), orderSaga(), { compensationAttempts: 3 });
    const ops = sagaOperations(catga, orderSaga(), store);
    await catga.send(PlaceOrder, { orderId: "o8", amount: 1 });
    const failed = await settled(store, "o8", "failed");
    expect(failed.progress.error).toMatchObject({
      step: "reserve",
      message: expect.stringContaining("failed 3 times"),
    });
    expect((await ops.list({ status: "failed" })).map((i) => i.id)).toEqual(["o8"]);
    const resumed = await ops.resume("o8", "inventory is back");
    expect(resumed.progress.operator).toMatchObject({ action: "resume", reason: "inventory is back" });
    const done = await settled(store, "o8", "compensated");
    expect(done.progress.undo).toEqual([]);
    expect(s.calls.filter((c) => c.startsWith("release"))).toEqual([
      "release order:o8:reserve:undo:1",
      "release order:o8:reserve:undo:2",
      "release order:o8:reserve:undo:3",
      "release order:o8:reserve:undo:1.1",
    ]);

    // A second one, aborted: nothing more runs.
    s.fail.release = 3;
    await catga.send(PlaceOrder, { orderId: "o9", amount: 1 });
    await settled(store, "o9", "failed");
    const aborted = await ops.abort("o9", "released by hand");
    expect(aborted.status).toBe("aborted");
    expect((await ops.get("o9"))?.progress.operator?.reason).toBe("released by hand");
    await expect(ops.abort("o9", "again")).rejects.toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
    await expect(ops.resume("nope", "x")).rejects.toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
    await expect(ops.resume("o9", "")).rejects.toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
    await expect(ops.resume("o9", "   ")).rejects.toMatchObject({ details: { field: "reason" } });
    await expect(ops.resume("o9", undefined as never)).rejects.toMatchObject({
      message: expect.stringContaining("got undefined"),
    });
    await expect(ops.list({ saga: "refund" } as never)).rejects.toMatchObject({ details: { field: "saga" } });
    await expect(ops.wake("o9")).rejects.toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
    // Wrong arguments are named at once, before anything is written.
    for (const [args, field] of [
      [[undefined, orderSaga(), store], "catga"],
      [[catga, undefined, store], "saga"],
      [[catga, orderSaga(), undefined], "store"],
      [[catga, {}, store], "saga"],
    ] as const)
      expect(() => (sagaOperations as (...a: unknown[]) => unknown)(...args)).toThrow(
        expect.objectContaining({ code: "CATGA_INVALID_ARGUMENT", details: { field } }),
      );
  });

  it("resume of an instance failed on the forward path undoes its done steps, skipping those with nothing to undo", async () => {
    const s = services();
    const { catga, store } = host(s);
    const now = Date.now();
    await store.insert({
      saga: "order",
      id: "o16",
      status: "failed",
      step: 3,
      revision: 1,
      state: { orderId: "o16", amount: 1, express: false, reservationId: "r-o16", paymentId: "p-o16" },
      progress: {
        startedAt: now,
        done: ["reserve", "charge", "captured"],
        error: { code: "CATGA_TRANSPORT", message: "lost", step: "ship" },
      },
      updatedAt: now,
    });
    await sagaOperations(catga, orderSaga(), store).resume("o16", "checked: not shipped");
    await settled(store, "o16", "compensated");
    // A resumed attempt's id names the resume (1.1): the first round's ids stay unused by it.
    expect(s.calls).toEqual(["refund order:o16:charge:undo:1.1", "release order:o16:reserve:undo:1.1"]);
  });

  it("a store outage mid-saga stops it; it resumes later from its last write, the step under the same id", async () => {
    const s = services();
    s.captureInline = true;
    const inner = new InMemorySagaStore();
    let failUpdates = 0;
    const store: SagaStore = {
      insert: (i) => inner.insert(i),
      get: (saga, id) => inner.get(saga, id),
      list: (q) => inner.list(q),
      update: (next) => {
        if (failUpdates > 0 && next.progress.done.includes("reserve")) {
          failUpdates--;
          return Promise.reject(
            new CatgaError("CATGA_STORE_FAILED", "postgres saga store: update failed: down"),
          );
        }
        return inner.update(next);
      },
    };
    const { catga } = host(s, store);
    failUpdates = 1; // the write recording reserve's Result fails
    // The start succeeds (the instance exists); its advance fails on the store, and is logged.
    (await catga.send(PlaceOrder, { orderId: "o17", amount: 1 })).unwrap();
    await eventually(() => failUpdates === 0, 5_000, "the failed write");
    await eventually(async () => (await instance(inner, "o17"))?.progress.inFlight === "reserve");
    const stalled = await instance(inner, "o17");
    expect(stalled?.status).toBe("running");
    expect(stalled?.progress.inFlight).toBe("reserve");
    // Later (a redelivered advance on NATS; here an operator's wake): it continues.
    await sagaOperations(catga, orderSaga(), store).wake("o17");
    await settled(inner, "o17", "completed");
    expect(s.calls.filter((c) => c.startsWith("reserve"))).toEqual([
      "reserve order:o17:reserve",
      "reserve order:o17:reserve",
    ]);
    // The failed write was pipelined with charge's send (docs/architecture/sagas.md): charge went out once
    // then, and once more after reserve was recorded, both times under its own id.
    expect(s.calls.filter((c) => c.startsWith("charge"))).toEqual([
      "charge order:o17:charge",
      "charge order:o17:charge",
    ]);
  });

  it("wake moves an instance left in progress (a start whose activation was lost)", async () => {
    const s = services();
    s.captureInline = true;
    const { catga, store } = host(s);
    const now = Date.now();
    await store.insert({
      saga: "order",
      id: "o15",
      status: "running",
      step: 0,
      revision: 1,
      state: { orderId: "o15", amount: 1, express: false },
      progress: { startedAt: now, done: [] },
      updatedAt: now,
    });
    await sagaOperations(catga, orderSaga(), store).wake("o15");
    await settled(store, "o15", "completed");
  });

  it("a wait that times out compensates (in-process timer without a scheduling transport)", async () => {
    const s = services();
    const { catga, store } = host(s, new InMemorySagaStore(), orderSaga({ waitMs: 50 }));
    await catga.send(PlaceOrder, { orderId: "o10", amount: 1 });
    const done = await settled(store, "o10", "compensated");
    expect(done.progress.error).toMatchObject({ code: "CATGA_TIMEOUT", step: "captured" });
    expect(s.calls.slice(-2)).toEqual(["refund order:o10:charge:undo:1", "release order:o10:reserve:undo:1"]);
    // A late event changes nothing.
    await catga.publish(PaymentCaptured, { orderId: "o10", at: 1 });
    expect((await instance(store, "o10"))?.status).toBe("compensated");
  });

  it("a step past its timeoutMs fails with CATGA_TIMEOUT and is compensated too (its effect may have happened)", async () => {
    const s = services();
    s.captureInline = true;
    s.shipDelayMs = 300;
    const saga = defineSaga<OrderState>("order")
      .startedBy(PlaceOrder, {
        id: (p) => p.orderId,
        init: (p) => ({ orderId: p.orderId, amount: p.amount, express: false }),
      })
      .step("reserve", {
        send: Reserve,
        payload: (st) => ({ orderId: st.orderId }),
        result: (st, r) => ({ ...st, reservationId: r.reservationId }),
        timeoutMs: 20,
      })
      .compensate("reserve", {
        send: Release,
        payload: (st) => ({ reservationId: st.reservationId ?? "none" }),
      });
    const slow = services();
    const { catga, store } = host(slow, new InMemorySagaStore(), orderSaga({ shipTimeoutMs: 30 }));
    await catga.send(PlaceOrder, { orderId: "o11", amount: 1 });
    await catga.publish(PaymentCaptured, { orderId: "o11", at: 1 });
    expect(saga.name).toBe("order");
    slow.shipDelayMs = 0;
    const done = await settled(store, "o11", "completed");
    expect(done.state.trackingId).toBe("t-o11");

    const s2 = services();
    s2.captureInline = true;
    s2.shipDelayMs = 500;
    const second = host(s2, new InMemorySagaStore(), orderSaga({ shipTimeoutMs: 30 }));
    await second.catga.send(PlaceOrder, { orderId: "o12", amount: 1 });
    const timedOut = await settled(second.store, "o12", "compensated");
    expect(timedOut.progress.error).toMatchObject({ code: "CATGA_TIMEOUT", step: "ship" });
    expect(timedOut.progress.done).toEqual(["reserve", "charge", "captured"]);
  });

  it("past the saga deadline no further step runs: it compensates", async () => {
    const s = services();
    const { catga, store } = host(s, new InMemorySagaStore(), orderSaga({ deadlineMs: 80 }));
    await catga.send(PlaceOrder, { orderId: "o13", amount: 1 });
    const done = await settled(store, "o13", "compensated");
    expect(done.progress.error).toMatchObject({
      code: "CATGA_TIMEOUT",
      message: expect.stringContaining("saga deadline"),
    });
    expect(s.calls.some((c) => c.startsWith("ship"))).toBe(false);
  });

  it("a deadline or step timeout beyond a timer's range bounds the steps, not ends them at once", async () => {
    // Before: a bound over 2^31-1 ms (about 24.8 days) was handed to one timer, which fires after
    // 1 ms: every step failed with CATGA_TIMEOUT and the saga compensated (found from outside).
    const Start = defineCommand("long.start").payload<{ id: string }>().returns<SagaStarted>();
    const Work = defineCommand("long.work").returns<number>();
    const saga = defineSaga<{ n?: number }>("long")
      .startedBy(Start, { id: (p) => p.id, init: () => ({}) })
      .step("work", {
        send: Work,
        payload: () => ({}),
        result: (_, n) => ({ n }),
        timeoutMs: 40 * 86_400_000,
      })
      .deadlineMs(60 * 86_400_000);
    const store = new InMemorySagaStore();
    const catga = createCatga({ logger: silentLogger })
      .handle(Work, async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        return 7;
      })
      .saga(saga, { store })
      .build();
    (await catga.send(Start, { id: "l1" })).unwrap();
    await eventually(async () => (await store.get("long", "l1"))?.status !== "running", 10_000, "l1 settled");
    const done = await store.get("long", "l1");
    expect(done?.progress.error).toBeUndefined();
    expect(done).toMatchObject({ status: "completed", state: { n: 7 } });
  });

  it("a bad instance id is a coded error of the start, and nothing is stored", async () => {
    const s = services();
    const { catga, store } = host(s);
    const result = await catga.send(PlaceOrder, { orderId: "has space", amount: 1 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe("CATGA_INVALID_ARGUMENT");
    expect(await store.list({ saga: "order" })).toEqual([]);
  });

  it("an init that returns no object (from JavaScript) is a coded error of the start, and nothing is stored", async () => {
    const Begin = defineCommand("plain.begin").payload<{ id: string }>();
    const Touch = defineCommand("plain.touch").payload<{ id: string }>();
    const saga = defineSaga<{ id: string }>("plain")
      .startedBy(Begin, { id: (p) => p.id, init: (p) => p.id as never })
      .step("touch", { send: Touch, payload: (st) => ({ id: st.id }) });
    const store = new InMemorySagaStore();
    const catga = createCatga({ logger: silentLogger })
      .handle(Touch, () => undefined)
      .saga(saga, { store })
      .build();
    const result = await catga.send(Begin, { id: "p1" });
    expect(result.ok || result.error).toMatchObject({
      code: "CATGA_INVALID_ARGUMENT",
      details: { field: "init" },
    });
    expect(await store.list({ saga: "plain" })).toEqual([]);
  });

  it("runs each step through the existing behaviors (retry) before it counts as failed", async () => {
    const calls: string[] = [];
    let left = 2;
    const Flaky = defineCommand("flaky.do").payload<{ n: number }>().returns<{ ok: true }>();
    const Start = defineEvent("flaky.start").payload<{ id: string }>();
    const saga = defineSaga<{ id: string; done?: boolean }>("flaky")
      .startedBy(Start, { id: (p) => p.id, init: (p) => ({ id: p.id }) })
      .step("do", { send: Flaky, payload: () => ({ n: 1 }), result: (st) => ({ ...st, done: true }) });
    const store = new InMemorySagaStore();
    const catga = createCatga({ logger: silentLogger })
      .withRetry({ maxAttempts: 3, baseDelayMs: 1 })
      .handle(Flaky, () => {
        calls.push("do");
        if (left-- > 0) throw new Error("flaky"); // CATGA_HANDLER_FAILED: retried by default
        return { ok: true as const };
      })
      .saga(saga, { store })
      .build();
    await catga.publish(Start, { id: "f1" });
    await eventually(async () => (await store.get("flaky", "f1"))?.status === "completed");
    expect(calls).toEqual(["do", "do", "do"]);
  });

  it("a timeout behavior bounds each step's send, not the whole saga", async () => {
    const Slow = defineCommand("slow.do").payload<{ ms: number }>();
    const Start = defineEvent("slow.start").payload<{ id: string }>();
    const saga = defineSaga<{ id: string }>("slow")
      .startedBy(Start, { id: (p) => p.id, init: (p) => ({ id: p.id }) })
      .step("a", { send: Slow, payload: () => ({ ms: 60 }) })
      .step("b", { send: Slow, payload: () => ({ ms: 60 }) })
      .step("c", { send: Slow, payload: () => ({ ms: 60 }) });
    const store = new InMemorySagaStore();
    const catga = createCatga({ logger: silentLogger })
      .withTimeout({ ms: 150 }) // more than a step, less than the three
      .handle(Slow, ({ ms }) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
      .saga(saga, { store })
      .build();
    (await catga.publish(Start, { id: "s1" })).unwrap(); // the start is not cut by the timeout either
    await eventually(async () => (await store.get("slow", "s1"))?.status === "completed");
    expect((await store.get("slow", "s1"))?.progress.done).toEqual(["a", "b", "c"]);
  });

  it("state size: a warning past stateWarningBytes, CATGA_LIMIT past maxStateBytes (start refused, or the step compensated)", async () => {
    const Grow = defineCommand("grow.do").payload<{ bytes: number }>().returns<{ blob: string }>();
    const Shrink = defineCommand("grow.undo").payload<{ id: string }>();
    const Start = defineCommand("grow.start").payload<{ id: string; blob: string }>().returns<SagaStarted>();
    const saga = defineSaga<{ id: string; blob: string }>("grow")
      .startedBy(Start, { id: (p) => p.id, init: (p) => ({ id: p.id, blob: p.blob }) })
      .step("grow", {
        send: Grow,
        payload: () => ({ bytes: 300 }),
        result: (st, r) => ({ ...st, blob: r.blob }),
      })
      .compensate("grow", { send: Shrink, payload: (st) => ({ id: st.id }) });
    const warnings: unknown[] = [];
    const undone: string[] = [];
    const store = new InMemorySagaStore();
    const catga = createCatga({
      logger: {
        ...silentLogger,
        warn: (message, fields) => warnings.push({ message, bytes: fields?.bytes }),
      },
    })
      .handle(Grow, ({ bytes }) => ({ blob: "x".repeat(bytes) }))
      .handle(Shrink, ({ id }) => {
        undone.push(id);
      })
      .saga(saga, { store, stateWarningBytes: 100, maxStateBytes: 250 })
      .build();
    const refused = await catga.send(Start, { id: "g1", blob: "y".repeat(400) });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.code).toBe("CATGA_LIMIT");
    expect(await store.get("grow", "g1")).toBeUndefined();

    (await catga.send(Start, { id: "g2", blob: "y".repeat(120) })).unwrap();
    await eventually(async () => (await store.get("grow", "g2"))?.status === "compensated");
    expect((await store.get("grow", "g2"))?.progress.error?.code).toBe("CATGA_LIMIT");
    expect(undone).toEqual(["g2"]); // its effect happened: compensated
    expect(warnings).toEqual([{ message: "saga state is large", bytes: 141 }]); // {"id":"g2","blob":"y…"} with 120 y
  });

  it("state size past the limits: reported to the telemetry; a too-large event fails its wait step, keeping the state stored before", async () => {
    const Start = defineCommand("big.start").payload<{ id: string }>().returns<SagaStarted>();
    const Note = defineCommand("big.note").payload<{ id: string }>().returns<{ text: string }>();
    const Forget = defineCommand("big.forget").payload<{ id: string }>();
    const Arrived = defineEvent("big.arrived").payload<{ id: string; body: string }>();
    const saga = defineSaga<{ id: string; note?: string; body?: string }>("big")
      .startedBy(Start, { id: (p) => p.id, init: (p) => ({ id: p.id }) })
      .step("note", {
        send: Note,
        payload: (st) => ({ id: st.id }),
        result: (st, r) => ({ ...st, note: r.text }),
      })
      .compensate("note", { send: Forget, payload: (st) => ({ id: st.id }) })
      .waitFor("arrived", {
        event: Arrived,
        key: (e) => e.id,
        timeoutMs: 10_000,
        result: (st, e) => ({ ...st, body: e.body }),
      });
    const reports: unknown[] = [];
    const forgotten: string[] = [];
    const store = new InMemorySagaStore();
    const catga = createCatga({ logger: silentLogger })
      .withSagaTelemetry({
        start: () => ({ trace: undefined, end: () => {} }),
        step: (_info, run) => run(),
        ended: () => {},
        largeState: ({ id, step, bytes, limit }) => reports.push({ id, step, bytes, limit }),
      })
      .handle(Note, () => ({ text: "n".repeat(150) }))
      .handle(Forget, ({ id }) => {
        forgotten.push(id);
      })
      .saga(saga, { store, stateWarningBytes: 100, maxStateBytes: 400 })
      .build();
    (await catga.send(Start, { id: "b1" })).unwrap();
    await eventually(async () => (await store.get("big", "b1"))?.status === "waiting");
    const before = await store.get("big", "b1");
    await catga.publish(Arrived, { id: "b1", body: "x".repeat(500) });
    await eventually(async () => (await store.get("big", "b1"))?.status === "compensated");
    const after = await store.get("big", "b1");
    expect(after?.progress.error).toMatchObject({ code: "CATGA_LIMIT", step: "arrived" });
    expect(after?.state).toEqual(before?.state); // nothing stored before was lost
    expect(forgotten).toEqual(["b1"]); // the done step undone; the wait had nothing to undo
    expect(reports).toEqual([
      { id: "b1", step: "note", bytes: 171, limit: "warning" }, // {"id":"b1","note":"n…"} with 150 n
      { id: "b1", step: "arrived", bytes: 681, limit: "max" },
    ]);
  });

  it("a stateWarningBytes not below maxStateBytes is CatgaConfigError at build", () => {
    const saga = defineSaga<{ id: string }>("sizes")
      .startedBy(PlaceOrder, { id: (p) => p.orderId, init: (p) => ({ id: p.orderId }) })
      .step("reserve", { send: Reserve, payload: (st) => ({ orderId: st.id }) });
    const build = (options: { stateWarningBytes?: number; maxStateBytes?: number }) => () =>
      createCatga({ logger: silentLogger })
        .handle(Reserve, () => ({ reservationId: "r" }))
        .saga(saga, { store: new InMemorySagaStore(), ...options })
        .build();
    expect(build({ maxStateBytes: 1024 })).toThrow(
      expect.objectContaining({
        issues: [
          {
            path: "sagas.sizes.options.stateWarningBytes",
            message:
              "must be below maxStateBytes (1024), got 1024: a warning past the hard limit never fires",
          },
        ],
      }),
    );
    expect(build({ maxStateBytes: 1025 })).not.toThrow();
  });

  it("two events for one instance at once: exactly one moves it", async () => {
    const s = services();
    const { catga, store } = host(s);
    await catga.send(PlaceOrder, { orderId: "o14", amount: 1 });
    await Promise.all([
      catga.publish(PaymentCaptured, { orderId: "o14", at: 1 }),
      catga.publish(PaymentCaptured, { orderId: "o14", at: 2 }),
      catga.publish(PaymentCaptured, { orderId: "o14", at: 3 }),
    ]);
    const done = await settled(store, "o14", "completed");
    expect([1, 2, 3]).toContain(done.state.paidAt);
    expect(s.calls.filter((c) => c.startsWith("ship"))).toHaveLength(1);
  });
});

describe("saga definitions", () => {
  const ok = () =>
    defineSaga<{ id: string }>("good").startedBy(PlaceOrder, {
      id: (p) => p.orderId,
      init: (p) => ({ id: p.orderId }),
    });
  const build = (saga: ReturnType<typeof ok>) => () =>
    createCatga({ logger: silentLogger })
      .handle(Reserve, () => ({ reservationId: "r" }))
      .handle(Release, () => {})
      .saga(saga, { store: new InMemorySagaStore() })
      .build();
  const issues = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(CatgaConfigError);
      return (error as CatgaConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    }
    throw new Error("expected a CatgaConfigError");
  };

  it("reports misspelt step, wait, branch, start and compensation options instead of ignoring them", () => {
    // Before: { timeoutMS: 5 } built, and the step ran unbounded (found from outside). A JS
    // caller's view: no types, so the misspelt keys reach the definition.
    type Loose = { [method: string]: (...args: unknown[]) => Loose };
    type St = { id: string };
    const saga = (defineSaga<St>("good") as unknown as Loose)
      .startedBy?.(PlaceOrder, {
        id: (p: { orderId: string }) => p.orderId,
        init: () => ({ id: "x" }),
        idd: 1,
      })
      .step?.("reserve", { send: Reserve, payload: (st: St) => ({ orderId: st.id, sku: "s" }), timeoutMS: 5 })
      .compensate?.("reserve", { send: Release, payload: () => ({ reservationId: "r" }), retries: 3 })
      .parallel?.("both", {
        a: { send: Reserve, payload: (st: St) => ({ orderId: st.id, sku: "a" }), when: () => true },
        b: { send: Reserve, payload: (st: St) => ({ orderId: st.id, sku: "b" }) },
      })
      .waitFor?.("paid", {
        event: PaymentCaptured,
        key: (e: { orderId: string }) => e.orderId,
        timeoutMs: 10,
        timeout: 5,
      });
    const paths = issues(build(saga as unknown as ReturnType<typeof ok>)).map((issue) =>
      issue.slice(0, issue.indexOf(":")),
    );
    expect(paths.sort()).toEqual([
      "sagas.good.compensations.reserve.retries",
      "sagas.good.startedBy.idd",
      "sagas.good.steps.both.branches.a.when",
      "sagas.good.steps.paid.timeout",
      "sagas.good.steps.reserve.timeoutMS",
    ]);
  });

  it("reports a result or when that is not a function (it failed at run time as a TypeError)", () => {
    type St = { id: string };
    const saga = defineSaga<St>("good")
      .startedBy(PlaceOrder, { id: (p) => p.orderId, init: () => ({ id: "x" }) })
      .step("reserve", {
        send: Reserve,
        payload: (st) => ({ orderId: st.id, sku: "s" }),
        result: 3 as never,
        when: true as never,
      })
      .waitFor("paid", {
        event: PaymentCaptured,
        key: (e) => e.orderId,
        timeoutMs: 10,
        result: "x" as never,
        when: null as never,
      });
    expect(issues(build(saga as unknown as ReturnType<typeof ok>))).toEqual([
      "sagas.good.steps.reserve.result: must be a function of the state and the step's result, got 3",
      "sagas.good.steps.reserve.when: must be a function of the state, got boolean",
      'sagas.good.steps.paid.result: must be a function of the state and the event\'s payload, got "x"',
      "sagas.good.steps.paid.when: must be a function of the state, got null",
    ]);
  });

  it("no steps, and no start message, are CatgaConfigError at build", () => {
    expect(issues(build(ok()))).toEqual(["sagas.good.steps: a saga needs at least one step"]);
    const noStart = defineSaga("nostart").step("a", { send: Reserve, payload: () => ({ orderId: "x" }) });
    expect(
      issues(() =>
        createCatga({ logger: silentLogger })
          .handle(Reserve, () => ({ reservationId: "r" }))
          .saga(noStart, { store: new InMemorySagaStore() })
          .build(),
      ),
    ).toEqual(["sagas.nostart.startedBy: a saga needs a start message"]);
  });

  it("duplicate step names and a compensation without its step are listed together", () => {
    const saga = ok()
      .step("a", { send: Reserve, payload: (s) => ({ orderId: s.id }) })
      .step("a", { send: Reserve, payload: (s) => ({ orderId: s.id }) })
      // @ts-expect-error: "b" names no step
      .compensate("b", { send: Release, payload: () => ({ reservationId: "r" }) });
    expect(issues(build(saga as never))).toEqual([
      "sagas.good.steps.a: duplicate step name",
      "sagas.good.compensations.b: names no step declared before it",
    ]);
  });

  it("bad step options, bad names, a twice-compensated step and bad host options are reported", () => {
    const saga = ok()
      .step("a", { send: Reserve, payload: (s) => ({ orderId: s.id }), timeoutMs: -1 })
      .step("b c", { send: Reserve, payload: (s) => ({ orderId: s.id }) })
      .compensate("a", { send: Release, payload: () => ({ reservationId: "r" }) })
      .compensate("a", { send: Release, payload: () => ({ reservationId: "r" }) })
      .waitFor("w", { event: PaymentCaptured, key: (e) => e.orderId, timeoutMs: 0 })
      .deadlineMs(Number.NaN)
      .deadlineMs(1000)
      .deadlineMs(2000);
    expect(issues(build(saga as never))).toEqual([
      "sagas.good.steps.a.timeoutMs: must be a positive finite number, got -1",
      `sagas.good.steps: step name "b c" must be 1-100 ASCII letters, digits, '_' or '-'`,
      "sagas.good.compensations.a: is declared twice",
      "sagas.good.steps.w.timeoutMs: must be a positive finite number, got 0",
      "sagas.good.deadlineMs: must be a positive finite number, got NaN",
      "sagas.good.deadlineMs: is declared twice (1000, then 2000): one deadline per saga",
    ]);
    const fine = ok().step("a", { send: Reserve, payload: (s) => ({ orderId: s.id }) });
    expect(
      issues(() =>
        createCatga({ logger: silentLogger })
          .handle(Reserve, () => ({ reservationId: "r" }))
          // @ts-expect-error: store is required
          .saga(fine, { compensationAttempts: 0 })
          .build(),
      ),
    ).toEqual([
      "sagas.good.options.compensationAttempts: must be an integer in [1, 1000], got 0",
      "sagas.good.options.store: is required (a SagaStore)",
    ]);
  });

  it("a saga name that cannot be a contract name is refused at once", () => {
    expect(() => defineSaga("bad name")).toThrow(expect.objectContaining({ code: "CATGA_INVALID_ARGUMENT" }));
  });

  it("a step sending a contract nobody handles does not compile, nor build", () => {
    const saga = ok().step("charge", { send: Charge, payload: (s) => ({ orderId: s.id, amount: 1 }) });
    const attempt = () =>
      createCatga({ logger: silentLogger })
        // @ts-expect-error: payments.charge is neither handled here nor declared .remote()
        .saga(saga, { store: new InMemorySagaStore() })
        .build();
    expect(issues(attempt)).toEqual([
      "sagas.good: sends payments.charge, which is neither handled here nor declared .remote()",
    ]);
  });
});

describe("sagas under the test harness", () => {
  it("runs with stubbed steps: createTestCatga(builder).stub(...) replaces a step's handler", async () => {
    const s = services();
    s.captureInline = true;
    const store = new InMemorySagaStore();
    const builder = createCatga({ logger: silentLogger })
      .handle(Reserve, () => ({ reservationId: "real" }))
      .handle(Release, () => {})
      .handle(Charge, () => ({ paymentId: "real" }))
      .handle(Refund, () => {})
      .handle(Notify, () => {})
      .handle(Ship, () => ({ trackingId: "real" }))
      .saga(orderSaga({ waitMs: 50 }), { store });
    const test = createTestCatga(builder).stub(Ship, () => {
      throw new CatgaError("SHIPPING_CLOSED", "stubbed");
    });
    await test.send(PlaceOrder, { orderId: "h1", amount: 1 });
    await test.publish(PaymentCaptured, { orderId: "h1", at: 1 });
    const done = await settled(store, "h1", "compensated");
    expect(done.progress.error?.code).toBe("SHIPPING_CLOSED");
    expect(test.sent.map((m) => m.type)).toEqual(
      expect.arrayContaining([
        "orders.place",
        "inventory.reserve",
        "payments.charge",
        "shipping.ship",
        "payments.refund",
        "inventory.release",
      ]),
    );
  });

  it("on a virtual clock, a wait times out only when the test advances past it", async () => {
    const store = new InMemorySagaStore();
    const builder = createCatga({ logger: silentLogger })
      .handle(Reserve, () => ({ reservationId: "r" }))
      .handle(Release, () => {})
      .handle(Charge, () => ({ paymentId: "p" }))
      .handle(Refund, () => {})
      .handle(Notify, () => {})
      .handle(Ship, () => ({ trackingId: "t" }))
      .saga(orderSaga({ waitMs: 60 * 60_000, deadlineMs: 24 * 3600_000 }), {
        store,
        compensationBackoffMs: 1000,
      });
    let releases = 0;
    const test = createTestCatga(builder).stub(Release, () => {
      if (++releases <= 2) throw new CatgaError("INVENTORY_DOWN", "stubbed");
    });
    const clock = test.useVirtualClock(1_000_000);
    await test.send(PlaceOrder, { orderId: "v1", amount: 1 });
    await clock.advance(0);
    expect(await store.get("order", "v1")).toMatchObject({ status: "waiting", updatedAt: 1_000_000 });
    expect((await store.get("order", "v1"))?.progress.waitUntil).toBe(1_000_000 + 3600_000);

    await clock.advance(3600_000 - 1); // one ms before the timeout: still waiting
    expect((await store.get("order", "v1"))?.status).toBe("waiting");
    await clock.advance(1); // its timer fires at waitUntil (advance fires what comes due)
    // Timed out: refund ran, release fails twice, retried after each backoff (1 s, then 2 s).
    const compensating = await store.get("order", "v1");
    expect(compensating).toMatchObject({
      status: "compensating",
      progress: { error: { code: "CATGA_TIMEOUT" } },
    });
    expect(compensating?.progress.undoAttempts).toBe(1);
    await clock.advance(1000);
    expect((await store.get("order", "v1"))?.progress.undoAttempts).toBe(2);
    await clock.advance(1999);
    expect((await store.get("order", "v1"))?.progress.undoAttempts).toBe(2);
    await clock.advance(1);
    expect(await store.get("order", "v1")).toMatchObject({
      status: "compensated",
      updatedAt: 1_000_000 + 3600_000 + 3000,
    });
    expect(test.payloadsOf(Release)).toHaveLength(3);
  });
});
