import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { cluster } from "../../ts/entries/cluster.js";
import {
  CatgaConfigError,
  createCatga,
  defineCommand,
  defineEvent,
  ErrorCodes,
  type Result,
  silentLogger,
} from "../../ts/index.js";
import { NATS_URL, readShardRuns, shardOverlaps, sleep, TestCluster, until } from "./helpers.js";

// Sharded handlers across processes (docs/architecture/cluster.md, "Sharded handlers"). SHARD_COMMANDS and
// SHARD_KEYS size the run (the issue's bar: 100,000 over 10,000; the suite runs a smaller default).
const COMMANDS = Number(process.env.SHARD_COMMANDS ?? 10_000);
const KEYS = Number(process.env.SHARD_KEYS ?? 500);
const IN_FLIGHT = 64;
const HEARTBEAT_MS = 200;
/** Every other command goes to one of these few keys, so each always has messages queued (below). */
const HOT_KEYS = 8;

const Touch = defineCommand("shard.touch")
  .payload<{ key: string; n: number }>()
  .returns<{ n: number; instance: string; start: number; end: number }>();

describe("sharded handlers: bad input", () => {
  it("refuses a shardBy that is not a function, and sharded events, with CATGA_CONFIG", () => {
    const Seen = defineEvent("shard.seen").payload<{ key: string }>();
    const build = () =>
      createCatga({ logger: silentLogger })
        // @ts-expect-error shardBy must be a function returning a string
        .handle(Touch, () => ({ n: 0, instance: "", start: 0, end: 0 }), { shardBy: "key" })
        // @ts-expect-error events take no shardBy
        .handle(Seen, () => undefined, { shardBy: (p: { key: string }) => p.key })
        .build();
    try {
      build();
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CatgaConfigError);
      const paths = (error as CatgaConfigError).details.map((i) => i.path);
      expect(paths).toContain("handlers.shard.touch.shardBy");
      expect(paths).toContain("handlers.shard.seen.shardBy");
    }
  });

  it("fails a send whose key is not a string with CATGA_INVALID_ARGUMENT naming shardBy", async () => {
    const catga = createCatga({ logger: silentLogger })
      .handle(Touch, ({ n }) => ({ n, instance: "here", start: 0, end: 0 }), {
        shardBy: (p) => p.key,
      })
      .build();
    await expectBadKeys((payload) => catga.send(Touch, payload));
    expect((await catga.send(Touch, { key: "a", n: 2 })).ok).toBe(true);
  });
});

/** Payloads whose key (`shardBy: (p) => p.key`) is not a string: a number, null, none, and one it throws on. */
const BAD_KEYS = [{ key: 42, n: 1 }, { key: null, n: 1 }, { n: 1 }, null];

/** Each bad key fails its send with CATGA_INVALID_ARGUMENT naming shardBy. */
async function expectBadKeys(send: (payload: never) => Promise<Result<unknown>>): Promise<void> {
  for (const payload of BAD_KEYS) {
    const result = await send(payload as never);
    expect(result.ok, JSON.stringify(payload)).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(result.error.details).toEqual({ field: "shardBy" });
    }
  }
}

describe("sharded handlers on NATS: bad keys", () => {
  const net = new TestCluster();
  afterAll(() => net.close());

  it("fails a send whose key is not a string with CATGA_INVALID_ARGUMENT from a member and from a remote caller, and runs nothing", async () => {
    let runs = 0;
    const catga = createCatga({ transport: await net.transport("badkeys"), logger: silentLogger })
      .handle(
        Touch,
        ({ n }) => {
          runs++;
          return { n, instance: "bad-1", start: 0, end: 0 };
        },
        { shardBy: (p) => p.key },
      )
      .build();
    const member = await cluster(catga, {
      bucket: net.bucket,
      instanceId: "bad-1",
      heartbeatMs: 200,
      discovery: false,
    });
    const caller = createCatga({ transport: await net.transport("caller"), logger: silentLogger })
      .remote(Touch)
      .build();
    // The member's own sends go through its shard router; the caller's reach the member through
    // the queue group, where the sharded handler computes the key.
    await expectBadKeys((payload) => catga.send(Touch, payload));
    await expectBadKeys((payload) => caller.send(Touch, payload));
    expect(runs).toBe(0);
    expect((await caller.send(Touch, { key: "a", n: 2 })).ok).toBe(true);
    expect(runs).toBe(1);
    await member.close();
  });
});

describe("sharded handlers in one process", () => {
  const net = new TestCluster();
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await net.close();
  });

  async function instance(id: string, weight?: number) {
    const transport = await net.transport("inproc");
    const catga = createCatga({ transport, logger: silentLogger })
      .handle(Touch, ({ n }) => ({ n, instance: id, start: 0, end: 0 }), { shardBy: (p) => p.key })
      .build();
    const member = await cluster(catga, {
      bucket: net.bucket,
      instanceId: id,
      heartbeatMs: 200,
      discovery: false,
      ...(weight === undefined ? {} : { weight }),
    });
    closers.push(() => member.close());
    return { catga, member };
  }

  it("sends each key to its owner from any instance, and counts the rebalance", async () => {
    const a = await instance("in-a");
    const b = await instance("in-b");
    await until(() => a.member.stats().rebalances >= 1, 5000, "a rebalance on a");
    const owners = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++)
      for (let k = 0; k < 40; k++)
        for (const from of [a, b]) {
          const result = await from.catga.send(Touch, { key: `k${k}`, n: k });
          expect(result.ok).toBe(true);
          if (result.ok) owners.set(`k${k}`, (owners.get(`k${k}`) ?? new Set()).add(result.value.instance));
        }
    // Whichever instance sends, a key has one owner; both instances own some keys.
    for (const set of owners.values()) expect(set.size).toBe(1);
    expect(new Set([...owners.values()].flatMap((s) => [...s])).size).toBe(2);
  });

  it("shards over any weight cluster() takes: fractional and large ones, in proportion (the ring takes whole points)", async () => {
    // Found by an outside review: a member with weight 1.5 or 1000 made every ring that included
    // it fail (the ring wants whole points, at most 65,536), so every send of the type failed.
    const light = await instance("w-light", 0.5);
    const heavy = await instance("w-heavy", 1000);
    await until(
      () => light.member.stats().rebalances >= 1 && heavy.member.stats().rebalances >= 1,
      5000,
      "both to see each other",
    );
    const served = new Map<string, number>();
    for (let k = 0; k < 200; k++) {
      const result = await light.catga.send(Touch, { key: `w${k}`, n: k });
      expect(result.ok).toBe(true);
      if (result.ok) served.set(result.value.instance, (served.get(result.value.instance) ?? 0) + 1);
    }
    // 409.6 (the cap) against 0.5: the heavy one owns nearly every key.
    expect(served.get("w-heavy") ?? 0).toBeGreaterThan(190);
    await Promise.all([light.member.close(), heavy.member.close()]);
  });

  it("runs a key's messages one at a time, in order, when its handler answers some at once and awaits others", async () => {
    // A message whose key has nothing queued runs at once, and a synchronous answer goes back
    // synchronously; one that returns a promise holds the key until it settles.
    const Mixed = defineCommand("shard.mixed").payload<{ key: string; n: number }>().returns<number>();
    const started: number[] = [];
    let pending = 0;
    let overlaps = 0;
    const catga = createCatga({ transport: await net.transport("mixed"), logger: silentLogger })
      .handle(
        Mixed,
        ({ n }) => {
          if (pending > 0) overlaps++;
          started.push(n);
          if (n % 3 !== 0) return n;
          pending++;
          return new Promise<number>((resolve) =>
            setTimeout(() => {
              pending--;
              resolve(n);
            }, 2),
          );
        },
        { shardBy: (p) => p.key },
      )
      .build();
    const member = await cluster(catga, {
      bucket: net.bucket,
      instanceId: "mixed-1",
      heartbeatMs: 200,
      discovery: false,
    });
    closers.push(() => member.close());
    const caller = createCatga({ transport: await net.transport("caller"), logger: silentLogger })
      .remote(Mixed)
      .build();
    closers.push(() => caller.close());
    expect((await caller.send(Mixed, { key: "warm", n: 1 })).ok).toBe(true); // the view has settled
    started.length = 0;
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) => caller.send(Mixed, { key: "one", n })),
    );
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual(
      Array.from({ length: 60 }, (_, n) => n),
    );
    expect(started).toEqual(Array.from({ length: 60 }, (_, n) => n));
    expect(overlaps).toBe(0);
  });

  it("refuses to build sharded or routed handlers on a transport whose cluster() joined before build()", async () => {
    // Found by an outside review: the sharded type was silently never served (CATGA_NO_HANDLER).
    const transport = await net.transport("early");
    const member = await cluster(transport, { bucket: net.bucket, heartbeatMs: 200, discovery: false });
    closers.push(() => member.close());
    let error: unknown;
    try {
      createCatga({ transport, logger: silentLogger })
        .handle(Touch, ({ n }) => ({ n, instance: "early", start: 0, end: 0 }), { shardBy: (p) => p.key })
        .build();
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(CatgaConfigError);
    expect((error as CatgaConfigError).issues).toEqual([
      {
        path: "cluster",
        message: expect.stringContaining("call cluster(catga) after build()"),
      },
    ]);
  });

  it("refuses a second cluster() on one transport, and the first keeps serving its keys", async () => {
    // Before: the second call resolved, installed a second router, and every sharded send from
    // then on failed with CATGA_TIMEOUT "no owner answered" (found from outside).
    const c = await instance("in-c");
    const again = await cluster(c.catga, { bucket: net.bucket, heartbeatMs: 200, discovery: false }).catch(
      (e: unknown) => e,
    );
    expect(again).toBeInstanceOf(CatgaConfigError);
    expect((again as CatgaConfigError).issues.map((i) => i.path)).toEqual(["cluster.transport"]);
    expect((await c.catga.send(Touch, { key: "twice", n: 1 })).ok).toBe(true);
  });
});

describe("sharded handlers on NATS before cluster()", () => {
  const net = new TestCluster();
  afterAll(() => net.close());

  it("serves a sharded type only once cluster() routes it: before, it would run every key as their owner", async () => {
    const Gated = defineCommand("shard.gated").payload<{ key: string }>().returns<string>();
    const transport = await net.transport("gated");
    const catga = createCatga({ transport, logger: silentLogger })
      .handle(Gated, ({ key }) => key, { shardBy: (p) => p.key })
      .build();
    await transport.ready();
    const caller = createCatga({ transport: await net.transport("caller"), logger: silentLogger })
      .remote(Gated)
      .build();
    const before = await caller.send(Gated, { key: "a" });
    expect(before.ok).toBe(false);
    if (!before.ok) expect(before.error.code).toBe(ErrorCodes.NO_HANDLER);
    const member = await cluster(catga, {
      bucket: net.bucket,
      instanceId: "gated-1",
      heartbeatMs: 200,
      discovery: false,
    });
    const after = await caller.send(Gated, { key: "a" });
    expect(after.ok && after.value).toBe("a");
    await member.close();
  });
});

describe("sharded handlers across processes", () => {
  const test = new TestCluster();
  const children = new Map<string, ChildProcess>();
  const script = fileURLToPath(new URL("./shard-child.mjs", import.meta.url));
  // Each worker appends every handler run to its own log here (shard-child.mjs).
  const logs = mkdtempSync(join(tmpdir(), "catga-shards-"));

  afterAll(async () => {
    for (const child of children.values()) child.kill("SIGKILL");
    await test.close();
    rmSync(logs, { recursive: true, force: true });
  });

  async function startWorker(id: string): Promise<void> {
    const args = [script, test.prefix, test.bucket, id, String(HEARTBEAT_MS), join(logs, `${id}.log`)];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, NATS_URL },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.set(id, child);
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    expect(line.toString()).toContain("ready");
  }

  async function stopWorker(id: string): Promise<void> {
    const child = children.get(id)!;
    child.kill("SIGTERM");
    await once(child, "exit");
    children.delete(id);
  }

  it(`handles ${COMMANDS} commands over ${KEYS} keys while instances join and leave: one at a time per key, none lost, ~1/N of keys move`, async () => {
    await Promise.all(["w1", "w2", "w3"].map(startWorker));
    const transport = await test.transport("sender");
    const sender = createCatga({ transport, logger: silentLogger }).remote(Touch).build();

    type Done = { key: string; n: number; instance: string; start: number; end: number };
    const done: Done[] = [];
    const failures: { n: number; key: string; sentAt: number; failedAt: number; reason: string }[] = [];
    const now = () => Number(process.hrtime.bigint()); // the workers' clock (shard-child.mjs)
    // Each change: when it began, and when it had settled (plus a margin for the hand-off).
    const changedAt: number[] = [];
    const settledAt: number[] = [];
    const change = (run: () => Promise<void>) => {
      changedAt.push(now());
      const index = changedAt.length - 1;
      return run()
        .then(() => sleep(500))
        .then(() => {
          settledAt[index] = now();
        });
    };
    let joined: Promise<void> = Promise.resolve();
    let left: Promise<void> = Promise.resolve();
    // A third of the commands per stable phase. The join starts after the first third, and sends
    // go on at full rate until it has settled (`joining`): those are extra commands, so commands
    // are in flight whenever the newcomer begins to serve and while the old owners let go.
    const phase = Math.floor(COMMANDS / 3);
    const half = Math.floor(phase / 2);
    let total = COMMANDS;
    let joining = false;
    let leaveAt = Number.POSITIVE_INFINITY;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const n = next++;
        if (n === phase) {
          joining = true;
          joined = change(() => startWorker("w4")).then(() => {
            joining = false;
            leaveAt = next + half;
          });
        }
        if (joining) total++;
        if (n === leaveAt) left = change(() => stopWorker("w2"));
        // The last stable phase gets commands too: they wait for the leave to settle.
        if (n >= leaveAt + half) await left;
        // Hot keys always have messages in flight and queued at their owner, which is always busy
        // with them (their handlers take milliseconds): a hand-off under load meets busy keys. A
        // run lasts too little for the new owner to be offered the key during it, so this test
        // passes without the hand-off gate; handoff.test.ts holds a run open and forces that case.
        const key = n % 2 === 0 ? `hot${(n / 2) % HOT_KEYS}` : `k${((n - 1) / 2) % KEYS}`;
        const sentAt = now();
        const result = await sender.send(Touch, { key, n });
        if (result.ok) done.push({ key, ...result.value });
        else
          failures.push({
            n,
            key,
            sentAt,
            failedAt: now(),
            reason: `${result.error.code} ${result.error.message}`,
          });
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await Promise.all([joined, left]);
    const tookMs = Date.now() - started;

    // Nothing lost, each command handled once. A failure says when it was sent against the
    // membership changes, and where and when (if at all) its handler ran, from the workers' logs.
    if (failures.length > 0) {
      await Promise.all([...children.keys()].map(stopWorker));
      const ranAt = new Map(readShardRuns(logs).map((r) => [r.n, r]));
      const ms = (t: number) => `${((t - changedAt[0]!) / 1e6).toFixed(1)} ms`;
      const changes = changedAt.map((c, i) => `change ${i}: ${ms(c)}..${ms(settledAt[i] ?? Number.NaN)}`);
      const explained = failures.map(({ n, key, sentAt, failedAt, reason }) => {
        const run = ranAt.get(n);
        const ran =
          run === undefined ? "never ran" : `ran on ${run.instance} at ${ms(run.start)}..${ms(run.end)}`;
        return `${n} (${key}) sent at ${ms(sentAt)}, failed at ${ms(failedAt)}: ${reason}; ${ran}`;
      });
      expect([...changes, ...explained]).toEqual(changes);
    }
    expect(done.length).toBe(total);
    expect(new Set(done.map((d) => d.n)).size).toBe(total);

    // Per key, strictly one after another, whichever instance handled each: every handler run as
    // the workers logged it (replies lost or not), on the machine's monotonic clock.
    await Promise.all([...children.keys()].map(stopWorker)); // each writes the rest of its log
    const runs = readShardRuns(logs);
    expect(runs.length).toBe(total); // each command ran once: none twice, none lost
    expect(shardOverlaps(runs)).toEqual([]);

    // Key movement per change: each key's last owner in one stable phase against the next
    // (phases by handler start time; the hand-offs in between are left out).
    const phaseOf = (start: number) =>
      start < changedAt[0]!
        ? 0
        : start > settledAt[0]! && start < changedAt[1]!
          ? 1
          : start > settledAt[1]!
            ? 2
            : -1;
    const ownerIn = (p: number) => {
      const owners = new Map<string, string>();
      for (const d of [...done].sort((x, y) => x.start - y.start))
        if (phaseOf(d.start) === p) owners.set(d.key, d.instance);
      return owners;
    };
    const moved = (a: Map<string, string>, b: Map<string, string>) => {
      let both = 0;
      let changed = 0;
      for (const [key, owner] of a) {
        const later = b.get(key);
        if (later === undefined) continue;
        both++;
        if (later !== owner) changed++;
      }
      expect(both).toBeGreaterThan(KEYS / 2); // enough keys seen in both phases to measure
      return changed / both;
    };
    const [p0, p1, p2] = [ownerIn(0), ownerIn(1), ownerIn(2)];
    const onJoin = moved(p0, p1);
    const onLeave = moved(p1, p2);
    console.log(
      `sharded: ${total} commands (${total - COMMANDS} of them during the join) over ${KEYS} keys in ${tookMs} ms; keys moved on join 3→4: ${(onJoin * 100).toFixed(1)} %, on leave 4→3: ${(onLeave * 100).toFixed(1)} %`,
    );
    expect(onJoin).toBeLessThanOrEqual(1 / 4 + 0.05);
    expect(onLeave).toBeLessThanOrEqual(1 / 4 + 0.05);
    expect(onJoin).toBeGreaterThan(0); // the newcomer took keys
  }, 120_000);
});
