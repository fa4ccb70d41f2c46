import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";

// A service whose transport holds durable consumers (or a cluster nobody closed) used to stay alive
// after `catga.close()`:
// the transport never stopped them, and their native callbacks kept Node's event loop running.
const worker = fileURLToPath(new URL("./close-worker.mjs", import.meta.url));

async function exitOf(...args: string[]): Promise<{ exit: number | null | "still running"; out: string }> {
  const child = spawn(process.execPath, [worker, ...args], {
    env: { ...process.env, NATS_URL },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk) => {
    out += chunk;
  });
  const exit = await new Promise<number | null | "still running">((resolve) => {
    const timer = setTimeout(() => resolve("still running"), 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  if (exit === "still running") child.kill("SIGKILL");
  return { exit, out };
}

describe("closing a NATS transport", () => {
  it("lets the process exit on its own, durable consumers included", async () => {
    const { exit, out } = await exitOf(uniquePrefix("close"));
    expect(out).toContain("closed");
    expect(exit).toBe(0);
  });

  it("closes a cluster joined on it that nobody closed: leadership given up, the process exits", async () => {
    const { exit, out } = await exitOf(uniquePrefix("closecl"), "cluster");
    expect(out).toContain("closed");
    expect(exit).toBe(0);
  });
});
