import { describe, expect, it } from "vitest";
import type { SagaInstance, SagaStore } from "../../ts/index.js";

export interface SagaStoreContractOptions {
  /** The same kind of store pointed at a server that is not there. */
  readonly down?: () => Promise<SagaStore>;
}

/** What every SagaStore must do, run against each implementation (in-memory, PostgreSQL). */
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
  });
}
