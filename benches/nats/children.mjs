// Child processes of the NATS bench: forked with an IPC channel, tracked by PID, and killed by
// PID on every way out of the parent (exit, error, SIGINT, SIGTERM). `next(type)` waits for one
// message of a type with a deadline; `mark()` asks the child for its counters and CPU right now.

import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "./common.mjs";

const here = dirname(fileURLToPath(import.meta.url));

/** Every live child (forked or spawned), by PID. */
export const children = new Map();

export function killChildren() {
  for (const [pid, child] of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    children.delete(pid);
  }
}
process.on("exit", killChildren);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

/** The parent's profiling flags (`node --cpu-prof benches/nats.bench.mjs …`), passed on so every
 * process of a run writes its own profile. */
const inheritedExecArgv = () => process.execArgv.filter((flag) => flag.startsWith("--cpu-prof"));

/** Forks benches/nats/<script> (a path under benches/nats) with an IPC channel. */
export function forkChild(script, args, env = {}, execArgv = inheritedExecArgv()) {
  const child = fork(join(here, script), args, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv,
    env: { ...process.env, ...env },
  });
  children.set(child.pid, child);
  const waiters = new Map();
  let marks = 0;
  child.on("message", (m) => {
    if (m?.type === "error") console.error(`child ${script} ${args[0]}: ${m.message}`);
    const key = m?.type === "mark" ? `mark:${m.id}` : m?.type;
    waiters.get(key)?.(m);
    waiters.delete(key);
  });
  const next = (type, ms = 15_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script}: no "${type}" within ${ms} ms`)), ms);
      const failed = (code) => reject(new Error(`${script} exited (${code}) before "${type}"`));
      child.once("exit", failed);
      waiters.set(type, (m) => {
        clearTimeout(timer);
        child.off("exit", failed);
        resolve(m);
      });
    });
  const ready = next("ready", 30_000);
  ready.catch(() => undefined); // awaited by callers that need it; never an unhandled rejection
  return {
    child,
    ready,
    next,
    mark() {
      const id = ++marks;
      const reply = next(`mark:${id}`);
      child.send({ type: "mark", id });
      return reply;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        children.delete(child.pid);
        return undefined;
      }
      const stopped = next("stopped", 5000).catch(() => undefined);
      child.send({ type: "stop" });
      const result = await stopped;
      await Promise.race([new Promise((r) => child.once("exit", r)), sleep(2000)]);
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
      children.delete(child.pid);
      return result;
    },
  };
}
