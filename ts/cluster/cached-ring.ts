/**
 * A built {@link HashRing} whose lookups are remembered: sharded handlers and consistent-hash
 * routes ask for a key's owner on every message, and a Map read costs far less than a call into
 * the addon. Build a new one when the members change (the ring is never changed in place).
 */
import { HashRing } from "../native/ring.js";

/** Owners remembered per ring before the cache starts over (memory stays bounded). */
const OWNERS_KEPT = 100_000;

/** Ring points per unit of weight: the ring's own default, so a weight of 1 places the same points. */
const POINTS_PER_WEIGHT = 160;
/** Most points the ring gives one node. */
const MAX_POINTS = 65_536;

/**
 * A member's weight (any finite number > 0, possibly announced by another process) as ring points:
 * in steps of 1/160, at least one point, at most 65,536 (a weight of 409.6). The ring takes whole
 * points only, so 1.5 or 1000 given as the ring's weight broke every ring built with that member.
 */
export function ringPoints(weight: number): number {
  if (!(weight > 0)) return POINTS_PER_WEIGHT; // not a weight: counted as 1
  return Math.min(MAX_POINTS, Math.max(1, Math.round(weight * POINTS_PER_WEIGHT)));
}

export class CachedRing {
  private readonly owners = new Map<string, string | undefined>();

  private constructor(private readonly ring: HashRing) {}

  /** A ring over `members` (weights honoured). */
  static of(members: readonly { readonly instanceId: string; readonly weight: number }[]): CachedRing {
    // One point per unit: the points of weight w × 160 virtual nodes are labelled id#0…, as here.
    const ring = new HashRing(1);
    for (const m of members) ring.addNode(m.instanceId, ringPoints(m.weight));
    return new CachedRing(ring);
  }

  /** The key's owner, or undefined when the ring is empty. */
  lookup(key: string): string | undefined {
    let owner = this.owners.get(key);
    if (owner === undefined && !this.owners.has(key)) {
      owner = this.ring.lookup(key);
      if (this.owners.size >= OWNERS_KEPT) this.owners.clear();
      this.owners.set(key, owner);
    }
    return owner;
  }
}
