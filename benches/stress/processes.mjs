// Child processes of the stress and chaos suites: started with IPC, each waits for its first
// message (ready / port); every one started is remembered and SIGKILLed if the suite exits
// without stopping it, so a run never leaves a process behind. RSS is read from /proc.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";

const started = new Set();
process.on("exit", () => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

/** Forks `script`, resolves { child, message } with its first IPC message (within `timeoutMs`). */
export async function start(script, args, timeoutMs = 30_000) {
  const child = fork(script, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  started.add(child);
  child.once("exit", () => started.delete(child));
  let timer;
  try {
    const message = await new Promise((resolve, reject) => {
      child.once("message", resolve);
      child.once("exit", (code, signal) =>
        reject(new Error(`${script} exited (${code ?? signal}) before it was ready`)),
      );
      timer = setTimeout(() => reject(new Error(`${script} not ready within ${timeoutMs} ms`)), timeoutMs);
    });
    return { child, message };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Asks the child to stop ("stop" over IPC), SIGKILL after 5 s; resolves once it has exited. */
export async function stop(child) {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  if (child.connected) child.send("stop");
  else child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Resident set size of a live process in MiB, or undefined once it is gone. */
export function rssMiB(pid) {
  try {
    const kib = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib === undefined ? undefined : Number(kib) / 1024;
  } catch {
    return undefined;
  }
}
