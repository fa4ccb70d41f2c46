// The lease's answer to a server fault seen on a replicated KV bucket (nats-server 2.9.10, R3,
// __test__/cluster/nats-cluster.test.ts): two compare-and-set writes against one revision both
// accepted. That fault cannot be produced on demand on a real server, so this test drives the
// lease over a small in-memory KV with the same compare-and-set rules plus that one fault.
import { describe, expect, it } from "vitest";
import { Lease, type LeaseStore } from "../../ts/cluster/lease.js";

/** KV with revisions; `acceptStale` lets the next write against that revision land even if stale. */
class FaultyKv implements LeaseStore {
  private revision = 0;
  private value: Buffer | undefined;
  acceptStale: number | undefined;

  async entry(_key: string) {
    return this.value === undefined ? null : { value: this.value, revision: this.revision };
  }

  async swap(_key: string, value: Buffer, revisionSeen: number) {
    const stale = revisionSeen !== this.revision;
    if (stale && this.acceptStale !== revisionSeen) return null;
    if (stale) this.acceptStale = undefined; // the fault strikes once
    this.value = value;
    return ++this.revision;
  }
}

describe("lease takeover on a store that lets two writes win", () => {
  it("only the later of two winners holds the lease; the earlier never counts as holder", async () => {
    let now = 0;
    const clock = () => now;
    const kv = new FaultyKv();
    const first = new Lease(kv as never, "leader.job", "a", 1000, clock);
    expect(await first.step()).toBeDefined(); // a takes the free key (revision 1, confirmed at 2)
    await first.release(); // … and gives it up: revision 3, released

    const b = new Lease(kv as never, "leader.job", "b", 1000, clock);
    const c = new Lease(kv as never, "leader.job", "c", 1000, clock);
    // Both read the released key at revision 3 and both write over it; the store wrongly accepts
    // the second write although the first landed.
    kv.acceptStale = 3;
    const [termB, termC] = await Promise.all([b.step(), c.step()]);
    const holders = [termB, termC].filter((t) => t !== undefined);
    expect(holders).toHaveLength(1);
    expect(termC?.token ?? termB?.token).toBeGreaterThan(3);
    // The one that holds renews; the other, reading, sees the holder and waits.
    now += 400;
    const [againB, againC] = await Promise.all([b.step(), c.step()]);
    expect([againB, againC].filter((t) => t !== undefined)).toHaveLength(1);
  });

  it("a plain takeover still costs one extra write, and the token is the take's revision", async () => {
    const kv = new FaultyKv();
    const lease = new Lease(kv as never, "leader.job", "a", 1000, () => 0);
    const term = await lease.step();
    expect(term?.token).toBe(1);
    expect((await kv.entry("leader.job"))?.revision).toBe(2);
  });
});
