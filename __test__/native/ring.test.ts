import { describe, expect, it } from "vitest";
import { HashRing } from "../../ts/entries/wire.js";
import { CatgaError } from "../../ts/index.js";

const keys = Array.from({ length: 5000 }, (_, i) => `order-${i}`);

describe("HashRing", () => {
  it("is empty until nodes are added", () => {
    expect(new HashRing().lookup("k")).toBeUndefined();
  });

  it("moves about 1/N of keys when a node joins, all to the new node", () => {
    const ring = new HashRing();
    for (let i = 0; i < 4; i++) ring.addNode(`node-${i}`);
    const before = keys.map((k) => ring.lookup(k));
    ring.addNode("node-4");
    const after = keys.map((k) => ring.lookup(k));
    const moved = after.filter((owner, i) => owner !== before[i]);
    expect(moved.length / keys.length).toBeGreaterThan(0.12);
    expect(moved.length / keys.length).toBeLessThan(0.28);
    expect(new Set(moved)).toEqual(new Set(["node-4"]));
  });

  it("agrees across instances built in different orders", () => {
    const a = new HashRing(64).addNode("x").addNode("y", 2).addNode("z");
    const b = new HashRing(64).addNode("z").addNode("x").addNode("y", 2);
    expect(keys.map((k) => a.lookup(k))).toEqual(keys.map((k) => b.lookup(k)));
    expect(a.size).toBe(3);
    expect(a.nodes()).toContainEqual({ id: "y", weight: 2 });
    expect(a.removeNode("y")).toBe(true);
    expect(a.has("y")).toBe(false);
  });

  it("rejects bad arguments with CATGA_INVALID_ARGUMENT naming the field", () => {
    expect(() => new HashRing(0)).toThrowError(CatgaError);
    const ring = new HashRing();
    try {
      ring.addNode("a", 0);
      expect.unreachable();
    } catch (error) {
      expect((error as CatgaError).code).toBe("CATGA_INVALID_ARGUMENT");
      expect((error as CatgaError).message).toMatch(/^weight/);
    }
    expect(() => ring.addNode("")).toThrowError(/nodeId/);
  });

  it("refuses numbers napi would wrap or truncate (2**32 + 1 would become 1), naming the value", () => {
    const ring = new HashRing();
    for (const weight of [2 ** 32 + 1, 1.7, -1, Number.NaN]) {
      expect(() => ring.addNode("b", weight)).toThrowError(new RegExp(`^weight .*got ${weight}`));
    }
    for (const virtualNodes of [2 ** 32 + 5, 1.9]) {
      expect(() => new HashRing(virtualNodes)).toThrowError(/virtualNodes/);
    }
    expect(ring.size).toBe(0);
    // has() and nodes() map napi's own argument errors to CatgaError too.
    expect(() => ring.has(5 as unknown as string)).toThrowError(CatgaError);
  });
});
