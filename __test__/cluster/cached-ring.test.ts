import { describe, expect, it } from "vitest";
import { CachedRing, ringPoints } from "../../ts/cluster/cached-ring.js";
import { HashRing } from "../../ts/native/ring.js";

describe("the shard ring over member weights", () => {
  it("places a whole weight's points where a ring of 160 virtual nodes does (mixed versions agree)", () => {
    const members = [
      { instanceId: "a", weight: 1 },
      { instanceId: "b", weight: 2 },
      { instanceId: "c", weight: 3 },
    ];
    const cached = CachedRing.of(members);
    const plain = new HashRing();
    for (const m of members) plain.addNode(m.instanceId, m.weight);
    for (let k = 0; k < 2000; k++) expect(cached.lookup(`key-${k}`)).toBe(plain.lookup(`key-${k}`));
  });

  it("counts any weight > 0 in steps of 1/160 up to the ring's cap, and anything else as 1", () => {
    expect(ringPoints(1)).toBe(160);
    expect(ringPoints(1.5)).toBe(240);
    expect(ringPoints(0.0001)).toBe(1);
    expect(ringPoints(1000)).toBe(65_536);
    expect(ringPoints(Number.NaN)).toBe(160);
    expect(ringPoints(-2)).toBe(160);
    // Every one of these builds a ring (the ring refused fractional and large weights before).
    const ring = CachedRing.of([
      { instanceId: "x", weight: 1.5 },
      { instanceId: "y", weight: 1e9 },
      { instanceId: "z", weight: 0.001 },
    ]);
    expect(["x", "y", "z"]).toContain(ring.lookup("k"));
  });
});
