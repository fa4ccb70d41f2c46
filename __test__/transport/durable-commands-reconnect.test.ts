import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import { JetStream } from "../../ts/jetstream/jetstream.js";
import type { NatsTransport } from "../../ts/transport/nats-transport.js";
import { until } from "../nats/helpers.js";

// Issue 16: a "result" caller whose connection is cut while its commands are handled still gets
// every Result once it reconnects, within its deadline. The caller reaches the loopback NATS
// through a TCP proxy that the test cuts (every connection dropped, new ones refused) and then
// lets through again; the handler stays connected and answers while the caller is away, so each
// Result reaches the caller only by being read back from the results stream.
const NATS = "nats://127.0.0.1:4222";
const prefix = `dreconn${process.pid}`;
const Pack = defineCommand("warehouse.pack").payload<{ n: number }>().returns<{ n: number }>().durable();

/** A TCP proxy to NATS that can cut every connection and refuse new ones until `restore()`. */
class CutProxy {
  private cut = false;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(targetPort: number): Promise<CutProxy> {
    const server = createServer();
    const proxy = new CutProxy(server);
    server.on("connection", (client) => {
      if (proxy.cut) {
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, "127.0.0.1");
      client.pipe(upstream);
      upstream.pipe(client);
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.on("error", () => socket.destroy());
        socket.on("close", () => {
          proxy.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    const address = this.server.address();
    return `nats://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  }

  drop(): void {
    this.cut = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const transports: NatsTransport[] = [];
function connectVia(servers: string, service: string, durableCommands?: object): Promise<NatsTransport> {
  return natsTransport({
    servers,
    service,
    prefix,
    requestTimeoutMs: 2000,
    reconnectDelayMs: 50,
    reconnectDelayMaxMs: 250,
    ...(durableCommands === undefined ? {} : { durableCommands }),
  }).then((transport) => {
    transports.push(transport);
    return transport;
  });
}

afterAll(async () => {
  const admin = transports[0];
  if (admin !== undefined) {
    const js = new JetStream(admin.connection);
    const stream = `${prefix.toUpperCase()}_COMMANDS`;
    for (const name of [stream, `${stream}_DLQ`, `${stream}_RESULTS`])
      await js.deleteStream(name).catch(() => undefined);
  }
  await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
});

describe("durable commands: a 'result' caller disconnected while its commands are handled", () => {
  it("gets every Result after it reconnects, within its deadline", async () => {
    const handlerTransport = await connectVia(NATS, "warehouse", {
      provision: { storage: "memory" },
      consumer: { batch: 16, fetchWaitMs: 100, ackWaitMs: 10_000 },
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started = new Set<number>();
    const answered = new Set<number>();
    let runs = 0;
    const warehouse = createCatga({ logger: silentLogger, transport: handlerTransport })
      .handle(Pack, async ({ n }) => {
        started.add(n);
        if (n >= 0) await gate;
        answered.add(n);
        runs++;
        return { n };
      })
      .build();
    await handlerTransport.ready();

    const proxy = await CutProxy.start(4222);
    try {
      const callerTransport = await connectVia(proxy.url, "web");
      const statuses: string[] = [];
      callerTransport.connection.on("status", (event: { kind: string }) => {
        statuses.push(event.kind);
      });
      const web = createCatga({ logger: silentLogger, transport: callerTransport }).remote(Pack).build();
      // Confirms the type and opens the caller's inbox before the cut.
      expect((await web.send(Pack, { n: -1 }, { await: "result" })).unwrap()).toEqual({ n: -1 });

      const total = 12;
      const signal = AbortSignal.timeout(20_000);
      const results = Array.from({ length: total }, (_, n) =>
        web.send(Pack, { n }, { await: "result", signal }),
      );
      // All stored before the cut (so every Result is published while the caller is away), and
      // some already held in the handler (the rest wait for the consumer's next fetch).
      const queued = async () => {
        const reply = await handlerTransport.connection.request(
          `$JS.API.STREAM.INFO.${prefix.toUpperCase()}_COMMANDS`,
          Buffer.from(""),
          5000,
        );
        return (JSON.parse(reply.toString()) as { state: { messages: number } }).state.messages;
      };
      const waitFor = async (check: () => Promise<boolean>, what: string) => {
        for (const deadline = Date.now() + 15_000; !(await check()); ) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      await waitFor(async () => (await queued()) === total, "every command to be stored");
      await until(() => started.size >= 2, 15_000, "commands to reach the handler");

      proxy.drop();
      await until(() => statuses.includes("disconnected"), 10_000, "the caller to notice the cut");
      release();
      // Answered (published, and stored by the results stream) while the caller is cut off; the
      // commands are then acked, so the work queue empties.
      await until(() => answered.size === total + 1, 10_000, "every command to be answered");
      await waitFor(async () => (await queued()) === 0, "every command to be acked");
      expect(statuses).not.toContain("reconnected");

      proxy.restore();
      const settled = await Promise.all(results);
      expect(settled.map((r) => (r.ok ? r.value : r.error.code))).toEqual(
        Array.from({ length: total }, (_, n) => ({ n })),
      );
      expect(statuses).toContain("reconnected");
      // Each command ran once: the Results came back from the stream, not from a rerun.
      expect(runs).toBe(total + 1);
    } finally {
      await proxy.close();
      await warehouse.close();
    }
  }, 60_000);
});
