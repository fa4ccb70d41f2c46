import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { cluster } from "../../ts/entries/cluster.js";
import { createCatga, defineCommand, type Result, silentLogger } from "../../ts/index.js";
import { HashRing } from "../../ts/native/ring.js";
import {
  NATS_URL,
  readShardRuns,
  type ShardRun,
  shardOverlaps,
  sleep,
  TestCluster,
  until,
} from "./helpers.js";

// The hand-off of a busy key (docs/architecture/cluster.md, "Hand-off without overlap"), forced
// rather than left to timing: the key's owner is inside a handler of it, held open by the test
// (shard-child.mjs, `hold`), while a newcomer that gains the key joins and more of the key's
// messages arrive. The sharding test's load need not put a run of a key on both sides of a join;
// these always do. Each worker logs its handler runs; the merged logs must show no two runs of the
// key overlapping, and every message run exactly once.

const Touch = defineCommand("shard.touch")
  .payload<{ key: string; n: number; hold?: boolean }>()
  .returns<{ n: number; instance: string; start: number; end: number }>();

/** A key `newcomer` owns once both are members (the instances' ring: weight 1 each). */
function keyGainedBy(newcomer: string, old: string): string {
  const ring = new HashRing().addNode(old, 1).addNode(newcomer, 1);
  for (let i = 0; ; i++) if (ring.lookup(`k${i}`) === newcomer) return `k${i}`;
}

describe("sharded hand-off of a busy key", () => {
  const test = new TestCluster();
  const children = new Map<string, ChildProcess>();
  const script = fileURLToPath(new URL("./shard-child.mjs", import.meta.url));
  const logs = mkdtempSync(join(tmpdir(), "catga-handoff-"));

  afterAll(async () => {
    for (const child of children.values()) child.kill("SIGKILL");
    await test.close();
    rmSync(logs, { recursive: true, force: true });
  });

  interface Worker {
    readonly child: ChildProcess;
    /** Resolves with the first line this worker printed that starts with `prefix`. */
    line(prefix: string): Promise<string>;
    /** Writes a line to its stdin: releases its held handler, or (`go`) lets it join. */
    poke(): void;
  }

  /** Starts a worker; resolves once it is a member (or, with `go`, built and waiting to join). */
  async function startWorker(id: string, heartbeatMs: number, go = false): Promise<Worker> {
    const args = [script, test.prefix, test.bucket, id, String(heartbeatMs), join(logs, `${id}.log`)];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, NATS_URL, SHARD_CHILD_GO: go ? "1" : "0" },
      stdio: ["pipe", "pipe", "inherit"],
    });
    children.set(id, child);
    const lines: string[] = [];
    const waiters: (() => void)[] = [];
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      for (const wake of waiters.splice(0)) wake();
    });
    const worker: Worker = {
      child,
      async line(prefix) {
        for (;;) {
          const found = lines.find((line) => line.startsWith(prefix));
          if (found !== undefined) return found;
          await new Promise<void>((resolve) => waiters.push(resolve));
        }
      },
      poke: () => child.stdin!.write("go\n"),
    };
    await worker.line(go ? "built" : "ready");
    return worker;
  }

  /** Stops every worker gracefully (each writes the rest of its log) and reads their logs. */
  async function stopAll() {
    await Promise.all(
      [...children].map(async ([id, child]) => {
        child.kill("SIGTERM");
        await once(child, "exit");
        children.delete(id);
      }),
    );
    return readShardRuns(logs);
  }

  /**
   * What every run of `key` must show: message 0 ran on `old`, every later one on `newcomer`
   * (the key moved, the message queued at the old owner included), and none of the newcomer's
   * began before message 0 had ended; each message ran exactly once.
   */
  function expectHandedOver(runs: ShardRun[], key: string, old: string, newcomer: string, count: number) {
    const ofKey = runs.filter((r) => r.key === key && (r.instance === old || r.instance === newcomer));
    expect(ofKey.map((r) => r.n).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, n) => n));
    const held = ofKey.find((r) => r.n === 0)!;
    expect(held.instance).toBe(old);
    expect(ofKey.filter((r) => r.n > 0).map((r) => r.instance)).toEqual(Array(count - 1).fill(newcomer));
    expect(ofKey.filter((r) => r.instance === newcomer && r.start < held.end).map((r) => r.n)).toEqual([]);
    expect(shardOverlaps(ofKey)).toEqual([]);
  }

  it("a newcomer that gains a key starts none of its messages until the former owner has finished the one it runs", async () => {
    const heartbeatMs = 200;
    const [old, newcomer] = ["ho-old", "ho-new"];
    const key = keyGainedBy(newcomer, old);
    // A plain remote caller: its sends reach either instance through the queue group, and the one
    // that does not own the key forwards it to the owner.
    const transport = await test.transport("sender", { requestTimeoutMs: 60_000 });
    const sender = createCatga({ transport, logger: silentLogger }).remote(Touch).build();
    const observer = await test.join({ service: "observer", discovery: false });
    const send = (n: number, hold = false) => sender.send(Touch, { key, n, hold });

    const owner = await startWorker(old, heartbeatMs);
    const sends = [send(0, true)];
    await owner.line(`holding ${key} 0`);
    // Queued at the old owner behind the held run: when its turn comes there the key has moved,
    // so the old owner passes it on (or, if the join overtakes it, it is refused and retried
    // like the ones below).
    sends.push(send(1));

    await startWorker(newcomer, heartbeatMs);
    await until(() => observer.members().some((m) => m.instanceId === newcomer), 10_000, "the newcomer");
    // Past its warm-up, with margin: the newcomer knows the old owner and, but for the hand-off
    // gate, would serve the key from here on. Offered the key for five heartbeats while it is held.
    await sleep(2 * heartbeatMs);
    for (let n = 2; n < 6; n++) sends.push(send(n));
    await sleep(5 * heartbeatMs);

    owner.poke(); // the held handler ends
    const results: Result<unknown>[] = await Promise.all(sends);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expectHandedOver(await stopAll(), key, old, newcomer, 6);
  }, 60_000);

  it("a newcomer that hears no one does not take the keys of a paused member still in view", async () => {
    // One interval for every instance, as in a deployment: a member silent for less than 1.5 of
    // them is still in view. The old owner, holding the key, is paused (SIGSTOP) just after a
    // heartbeat and the newcomer joins at once: it hears no one, though the old owner is still a
    // member in everyone's view for 1.5 intervals (6 s). Resumed after 1.25 intervals, it must find
    // the key still its own (the newcomer, alone, had owned every key since its warm-up ended).
    const heartbeatMs = 4000;
    const [old, newcomer] = ["hp-old", "hp-new"];
    const key = keyGainedBy(newcomer, old);
    // A caller routing by the key on the instances' ring: straight to the newcomer once it is seen.
    const transport = await test.transport("router", { requestTimeoutMs: 60_000 });
    const sender = createCatga({ transport, logger: silentLogger })
      .remote(Touch)
      .route(Touch, { balance: "consistent-hash", hashBy: (p) => p.key })
      .build();
    const view = await cluster(sender, { bucket: test.bucket, heartbeatMs: 200, discovery: false });
    const left: string[] = [];
    view.on("leave", (m) => left.push(m.instanceId));
    const send = (n: number, hold = false) => sender.send(Touch, { key, n, hold });

    const owner = await startWorker(old, heartbeatMs);
    const joining = await startWorker(newcomer, heartbeatMs, true); // built, not yet a member
    await until(() => view.members().some((m) => m.instanceId === old), 10_000, "the old owner");
    const sends = [send(0, true)];
    await owner.line(`holding ${key} 0`);
    // A member that joins gets an answering heartbeat at once: the old owner's last before the pause.
    const poke = await cluster(await test.transport("poke"), {
      bucket: test.bucket,
      heartbeatMs: 200,
      discovery: false,
    });
    await until(() => poke.members().some((m) => m.instanceId === old), 10_000, "the old owner's heartbeat");
    owner.child.kill("SIGSTOP");
    const pausedAt = Date.now();
    joining.poke();
    await joining.line("ready");
    await until(() => view.members().some((m) => m.instanceId === newcomer), 10_000, "the newcomer");
    for (let n = 1; n < 4; n++) sends.push(send(n));
    await sleep(pausedAt + 1.25 * heartbeatMs - Date.now());
    owner.child.kill("SIGCONT");
    await sleep(heartbeatMs / 8);
    owner.poke(); // the held handler ends
    const results: Result<unknown>[] = await Promise.all(sends);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    // The case is the one meant: the old owner never left anyone's view.
    expect(left).not.toContain(old);
    expect(poke.members().some((m) => m.instanceId === old)).toBe(true);
    await Promise.all([poke.close(), view.close()]);
    expectHandedOver(await stopAll(), key, old, newcomer, 4);
  }, 60_000);
});
