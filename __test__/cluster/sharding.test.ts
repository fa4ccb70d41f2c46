import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  CatgaConfigError,
  createCatga,
  defineCommand,
  defineEvent,
  ErrorCodes,
  silentLogger,
} from "../../ts/index.js";
import { NATS_URL, TestCluster } from "./helpers.js";

// Sharded handlers across processes (docs/cluster.md, "Sharded handlers"). SHARD_COMMANDS and
// SHARD_KEYS size the run (the bar: 100,000 over 10,000; the suite runs a smaller default).
const COMMANDS = Number(process.env.SHARD_COMMANDS ?? 5_000);
const KEYS = Number(process.env.SHARD_KEYS ?? 500);
const IN_FLIGHT = 64;
const HEARTBEAT_MS = 200;

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
    const bad = await catga.send(Touch, { key: 42 as unknown as string, n: 1 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.code).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(bad.error.details).toEqual({ field: "shardBy" });
    }
    expect((await catga.send(Touch, { key: "a", n: 2 })).ok).toBe(true);
  });
});

describe("sharded handlers across processes", () => {
  const test = new TestCluster();
  const children = new Map<string, ChildProcess>();
  const script = fileURLToPath(new URL("./shard-child.mjs", import.meta.url));

  afterAll(async () => {
    for (const child of children.values()) child.kill("SIGKILL");
    await test.close();
  });

  async function startWorker(id: string): Promise<void> {
    const child = spawn(process.execPath, [script, test.prefix, test.bucket, id, String(HEARTBEAT_MS)], {
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

    type Done = { key: string; n: number; instance: string; start: number; end: number; phase: number };
    const done: Done[] = [];
    const failures: string[] = [];
    let phase = 0;
    let next = 0;
    const changes: Promise<void>[] = [];
    const worker = async () => {
      while (next < COMMANDS) {
        const n = next++;
        if (n === Math.floor(COMMANDS / 3)) changes.push(startWorker("w4").then(() => void phase++));
        if (n === Math.floor((2 * COMMANDS) / 3)) changes.push(stopWorker("w2").then(() => void phase++));
        const key = `k${n % KEYS}`;
        const sentIn = phase;
        const result = await sender.send(Touch, { key, n });
        if (result.ok) done.push({ key, ...result.value, phase: sentIn });
        else failures.push(`${n}: ${result.error.code} ${result.error.message}`);
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await Promise.all(changes);
    const tookMs = Date.now() - started;

    // Nothing lost, each command handled once.
    expect(failures).toEqual([]);
    expect(done.length).toBe(COMMANDS);
    expect(new Set(done.map((d) => d.n)).size).toBe(COMMANDS);

    // Per key, strictly one after another, whichever instance handled each.
    const byKey = new Map<string, Done[]>();
    for (const d of done) byKey.set(d.key, [...(byKey.get(d.key) ?? []), d]);
    let overlaps = 0;
    for (const list of byKey.values()) {
      list.sort((a, b) => a.start - b.start);
      for (let i = 1; i < list.length; i++) if (list[i]!.start < list[i - 1]!.end) overlaps++;
    }
    expect(overlaps).toBe(0);

    // Key movement per change: the last owner of each key in one phase against the next.
    const ownerIn = (p: number) => {
      const owners = new Map<string, string>();
      for (const d of done) if (d.phase === p) owners.set(d.key, d.instance);
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
      return changed / both;
    };
    const [p0, p1, p2] = [ownerIn(0), ownerIn(1), ownerIn(2)];
    const onJoin = moved(p0, p1);
    const onLeave = moved(p1, p2);
    console.log(
      `sharded: ${COMMANDS} commands over ${KEYS} keys in ${tookMs} ms; keys moved on join 3→4: ${(onJoin * 100).toFixed(1)} %, on leave 4→3: ${(onLeave * 100).toFixed(1)} %`,
    );
    expect(onJoin).toBeLessThanOrEqual(1 / 4 + 0.05);
    expect(onLeave).toBeLessThanOrEqual(1 / 4 + 0.05);
    expect(onJoin).toBeGreaterThan(0); // the newcomer took keys
  }, 120_000);
});
