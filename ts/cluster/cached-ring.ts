/**
 * A built {@link HashRing} whose lookups are remembered: sharded handlers and consistent-hash
 * routes ask for a key's owner on every message, and a Map read costs far less than a call into
 * the addon. Build a new one when the members change (the ring is never changed in place).
 */
import { HashRing } from "../native/ring.js";

/** Owners remembered per ring before the cache starts over (memory stays bounded). */
const OWNERS_KEPT = 100_000;

export class CachedRing {
  private readonly owners = new Map<string, string | undefined>();

  private constructor(private readonly ring: HashRing) {}

  /** A ring over `members` (weights honoured). */
  static of(members: readonly { readonly instanceId: string; readonly weight: number }[]): CachedRing {
    const ring = new HashRing();
    for (const m of members) ring.addNode(m.instanceId, m.weight);
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
