import { freePort, PrivateNats } from "./helpers.js";

/**
 * A private 3-node (or n-node) NATS cluster with JetStream, on free loopback ports, each node its
 * own process and store: kill one by PID (`kill(i)`) to test failover, `restart(i)` to bring it
 * back on the same store. Stop with `dispose()`. Each node serves its monitoring endpoint too, so
 * a test can see which node a named client is connected to (`nodeOf`).
 */
export class NatsCluster {
  private constructor(
    /** The cluster's name; node i is the server `<name>-n<i>`. */
    readonly name: string,
    readonly nodes: PrivateNats[],
    private readonly monitorPorts: number[],
  ) {}

  static async start(size = 3, name = `catga${process.pid}`): Promise<NatsCluster> {
    const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const monitorPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
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
          "-m",
          String(monitorPorts[i]),
        ]),
      ),
    );
    return new NatsCluster(name, nodes, monitorPorts);
  }

  /** The index of the live node a client named `clientName` is connected to (its `/connz`). */
  async nodeOf(clientName: string): Promise<number> {
    for (const [i, port] of this.monitorPorts.entries()) {
      const connz = await fetch(`http://127.0.0.1:${port}/connz?limit=1000`)
        .then((response) => response.json() as Promise<{ connections?: { name?: string }[] }>)
        .catch(() => ({ connections: [] }));
      if (connz.connections?.some((c) => c.name === clientName)) return i;
    }
    throw new Error(`no node has a client named ${clientName}`);
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
