// The fault injectors of the orders chaos suite (benches/chaos/): the TCP proxy (latency that keeps
// byte order, resets) over a local echo server, and the private 3-node NATS cluster (a replicated
// stream keeps taking writes while one node is killed, and the node comes back), and the load
// suite's rate and moleculer paths briefly. Seconds each. The suites that run the whole e-commerce
// shop (benches/chaos-orders.mjs --tiny and benches/load-orders.mjs at 10 connections, five or six
// service processes each) run last, with every `npm test`.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, connect as dial, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error -- a plain .mjs bench module without types
import { NatsCluster } from "../../benches/chaos/nats-cluster.mjs";
// @ts-expect-error -- a plain .mjs bench module without types
import { TcpProxy } from "../../benches/chaos/proxy.mjs";
import { JetStream } from "../../ts/entries/jetstream.js";
import { NatsConnection } from "../../ts/entries/nats.js";
import { NATS_URL } from "../nats/helpers.js";
import { PG_URL } from "../persistence/helpers.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** An echo server on a free loopback port. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on("error", () => undefined); // the proxy's reset reaches this side too (ECONNRESET)
    socket.pipe(socket);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  return { server, port: (server.address() as { port: number }).port };
}

function open(port: number): Promise<Socket> {
  return new Promise((ready, reject) => {
    const socket = dial(port, "127.0.0.1", () => ready(socket));
    socket.once("error", reject);
  });
}

/** Resolves with what `socket` received once it holds `length` bytes. */
function receive(socket: Socket, length: number): Promise<string> {
  return new Promise((done) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.length >= length) {
        socket.off("data", onData);
        done(text);
      }
    };
    socket.on("data", onData);
  });
}

describe("chaos tools", () => {
  it("TcpProxy passes bytes both ways, holds them for the latency in order, and resets connections", async () => {
    const { server, port } = await echoServer();
    const proxy = await TcpProxy.start(port);
    try {
      const client = await open(proxy.port);
      let answer = receive(client, 2);
      client.write("ab");
      expect(await answer).toBe("ab");

      // Held for the latency in force when they reach the proxy (a lower bound, not a speed).
      proxy.latency(100);
      const sentAt = performance.now();
      answer = receive(client, 12);
      client.write("slow1-");
      await new Promise((wait) => setTimeout(wait, 30)); // "slow1-" is at the proxy, held
      // The latency drops while bytes are held: later bytes must not overtake them.
      proxy.latency(0);
      client.write("fast1-");
      expect(await answer).toBe("slow1-fast1-");
      expect(performance.now() - sentAt).toBeGreaterThanOrEqual(99);

      const reset = new Promise<string | undefined>((done) =>
        client.once("error", (error: NodeJS.ErrnoException) => done(error.code)),
      );
      expect(proxy.reset()).toBe(1);
      expect(await reset).toBe("ECONNRESET");
      // New connections are taken at once.
      const again = await open(proxy.port);
      answer = receive(again, 2);
      again.write("ok");
      expect(await answer).toBe("ok");
      again.destroy();
    } finally {
      await proxy.close();
      server.close();
    }
  });

  it("NatsCluster: a 3-replica stream takes writes with one node killed, and the node comes back", async () => {
    const cluster = await NatsCluster.start(3);
    let connection: NatsConnection | undefined;
    try {
      connection = await NatsConnection.connect({ servers: cluster.urls });
      const jetstream = new JetStream(connection);
      const stream = { name: "CHAOS_TOOLS", subjects: ["chaos-tools.>"], replicas: 3 };
      const retry = async <T>(work: () => Promise<T>): Promise<T> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await work();
          } catch (error) {
            if (attempt >= 80) throw error; // a new cluster elects its leaders within seconds
            await new Promise((wait) => setTimeout(wait, 250));
          }
        }
      };
      await retry(() => jetstream.ensureStream(stream));
      await retry(() => jetstream.publishOne("chaos-tools.a", "m-1", Buffer.from("1")));
      await cluster.killNode(0);
      expect(cluster.nodes[0].child.signalCode).toBe("SIGKILL");
      // The stream has a leader among the two left (or elects one) and keeps taking writes.
      await retry(() => jetstream.publishOne("chaos-tools.a", "m-2", Buffer.from("2")));
      await cluster.startNode(0);
      expect(cluster.nodes[0].child.exitCode).toBeNull();
    } finally {
      await connection?.close();
      await cluster.stop();
    }
    for (const node of cluster.nodes)
      expect(node.child.exitCode !== null || node.child.signalCode !== null).toBe(true);
  }, 60_000);
});

/** Runs a bench script; resolves with its exit code and output (it stops every process it starts). */
function runBench(args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      args,
      // The services these tests are pointed at (CATGA_TEST_*), under the names the suites read.
      {
        cwd: root,
        timeout: timeoutMs,
        maxBuffer: 4 * 1024 * 1024,
        env: { ...process.env, NATS_URL, DATABASE_URL: PG_URL },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        done({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

describe("load suite, briefly", () => {
  const out = mkdtempSync(join(tmpdir(), "catga-load-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("flows (b) with Catga and with moleculer at an offered rate: same answers, no failure, a plot", async () => {
    const { code, output } = await runBench(
      [
        "benches/load.mjs",
        "--servers=bare,catga-nats,moleculer",
        "--rounds=1",
        "--duration=1",
        "--warmup=0",
        "--connections=20",
        "--rate=200",
        `--out=${out}`,
      ],
      90_000,
    );
    expect(code, output).toBe(0);
    expect(output).toContain('all answer: 200 {"orderId":"o-book-2"}');
    expect(output).toMatch(/catga-nats \/ moleculer req\/s per round: [\d.]+; median [\d.]+/);
    expect(output).toMatch(/\| moleculer-web \+ moleculer, .* \| 0 \|/);
    const svg = readFileSync(join(out, "load-c20-r200.svg"), "utf8");
    expect(svg).toContain("moleculer over NATS (b)");
    expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L/);
    const report = JSON.parse(readFileSync(join(out, "load-c20-r200.json"), "utf8"));
    expect(report.rounds).toHaveLength(3);
  }, 100_000);
});

// The shop's service processes, load and the drain: 25–35 s for the chaos suite and 4–6 s for the
// load suite in tiny mode (quiet machine; both twice at once next to a busy core), so they run with
// every `npm test`: the chaos suite is the proof of zero lost orders through node kills and resets.
describe("suites over the e-commerce shop", () => {
  const out = mkdtempSync(join(tmpdir(), "catga-shop-suites-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("every accepted order ends once through instance and node kills, latency, resets and SIGSTOP", async () => {
    const { code, output } = await runBench(
      ["--import", "./examples/ts-hooks.mjs", "benches/chaos-orders.mjs", "--tiny", `--out=${out}`],
      240_000,
    );
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "chaos-orders.json"), "utf8"));
    expect(report.lost).toBe(0);
    expect(report.accepted).toBeGreaterThan(0);
    expect(report.faults).toHaveLength(7);
    expect(
      report.checks.every((c: { ok: boolean }) => c.ok),
      JSON.stringify(report.checks),
    ).toBe(true);
    expect(readFileSync(join(out, "chaos-orders.md"), "utf8")).toContain("](chaos-orders.svg)");
    expect(readFileSync(join(out, "chaos-orders.md"), "utf8")).toContain("](chaos-orders-latency.svg)");
    expect(readFileSync(join(out, "chaos-orders-latency.svg"), "utf8")).toContain("before the first fault");
  }, 250_000);

  it("flow (c) under load: orders accepted without failure, all ended, the invariants hold", async () => {
    const { code, output } = await runBench(
      [
        "--import",
        "./examples/ts-hooks.mjs",
        "benches/load-orders.mjs",
        "--connections=10",
        "--duration=1",
        "--warmup=0",
        `--out=${out}`,
      ],
      240_000,
    );
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "load-orders.json"), "utf8"));
    expect(report.runs).toHaveLength(1);
    expect(report.accepted).toBeGreaterThan(0);
    expect(
      report.checks.every((c: { ok: boolean }) => c.ok),
      JSON.stringify(report.checks),
    ).toBe(true);
  }, 250_000);
});
