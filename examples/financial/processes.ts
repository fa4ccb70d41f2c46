// Starts the services as child processes of the launcher and stops them: each says "ready" on
// stdout; their stderr is passed on with the service's name; each ends when its stdin closes, so
// none outlives the launcher, even one killed with SIGKILL.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** Every line the service printed on stdout. */
  readonly lines: string[];
}

const STOP_GRACE_MS = 5_000;
const READY_MS = 30_000;

/** Starts `examples/financial/<name>.ts` with the launcher's node flags; resolves once it is ready. */
export async function start(name: string): Promise<Service> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, new URL(`${name}.ts`, import.meta.url).pathname],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const service: Service = { name, child, lines: [] };
  createInterface({ input: child.stderr! }).on("line", (line) => console.error(`[${name}] ${line}`));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} was not ready within ${READY_MS} ms`)),
      READY_MS,
    );
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with status ${code} before it was ready`));
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      service.lines.push(line);
      if (line === "ready") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await ready;
  return service;
}

/** SIGKILL: no handler runs, open transactions are rolled back by PostgreSQL. */
export async function kill(service: Service): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  const exited = once(service.child, "exit");
  service.child.kill("SIGKILL");
  await exited;
}

/** SIGTERM (the service drains and closes), then SIGKILL past a grace period. */
export async function stop(service: Service): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  const exited = once(service.child, "exit");
  service.child.kill("SIGTERM");
  const timer = setTimeout(() => service.child.kill("SIGKILL"), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
