import { freePort, PrivateNats } from "./helpers.js";

/**
 * A private 3-node (or n-node) NATS cluster with JetStream, on free loopback ports, each node its
 * own process and store: kill one by PID (`kill(i)`) to test failover, `restart(i)` to bring it
 * back on the same store. Stop with `dispose()`.
 */
export class NatsCluster {
  private constructor(readonly nodes: PrivateNats[]) {}

  static async start(size = 3, name = `catga${process.pid}`): Promise<NatsCluster> {
    const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(",");
    const nodes = await Promise.all(
      routePorts.map((routePort, i) =>
        PrivateNats.start([
          "-n",
          `${name}-n${i}`,
          "--cluster_name",
          name,
          "--cluster",
          `nats://127.0.0.1:${routePort}`,
          "--routes",
          routes,
        ]),
      ),
    );
    return new NatsCluster(nodes);
  }

  /** Every node's client URL, for a client that fails over between them. */
  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** The index of the node whose server name is `serverName` (e.g. a stream's leader). */
  indexOf(serverName: string): number {
    const match = /-n(\d+)$/.exec(serverName);
    if (match === null) throw new Error(`not a node of this cluster: ${serverName}`);
    return Number(match[1]);
  }

  /** kill -9 of node `i`. */
  kill(i: number): Promise<void> {
    return this.nodes[i]!.stop();
  }

  /** Starts node `i` again on its own store. */
  restart(i: number): Promise<void> {
    return this.nodes[i]!.start();
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.dispose()));
  }
}
