import { afterAll, expect, it } from "vitest";
import { cluster } from "../../ts/entries/cluster.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import { sleep, TestCluster } from "./helpers.js";

// The per-key queue of sharded handlers (ShardRouter.run) under random re-entrant trees: handlers
// that answer at once or later, succeed or fail (thrown or rejected), and send more messages of the
// same or another key from their synchronous part or after an await, three levels deep. Per key,
// messages must start in the order they reached the gate, never overlap, none go missing, and the
// router's tables must end empty. Seeded (CATGA_FUZZ_SEED) so a failure can be replayed.
const Msg = defineCommand("shard.fuzz").payload<{ key: string }>().returns<number>();
const net = new TestCluster();
afterAll(() => net.close());

/** The router's internals this test reads (not public API). */
interface Gate {
  run(type: string, key: string, routedHere: boolean, work: () => unknown): unknown;
  tables: Map<
    string,
    { settled: boolean; inline: Map<string, unknown>; tails: Map<string, unknown>; busy: Map<string, number> }
  >;
}

it("keeps each key's messages in order, one at a time, through random re-entrant sends and failures", async () => {
  const catga = createCatga({ transport: await net.transport("fuzz"), logger: silentLogger })
    .handle(Msg, () => 1, { shardBy: (p) => p.key })
    .build();
  const member = await cluster(catga, {
    bucket: net.bucket,
    instanceId: "fuzz-1",
    heartbeatMs: 200,
    discovery: false,
  });
  const router = (member as unknown as { shards: Gate }).shards;
  const table = router.tables.get("shard.fuzz")!;
  while (!table.settled) await sleep(20);
  let seed = Number(process.env.CATGA_FUZZ_SEED ?? 12345);
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const keys = ["a", "b", "c"];
  const issued = new Map<string, number>();
  const started = new Map<string, number[]>();
  const active = new Map<string, number>();
  const problems: string[] = [];
  let budget = 0;
  const submit = (depth: number): void => {
    if (budget-- <= 0) return;
    const key = keys[Math.floor(random() * keys.length)]!;
    const id = issued.get(key) ?? 0;
    issued.set(key, id + 1);
    // 0 sync ok, 1 sync throw, 2 async ok, 3 async reject, 4 async that sends more after its await
    const kind = Math.floor(random() * 5);
    const syncChildren = depth < 3 ? Math.floor(random() * 3) : 0;
    const lateChildren = depth < 3 && kind === 4 ? Math.floor(random() * 2) + 1 : 0;
    const delay = Math.floor(random() * 4);
    const work = () => {
      started.set(key, [...(started.get(key) ?? []), id]);
      if ((active.get(key) ?? 0) > 0) problems.push(`overlap ${key}#${id}`);
      active.set(key, (active.get(key) ?? 0) + 1);
      const end = () => active.set(key, (active.get(key) ?? 1) - 1);
      for (let i = 0; i < syncChildren; i++) submit(depth + 1);
      if (kind === 0) {
        end();
        return { ok: true, value: id };
      }
      if (kind === 1) {
        end();
        throw new Error("sync");
      }
      return (async () => {
        await sleep(delay);
        if (kind === 4) for (let i = 0; i < lateChildren; i++) submit(depth + 1);
        end();
        if (kind === 3) throw new Error("async");
        return { ok: true, value: id };
      })();
    };
    try {
      const outcome = router.run("shard.fuzz", key, false, work) as PromiseLike<unknown> | undefined;
      if (typeof outcome?.then === "function") outcome.then(undefined, () => undefined);
    } catch {
      // a synchronous throw of `work` on the fast path reaches the caller: expected here
    }
  };
  for (let round = 0; round < 400; round++) {
    budget = 1 + Math.floor(random() * 8);
    submit(0);
    if (random() < 0.7) await sleep(Math.floor(random() * 8));
  }
  await sleep(500);
  for (const [key, list] of started) {
    const sorted = [...list].sort((x, y) => x - y);
    if (list.join() !== sorted.join()) problems.push(`order ${key}`);
    if (list.length !== issued.get(key)) problems.push(`lost ${key} ${list.length}/${issued.get(key)}`);
  }
  expect(problems).toEqual([]);
  expect([table.inline.size, table.tails.size, table.busy.size]).toEqual([0, 0, 0]);
  await member.close();
  await catga.close();
}, 30_000);
