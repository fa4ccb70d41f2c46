import { afterAll, describe, expect, it } from "vitest";
import { cluster } from "../../ts/entries/cluster.js";
import {
  type Catga,
  type CommandContract,
  createCatga,
  defineCommand,
  silentLogger,
} from "../../ts/index.js";
import { sleep, TestCluster } from "./helpers.js";

// A sharded handler that sends a message of its own key (ctx.send): the child runs after its parent,
// never inside it, and the key stays held while either runs (found by review of the synchronous
// fast path: a child sent before the parent's first await ran nested in it).
const Step = defineCommand("shard.reenter").payload<{ key: string; n: number }>().returns<number>();

/** A command of these tests: a key, the message's number, the number back. */
type Keyed<T extends string> = CommandContract<
  T,
  { key: string; n: number },
  { key: string; n: number },
  number
>;

describe("sharded handler re-entrancy", () => {
  const net = new TestCluster();
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await net.close();
  });

  /**
   * Joins `catga` to the cluster as `instanceId` and returns a `.remote()` caller of `contract`,
   * once a first message went through (the member's view has settled).
   */
  async function callerOf<C extends Keyed<string>>(
    catga: Catga<C>,
    instanceId: string,
    contract: C,
  ): Promise<Catga<C>> {
    const member = await cluster(catga, {
      bucket: net.bucket,
      instanceId,
      heartbeatMs: 200,
      discovery: false,
    });
    closers.push(() => member.close());
    const caller = createCatga({
      transport: await net.transport(`caller-${instanceId}`),
      logger: silentLogger,
    })
      .remote(contract)
      .build();
    closers.push(() => caller.close());
    const warm: Keyed<string> = contract;
    expect((await (caller as Catga<Keyed<string>>).send(warm, { key: "warm", n: 9 })).ok).toBe(true);
    return caller;
  }

  it("never runs a child message of the same key inside its parent's handler", async () => {
    const log: string[] = [];
    let running = 0;
    let overlaps = 0;
    const catga = createCatga({ transport: await net.transport("reenter"), logger: silentLogger })
      .handle(
        Step,
        ({ key, n }, ctx) => {
          if (running > 0) overlaps++;
          running++;
          log.push(`start ${n}`);
          // a synchronous handler that fires a follow-up of the same key (not awaited)
          if (n === 0) void ctx.send(Step, { key, n: 1 });
          log.push(`end ${n}`);
          running--;
          return n;
        },
        { shardBy: (p) => p.key },
      )
      .build();
    const caller = await callerOf(catga, "re-1", Step);
    log.length = 0;
    expect((await caller.send(Step, { key: "k", n: 0 })).ok).toBe(true);
    await sleep(100);
    expect(log).toEqual(["start 0", "end 0", "start 1", "end 1"]);
    expect(overlaps).toBe(0);
  });

  it("keeps a key's later messages behind every message still running (async parent, async child)", async () => {
    const Chain = defineCommand("shard.reenter2").payload<{ key: string; n: number }>().returns<number>();
    let running = 0;
    let maxRunning = 0;
    const catga = createCatga({ transport: await net.transport("reenter2"), logger: silentLogger })
      .handle(
        Chain,
        async ({ key, n }, ctx) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          // before its first await: a follow-up of the same key
          const child = n === 0 ? ctx.send(Chain, { key, n: 1 }) : undefined;
          await sleep(n === 1 ? 60 : 10);
          running--;
          void child;
          return n;
        },
        { shardBy: (p) => p.key },
      )
      .build();
    const caller = await callerOf(catga, "re-2", Chain);
    maxRunning = 0;
    const first = caller.send(Chain, { key: "k", n: 0 });
    await sleep(2);
    const third = caller.send(Chain, { key: "k", n: 2 });
    expect((await first).ok).toBe(true);
    expect((await third).ok).toBe(true);
    await sleep(100);
    expect(maxRunning).toBe(1);
  });

  it("holds the key for a child still running after its parent finished (a later message waits for it)", async () => {
    const Tail = defineCommand("shard.reenter3").payload<{ key: string; n: number }>().returns<number>();
    const active = new Set<number>();
    const seenWith: string[] = [];
    const catga = createCatga({ transport: await net.transport("reenter3"), logger: silentLogger })
      .handle(
        Tail,
        async ({ key, n }, ctx) => {
          if (active.size > 0) seenWith.push(`${n} started while ${[...active].join(",")} ran`);
          active.add(n);
          if (n === 0) void ctx.send(Tail, { key, n: 1 }); // child, before the first await
          await sleep(n === 1 ? 150 : 10);
          active.delete(n);
          return n;
        },
        { shardBy: (p) => p.key },
      )
      .build();
    const caller = await callerOf(catga, "re-3", Tail);
    expect((await caller.send(Tail, { key: "k", n: 0 })).ok).toBe(true); // parent done, child still running
    expect((await caller.send(Tail, { key: "k", n: 2 })).ok).toBe(true);
    await sleep(200);
    expect(seenWith.filter((s) => s.startsWith("2 "))).toEqual([]);
  });
});
