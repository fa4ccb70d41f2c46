import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** What one run of an example printed, and how it ended. */
export interface ExampleRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly lines: string[];
}

/**
 * Runs `npm run example:<name>`, the command examples/README.md gives, against the built package
 * (dist/, as `npm run test:ts` builds it first), and resolves when it exits. A run that takes
 * longer than `timeoutMs` is killed and rejects.
 */
export function runExample(
  name: string,
  env: Record<string, string> = {},
  timeoutMs = 45_000,
): Promise<ExampleRun> {
  if (!existsSync(join(root, "dist", "index.js")))
    throw new Error("dist/ is missing: run `npm run build:ts` first");
  const child = spawn("npm", ["run", "--silent", `example:${name}`], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`example:${name} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, lines: stdout.split("\n").filter((line) => line !== "") });
    });
  });
}
