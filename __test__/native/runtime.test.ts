import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { platformTriple } from "../../ts/native/platform.js";

const addonPath = process.env.CATGA_NATIVE_PATH ?? join(process.cwd(), `catga.${platformTriple()}.node`);

/** Loads the addon in a fresh process and prints its tokio worker count (thread names). */
const probe = `
const fs = require("node:fs");
const addon = require(${JSON.stringify(addonPath)});
addon.connectNats({ servers: ["nats://127.0.0.1:1"], connectTimeoutMs: 50, maxReconnects: 1 }, () => {})
  .catch(() => {})
  .finally(() => {
    const names = fs.readdirSync("/proc/self/task").map((t) => fs.readFileSync("/proc/self/task/" + t + "/comm", "utf8").trim());
    console.log(names.filter((n) => n === "catga-tokio").length);
  });
`;

function workersWith(value: string | undefined) {
  const env = { ...process.env };
  if (value === undefined) delete env.CATGA_TOKIO_WORKERS;
  else env.CATGA_TOKIO_WORKERS = value;
  const run = spawnSync(process.execPath, ["-e", probe], { env, encoding: "utf8", timeout: 20_000 });
  return { workers: Number(run.stdout.trim()), stderr: run.stderr };
}

// Thread names come from /proc, so this runs on Linux only.
describe.runIf(process.platform === "linux")("the addon's tokio runtime", () => {
  it("runs one worker by default and CATGA_TOKIO_WORKERS workers when set", () => {
    expect(workersWith(undefined).workers).toBe(1);
    expect(workersWith("3").workers).toBe(3);
  });

  it("says so on stderr and keeps one worker when CATGA_TOKIO_WORKERS is not a count", () => {
    const { workers, stderr } = workersWith("lots");
    expect(workers).toBe(1);
    expect(stderr).toContain('CATGA_TOKIO_WORKERS must be a whole number of at least 1, got "lots"');
  });
});
