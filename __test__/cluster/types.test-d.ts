import { describe, expectTypeOf, it } from "vitest";
import type { Cluster, HeldLock, Leadership, LeaseTerm, Member } from "../../ts/entries/cluster.js";
import { cluster, fencedWrite } from "../../ts/entries/cluster.js";
import type { NatsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineCommand, defineEvent } from "../../ts/index.js";

declare const members: Cluster;
declare const transport: NatsTransport;

describe("cluster types", () => {
  it("withLock resolves with what fn returns, sync or async", () => {
    expectTypeOf(members.withLock("k", () => 42)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(members.withLock("k", async (lock) => lock.token)).toEqualTypeOf<Promise<number>>();
    expectTypeOf<HeldLock["signal"]>().toEqualTypeOf<AbortSignal>();
  });

  it("leadership events carry the term, and the token is absent unless leading", () => {
    const leader = members.leader("jobs", { ttlMs: 1000 });
    expectTypeOf(leader).toEqualTypeOf<Leadership>();
    expectTypeOf(leader.token).toEqualTypeOf<number | undefined>();
    leader.on("elected", (term) => expectTypeOf(term).toEqualTypeOf<LeaseTerm>());
    // @ts-expect-error: not an event of a leadership
    leader.on("joined", () => undefined);
    // @ts-expect-error: ttl is spelled ttlMs
    members.leader("jobs", { ttl: 1000 });
  });

  it("membership events and members are typed", () => {
    members.on("leave", (member, reason) => {
      expectTypeOf(member).toEqualTypeOf<Member>();
      expectTypeOf(reason).toEqualTypeOf<"left" | "expired">();
    });
    expectTypeOf(cluster(transport)).toEqualTypeOf<Promise<Cluster>>();
    // @ts-expect-error: a cluster needs a transport (or a Catga with one)
    cluster({});
  });

  it("fencedWrite tells accepted from refused", async () => {
    const outcome = await fencedWrite({} as never, "r", 1, async () => "done");
    if (outcome.accepted) expectTypeOf(outcome.value).toEqualTypeOf<string>();
    else expectTypeOf(outcome.highestToken).toEqualTypeOf<number>();
  });

  it("shardBy gets the contract's payload and must return a string; events take none", () => {
    const Pay = defineCommand("t.pay").payload<{ account: string; cents: number }>().returns<number>();
    const Paid = defineEvent("t.paid").payload<{ account: string }>();
    createCatga().handle(Pay, (p) => p.cents, {
      shardBy: (p) => {
        expectTypeOf(p).toEqualTypeOf<{ account: string; cents: number }>();
        return p.account;
      },
    });
    // @ts-expect-error: a shard key is a string
    createCatga().handle(Pay, (p) => p.cents, { shardBy: (p) => p.cents });
    // @ts-expect-error: no such field on the payload
    createCatga().handle(Pay, (p) => p.cents, { shardBy: (p) => p.owner });
    // @ts-expect-error: events cannot be sharded
    createCatga().handle(Paid, () => undefined, { shardBy: (p: { account: string }) => p.account });
  });
});
