// A small TCP proxy for the chaos suites, on loopback: clients connect to the proxy's port and
// their bytes go to `target` and back. Two faults on the path:
//   - latency(ms): every chunk, either way, is held `ms` before it is passed on (order kept: a
//     chunk never overtakes an earlier one when the latency drops);
//   - reset(): every open connection is torn down with a TCP RST on both sides, as a broken
//     network path would; new connections are accepted at once (the clients reconnect).
// A target that refuses (its node killed) closes the client's socket: the client moves on to its
// next URL.
import { createServer, connect as dial } from "node:net";

export class TcpProxy {
  /** Listens on a free loopback port in front of 127.0.0.1:`targetPort`. */
  static async start(targetPort) {
    const proxy = new TcpProxy(targetPort);
    await new Promise((resolve, reject) => {
      proxy.server.once("error", reject);
      proxy.server.listen(0, "127.0.0.1", resolve);
    });
    proxy.port = proxy.server.address().port;
    return proxy;
  }

  constructor(targetPort) {
    this.targetPort = targetPort;
    this.latencyMs = 0;
    /** Open pairs of sockets: [client side, server side]. */
    this.pairs = new Set();
    /** Connections torn down by reset(), over the proxy's life. */
    this.resets = 0;
    this.server = createServer((client) => this.accept(client));
  }

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  accept(client) {
    const upstream = dial(this.targetPort, "127.0.0.1");
    const pair = [client, upstream];
    this.pairs.add(pair);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) {
      socket.setNoDelay(true);
      socket.on("error", close);
      socket.once("close", close);
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /** Passes `from`'s bytes to `to`, each chunk held for the latency of the moment it arrived. */
  pipe(from, to) {
    const queue = [];
    let timer;
    let lastDue = 0;
    const flush = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0].due <= now) to.write(queue.shift().chunk);
      if (queue.length > 0) timer = setTimeout(flush, queue[0].due - now);
    };
    from.on("data", (chunk) => {
      if (this.latencyMs === 0 && queue.length === 0) {
        to.write(chunk);
        return;
      }
      // Never before an earlier chunk: order on the wire is the protocol's.
      const due = Math.max(performance.now() + this.latencyMs, lastDue);
      lastDue = due;
      queue.push({ due, chunk });
      timer ??= setTimeout(flush, due - performance.now());
    });
    from.once("close", () => clearTimeout(timer));
  }

  /** Sets the latency added to every chunk from now on, in ms (0: none). */
  latency(ms) {
    this.latencyMs = ms;
  }

  /** Tears down every open connection with a TCP RST on both sides; returns how many. */
  reset() {
    const pairs = [...this.pairs];
    for (const pair of pairs) {
      this.pairs.delete(pair);
      for (const socket of pair) socket.resetAndDestroy();
    }
    this.resets += pairs.length;
    return pairs.length;
  }

  /** Stops listening and closes every connection. */
  close() {
    for (const pair of this.pairs) for (const socket of pair) socket.destroy();
    this.pairs.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
