import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { decodeOutcome, encodeOutcome } from "../../ts/persistence/outcome.js";

// Outcomes stored before objects were written as msgpackr records (plain MessagePack maps) are
// still read: a store keeps them for their TTL across an upgrade.
describe("stored outcome format", () => {
  it("reads outcomes written as plain MessagePack maps", () => {
    const before = new Packr({ useRecords: false, structuredClone: true, int64AsType: "bigint" });
    const value = {
      receipt: "r-1",
      at: new Date(5),
      big: 2n ** 70n,
      items: [{ sku: "a" }],
      tags: new Set(["x"]),
    };
    const bytes = Buffer.concat([Buffer.from([1]), before.pack(value)]);
    expect(decodeOutcome(bytes)).toEqual({ value });
  });

  it("reads back what it writes, a cyclic object included", () => {
    const node: { id: number; next?: unknown } = { id: 1 };
    node.next = { back: node };
    const read = decodeOutcome(encodeOutcome({ value: node })).value as typeof node & {
      next: { back: unknown };
    };
    expect(read.id).toBe(1);
    expect(read.next.back).toBe(read);
  });
});
