import { describe, expect, it } from "vitest";
import { type SagaInstance, type SagaStore, sagaOperations } from "../../ts/index.js";
import { eventually } from "../persistence/helpers.js";
import { errorLog, host, orderSaga, PlaceOrder, services } from "./fixtures.js";

/** A store whose server the test stops and starts again (by PID), keeping what it stored. */
export interface SagaStoreOutage {
  readonly store: SagaStore;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface SagaStoreContractOptions {
  /** The same kind of store pointed at a server that is not there. */
  readonly down?: () => Promise<SagaStore>;
  /** A store on a private server, for the outage cases (where one can be stopped honestly). */
  readonly outage?: () => Promise<SagaStoreOutage>;
}

/** What every SagaStore must do, run against each implementation (in-memory, PostgreSQL, NATS KV). */
export function describeSagaStoreContract(
  name: string,
  factory: () => Promise<SagaStore>,
  options: SagaStoreContractOptions = {},
): void {
  describe(`SagaStore contract: ${name}`, () => {
    const instance = (id: string, change: Partial<SagaInstance> = {}): SagaInstance => ({
      saga: "order",
      id,
      status: "running",
      step: 0,
      revision: 1,
      state: { orderId: id, lines: [{ sku: "é-1", qty: 2 }], note: null },
      progress: { startedAt: 1_700_000_000_000, done: [] },
      updatedAt: 1_700_000_000_123,
      ...change,
    });

    it("inserts once per (saga, id) and reads back what was written", async () => {
      const store = await factory();
      expect(await store.insert(instance("a"))).toBe(true);
      expect(await store.insert(instance("a", { step: 3 }))).toBe(false);
      expect(await store.insert(instance("a", { saga: "other" }))).toBe(true);
      expect(await store.get("order", "a")).toEqual(instance("a"));
      expect(await store.get("order", "missing")).toBeUndefined();
    });

    it("updates only at the next revision: a stale writer gets false and changes nothing", async () => {
      const store = await factory();
      await store.insert(instance("b"));
      const next = instance("b", {
        revision: 2,
        status: "compensating",
        step: 2,
        state: { orderId: "b", paid: true },
        progress: { startedAt: 1, done: ["x"], undo: ["x"], error: { code: "E", message: "m", step: "y" } },
        updatedAt: 1_700_000_000_999,
      });
      expect(await store.update(next)).toBe(true);
      expect(await store.update(instance("b", { revision: 2, step: 9 }))).toBe(false); // revision 1 is gone
      expect(await store.update(instance("b", { revision: 4, step: 9 }))).toBe(false); // skips one
      expect(await store.update(instance("missing", { revision: 2 }))).toBe(false);
      expect(await store.get("order", "b")).toEqual(next);
    });

    it("of concurrent writers at one revision exactly one wins", async () => {
      const store = await factory();
      await store.insert(instance("c"));
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.update(instance("c", { revision: 2, step: i + 1 }))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true) + 1;
      expect((await store.get("order", "c"))?.step).toBe(winner);
    });

    it("lists one saga's instances by id, by status, in pages", async () => {
      const store = await factory();
      for (const id of ["l3", "l1", "l2", "l4"])
        await store.insert(instance(id, { saga: "listed", status: id === "l2" ? "failed" : "running" }));
      await store.insert(instance("l0", { saga: "elsewhere", status: "failed" }));
      expect((await store.list({ saga: "listed" })).map((i) => i.id)).toEqual(["l1", "l2", "l3", "l4"]);
      expect((await store.list({ saga: "listed", status: "failed" })).map((i) => i.id)).toEqual(["l2"]);
      expect((await store.list({ saga: "listed", limit: 2 })).map((i) => i.id)).toEqual(["l1", "l2"]);
      expect((await store.list({ saga: "listed", limit: 2, after: "l2" })).map((i) => i.id)).toEqual([
        "l3",
        "l4",
      ]);
      await expect(store.list({ saga: "listed", limit: 0 })).rejects.toMatchObject({
        code: "CATGA_INVALID_ARGUMENT",
      });
      // From JavaScript: a misspelt key or status used to list every status, silently.
      for (const [query, field] of [
        [{ saga: "listed", staus: "failed" }, "staus"],
        [{ saga: "listed", status: "done" }, "status"],
        [{ saga: "listed", after: 3 }, "after"],
        [{ status: "failed" }, "saga"],
        [null, "query"],
      ] as const) {
        await expect(store.list(query as never)).rejects.toMatchObject({
          code: "CATGA_INVALID_ARGUMENT",
          details: { field },
        });
      }
    });

    if (options.down !== undefined) {
      const down = options.down;
      it("a store that cannot be reached fails with CATGA_STORE_FAILED naming the operation", async () => {
        const store = await down();
        await expect(store.get("order", "x")).rejects.toMatchObject({ code: "CATGA_STORE_FAILED" });
        await expect(store.insert(instance("x"))).rejects.toMatchObject({ code: "CATGA_STORE_FAILED" });
        await expect(store.update(instance("x", { revision: 2 }))).rejects.toMatchObject({
          code: "CATGA_STORE_FAILED",
        });
      });
    }

    if (options.outage !== undefined) {
      const outage = options.outage;
      it("fails with CATGA_STORE_FAILED while its server is down, and serves what it kept once back", async () => {
        const { store, stop, start } = await outage();
        await store.insert(instance("o"));
        await stop();
        await expect(store.get("order", "o")).rejects.toMatchObject({ code: "CATGA_STORE_FAILED" });
        await expect(store.update(instance("o", { revision: 2 }))).rejects.toMatchObject({
          code: "CATGA_STORE_FAILED",
        });
        await expect(store.list({ saga: "order" })).rejects.toMatchObject({ code: "CATGA_STORE_FAILED" });
        await start();
        await eventually(
          () =>
            store.get("order", "o").then(
              (i) => i !== undefined,
              () => false,
            ),
          20_000,
        );
        // A write that failed for its caller may still land (a client that buffered it through the
        // outage; a commit whose answer was lost): the store holds one of the two, never a mix.
        const back = await store.get("order", "o");
        expect([instance("o"), instance("o", { revision: 2 })]).toContainEqual(back);
        const next = (back?.revision ?? 0) + 1;
        expect(await store.update(instance("o", { revision: next, step: 1 }))).toBe(true);
        expect((await store.list({ saga: "order" })).map((i) => [i.id, i.revision])).toEqual([["o", next]]);
      });

      it("a saga whose write failed in an outage continues from its last write once woken", async () => {
        const { store, stop, start } = await outage();
        const s = services();
        s.captureInline = true;
        s.shipDelayMs = 500;
        const logger = errorLog();
        const { catga } = host(s, store, orderSaga(), { logger });
        await catga.send(PlaceOrder, { orderId: "out1", amount: 5 });
        await eventually(() => s.calls.some((c) => c.startsWith("ship ")), 20_000);
        await stop(); // ship is in flight: recording its Result fails
        await eventually(() => logger.errors.some((e) => e.message.includes("saga advance failed")), 30_000);
        expect(logger.errors[0]?.fields).toMatchObject({ id: "out1" });
        await start();
        const ops = sagaOperations(catga, orderSaga(), store);
        // Woken once the store answers, unless the write that failed landed after all and ended it.
        const woken = async () => {
          const instance = await store.get("order", "out1").catch(() => undefined);
          if (instance?.status === "completed") return true;
          return ops.wake("out1").then(
            () => true,
            () => false,
          );
        };
        await eventually(woken, 20_000);
        await eventually(async () => (await store.get("order", "out1"))?.status === "completed", 20_000);
        // The step in flight at the outage is sent again under its own id, unless the write that
        // failed for the engine landed after all (then it moved on); nothing else repeats.
        const ships = s.calls.filter((c) => c.startsWith("ship "));
        expect(ships.length).toBeLessThanOrEqual(2);
        expect(new Set(ships)).toEqual(new Set(["ship order:out1:ship"]));
        expect(s.calls.filter((c) => c.startsWith("charge "))).toHaveLength(1);
      });
    }
  });
}
