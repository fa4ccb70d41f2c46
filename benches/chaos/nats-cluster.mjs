// A private 3-node NATS cluster with JetStream for the orders chaos suite (benches/chaos-orders.mjs):
// three nats-servers on free loopback ports, routed to each other, each with its own store dir
// under a temp dir. `no_advertise` keeps the servers from telling clients about each other's
// client URLs: the clients know only the URLs they were given (the TCP proxy's, see proxy.mjs),
// so a reconnect never bypasses the proxy. Each node is stopped by its own PID; kill(i) is a
// kill -9 and start(i) brings the node back with its store (it catches up from the others).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A port free at the time of asking (the OS's choice for port 0, released again). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export class NatsCluster {
  /** Starts `size` clustered nodes and waits until each accepts clients. */
  static async start(size = 3) {
    const cluster = new NatsCluster(mkdtempSync(join(tmpdir(), "catga-chaos-nats-")));
    for (let i = 0; i < size; i++)
      cluster.nodes.push({ name: `n${i + 1}`, port: await freePort(), routePort: await freePort() });
    for (const node of cluster.nodes) {
      const store = join(cluster.dir, node.name);
      mkdirSync(store, { recursive: true });
      node.config = join(cluster.dir, `${node.name}.conf`);
      const routes = cluster.nodes.map((n) => `nats-route://127.0.0.1:${n.routePort}`).join(", ");
      writeFileSync(
        node.config,
        [
          `server_name: ${node.name}`,
          `listen: 127.0.0.1:${node.port}`,
          `jetstream { store_dir: "${store}", max_memory_store: 256MB, max_file_store: 2GB }`,
          `cluster { name: catga_chaos, listen: 127.0.0.1:${node.routePort}, routes: [${routes}], no_advertise: true }`,
          "",
        ].join("\n"),
      );
    }
    await Promise.all(cluster.nodes.map((_, i) => cluster.startNode(i)));
    return cluster;
  }

  constructor(dir) {
    this.dir = dir;
    this.nodes = [];
  }

  /** The client URLs of the nodes, in order. */
  get urls() {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  }

  /** Starts node `i` (again); resolves once it listens for clients. */
  startNode(i) {
    const node = this.nodes[i];
    const child = spawn("nats-server", ["-c", node.config], { stdio: ["ignore", "ignore", "pipe"] });
    node.child = child;
    let log = "";
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${node.name} did not start: ${log}`)), 15_000);
      child.stderr.on("data", (chunk) => {
        log = (log + chunk).slice(-4000);
        if (log.includes("Server is ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${node.name} exited (${code ?? signal}) before it was ready: ${log}`));
      });
    });
  }

  /** kill -9 of node `i`; resolves once it is gone. */
  async killNode(i) {
    const { child } = this.nodes[i];
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /** Index of the node named `name` (a stream's leader, as the server reports it). */
  indexOf(name) {
    return this.nodes.findIndex((n) => n.name === name);
  }

  /** Stops every node by its PID (SIGTERM, SIGKILL after 5 s) and removes the store dirs. */
  async stop() {
    await Promise.all(
      this.nodes.map(async ({ child }) => {
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGKILLs every node still running; for process exit (synchronous). */
  killAll() {
    for (const { child } of this.nodes)
      if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
