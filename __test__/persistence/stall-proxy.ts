import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy to a local port that can stall: `stall()` stops forwarding in both directions
 * (bytes are held, no reset, no error: what a dead NAT entry or a frozen middlebox looks like),
 * for open and new connections alike, until `resume()`.
 */
export class StallProxy {
  private stalled = false;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<StallProxy> {
    const server = createServer();
    const proxy = new StallProxy(server);
    server.on("connection", (client) => {
      const upstream = connect(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.on("error", () => socket.destroy());
        socket.on("close", () => {
          proxy.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
        if (proxy.stalled) socket.pause();
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  stall(): void {
    this.stalled = true;
    for (const socket of this.sockets) socket.pause();
  }

  resume(): void {
    this.stalled = false;
    for (const socket of this.sockets) socket.resume();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
