import { type ChildProcess, spawn } from "node:child_process";

/** What a handler process reported: the commands it started ("took n") and finished ("done n"). */
export interface WorkerLog {
  readonly took: number[];
  readonly done: number[];
}

/**
 * Starts a handler process (`node <script> ...args`), records its "took"/"done" lines in `log`
 * and resolves once it printed "ready"; rejects if it exits first or takes over 20 s. The child is
 * added to `workers` so the suite can kill what is left.
 */
export function startWorker(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  log: WorkerLog,
  workers: ChildProcess[],
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  workers.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("worker did not become ready")), 20_000);
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") {
          clearTimeout(timer);
          resolve(child);
        } else if (line.startsWith("took ")) log.took.push(Number(line.slice(5)));
        else if (line.startsWith("done ")) log.done.push(Number(line.slice(5)));
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker exited early with ${code ?? signal}`));
    });
  });
}
