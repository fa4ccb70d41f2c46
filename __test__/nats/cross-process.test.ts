import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "./helpers.js";

const Add = defineCommand("math.add")
  .payload<{ a: number; b: number }>()
  .returns<{ sum: number; pid: number }>();
const workerScript = fileURLToPath(new URL("./worker.mjs", import.meta.url));
const workers: ChildProcess[] = [];

function startWorker(prefix: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [workerScript, prefix, "math"], {
    env: { ...process.env, NATS_URL },
    stdio: ["ignore", "pipe", "inherit"],
  });
  workers.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("worker did not become ready")), 15_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited early with ${code}`));
    });
  });
}

async function stopWorker(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  return exited;
}

afterAll(async () => {
  for (const child of workers) if (child.exitCode === null) child.kill("SIGKILL");
});

describe("commands across processes over NATS", () => {
  it("a worker process answers 10,000 commands, every reply correct", async () => {
    const prefix = uniquePrefix("xproc");
    const worker = await startWorker(prefix);
    const client = createCatga({
      logger: silentLogger,
      transport: await natsTransport({ servers: NATS_URL, service: "client", prefix }),
    })
      .remote(Add)
      .build();
    const total = 10_000;
    const window = 256;
    let checked = 0;
    for (let start = 0; start < total; start += window) {
      const results = await Promise.all(
        Array.from({ length: Math.min(window, total - start) }, (_, k) =>
          client.send(Add, { a: start + k, b: 1 }),
        ),
      );
      results.forEach((result, k) => {
        const value = result.unwrap();
        expect(value.sum).toBe(start + k + 1);
        expect(value.pid).toBe(worker.pid);
        checked++;
      });
    }
    expect(checked).toBe(total);
    await client.close();
    expect(await stopWorker(worker)).toBe(0);
  });

  it("two workers in one queue group share the load", async () => {
    const prefix = uniquePrefix("xqueue");
    const [a, b] = await Promise.all([startWorker(prefix), startWorker(prefix)]);
    const client = createCatga({
      logger: silentLogger,
      transport: await natsTransport({ servers: NATS_URL, service: "client", prefix }),
    })
      .remote(Add)
      .build();
    const byPid = new Map<number, number>();
    for (let round = 0; round < 20; round++) {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, k) => client.send(Add, { a: k, b: round })),
      );
      for (const [k, result] of results.entries()) {
        const value = result.unwrap();
        expect(value.sum).toBe(k + round);
        byPid.set(value.pid, (byPid.get(value.pid) ?? 0) + 1);
      }
    }
    expect([...byPid.keys()].sort()).toEqual([a.pid, b.pid].sort());
    for (const count of byPid.values()) expect(count).toBeGreaterThan(100);
    await client.close();
    expect(await Promise.all([stopWorker(a), stopWorker(b)])).toEqual([0, 0]);
  });
});
