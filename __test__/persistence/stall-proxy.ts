import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy to a local port that can stall: `stall()` stops forwarding in both directions
 * (bytes are held, no reset, no error: what a dead NAT entry or a frozen middlebox looks like),
 * for open and new connections alike, until `resume()`.
 */
export class StallProxy {
  private stalled = false;
  private readonly sockets = new Set<Socket>();
  /** Bytes read while stalled, written on resume in the order they came. */
  private held: [Socket, Buffer][] = [];

  private constructor(private readonly server: Server) {}

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<StallProxy> {
    const server = createServer();
    const proxy = new StallProxy(server);
    server.on("connection", (client) => {
      const upstream = connect(targetPort, targetHost);
      // Forwarded by hand, not with pipe(): pipe() resumes a paused source (a new connection
      // during a stall would then flow) and resumes it again on 'drain'.
      const forward = (from: Socket, to: Socket) => {
        from.on("data", (chunk: Buffer) => {
          if (proxy.stalled) {
            proxy.held.push([to, chunk]);
            from.pause();
          } else to.write(chunk);
        });
      };
      forward(client, upstream);
      forward(upstream, client);
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
    for (const [to, chunk] of this.held) if (!to.destroyed) to.write(chunk);
    this.held = [];
    for (const socket of this.sockets) socket.resume();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
