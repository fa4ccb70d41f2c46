import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsConnection, type StatusEvent } from "../../ts/entries/nats.js";
import { encodeWire } from "../../ts/nats/wire.js";

/** The machine's shared NATS server (started by .ci/run / scripts/services.sh). */
export const NATS_URL = process.env.CATGA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** A subject prefix unique to this test run, so parallel files and reruns never see each other. */
export function uniquePrefix(name: string): string {
  return `t${process.pid}x${Math.random().toString(36).slice(2, 8)}.${name}`;
}

export function eventEnvelope(id: string, payload: Uint8Array = Buffer.from("{}")): Buffer {
  return encodeWire({
    kind: "event",
    type: "test.event",
    messageId: id,
    correlationId: null,
    causationId: null,
    createdAt: Date.now(),
    headers: {},
    codec: "json",
    payload,
  });
}

export function until(condition: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(check, 10);
    };
    check();
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** A private nats-server on its own port and store dir, for tests that stop and start the broker. */
export class PrivateNats {
  private process: ChildProcess | undefined;
  private readonly storeDir = mkdtempSync(join(tmpdir(), "catga-nats-"));

  private constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[],
    private readonly jetStream = true,
  ) {}

  /** `extraArgs` go to nats-server as they are (auth, TLS...). */
  static async start(extraArgs: readonly string[] = [], jetStream = true): Promise<PrivateNats> {
    const server = new PrivateNats(await freePort(), extraArgs, jetStream);
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const store = this.jetStream ? ["-js", "-sd", this.storeDir] : [];
    const args = ["-a", "127.0.0.1", "-p", String(this.port), ...store, ...this.extraArgs];
    const child = spawn("nats-server", args, { stdio: ["ignore", "ignore", "pipe"] });
    this.process = child;
    await new Promise<void>((resolve, reject) => {
      let log = "";
      const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${log}`)), 10_000);
      child.stderr?.on("data", (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes("Server is ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}: ${log}`));
      });
    });
  }

  /**
   * Freezes the server (SIGSTOP) and resolves once every one of its threads has stopped (Linux:
   * /proc/<pid>/task): connections stay open but nothing is read or answered, so a publish made
   * now is certainly in flight when the server is then killed.
   */
  async freeze(): Promise<void> {
    const pid = this.process?.pid;
    if (pid === undefined) return;
    this.process?.kill("SIGSTOP");
    const stopped = () =>
      readdirSync(`/proc/${pid}/task`).every((task) => {
        // The state follows the command name, which is in parentheses: "<tid> (<comm>) <state> ...".
        const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8");
        return /^[tT]/.test(stat.slice(stat.lastIndexOf(")") + 2));
      });
    await until(stopped, 5000, "nats-server to stop");
  }

  /**
   * Bytes clients sent that the server has not read yet (Linux: the receive queues of its
   * established IPv4 sockets in /proc/net/tcp). With the server frozen, this shows that what a
   * client published has left the client and will be lost with the server.
   */
  unreadBytes(): number {
    const port = this.port.toString(16).toUpperCase().padStart(4, "0");
    let total = 0;
    for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
      const [, local, , state, queues] = line.trim().split(/\s+/);
      if (local === `0100007F:${port}` && state === "01")
        total += Number.parseInt(queues!.split(":")[1]!, 16);
    }
    return total;
  }

  /** Puts the server in lame duck mode (`nats-server --signal ldm=<pid>`): clients are told to move. */
  lameDuck(): void {
    const pid = this.process?.pid;
    if (pid === undefined) return;
    const signalled = spawnSync("nats-server", ["--signal", `ldm=${pid}`]);
    if (signalled.status !== 0) throw new Error(`nats-server --signal ldm failed: ${signalled.stderr}`);
  }

  /** Stops the server by PID and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    this.process = undefined;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/**
 * A connection to `server` for broker-loss tests: requests and durable publishes bounded by
 * `timeoutMs`, reconnects every 50–250 ms so a restart is noticed at once.
 */
export function outageConnection(server: PrivateNats, timeoutMs: number): Promise<NatsConnection> {
  return NatsConnection.connect({
    servers: server.url,
    requestTimeoutMs: timeoutMs,
    durablePublishTimeoutMs: timeoutMs,
    reconnectDelayMs: 50,
    reconnectDelayMaxMs: 250,
  });
}

/** Records the status events a connection emits from now on, by kind. */
export function watchStatus(connection: NatsConnection): string[] {
  const statuses: string[] = [];
  connection.on("status", (event: StatusEvent) => statuses.push(event.kind));
  return statuses;
}
