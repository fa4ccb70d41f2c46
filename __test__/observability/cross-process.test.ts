import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { MetricNames, withObservability } from "../../ts/entries/observability.js";
import { createCatga, defineCommand, defineEvent, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";
import { api, pointValue, telemetry } from "./helpers.js";

const Add = defineCommand("math.add")
  .payload<{ a: number; b: number }>()
  .returns<{ sum: number; pid: number }>();
const Added = defineEvent("math.added").payload<{ sum: number }>();
const workerScript = fileURLToPath(new URL("./worker.mjs", import.meta.url));
const workers: ChildProcess[] = [];

interface WorkerSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  parentIsRemote?: boolean;
  attributes: Record<string, unknown>;
  status: { code: number };
}

interface Worker {
  readonly child: ChildProcess;
  readonly spans: Promise<WorkerSpan[]>;
  /** Everything the worker printed so far. */
  output(): string;
}

function startWorker(prefix: string): Promise<Worker> {
  const child = spawn(process.execPath, [workerScript, prefix, "math"], {
    env: { ...process.env, NATS_URL },
    stdio: ["ignore", "pipe", "inherit"],
  });
  workers.push(child);
  let out = "";
  const spans = new Promise<WorkerSpan[]>((resolve, reject) => {
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("spans "));
      if (line === undefined) reject(new Error(`worker exited with ${code} and no spans`));
      else resolve(JSON.parse(line.slice("spans ".length)) as WorkerSpan[]);
    });
  });
  spans.catch(() => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("worker did not become ready")), 15_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("ready\n")) {
        clearTimeout(timer);
        resolve({ child, spans, output: () => out });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited early with ${code}`));
    });
  });
}

afterAll(() => {
  for (const child of workers) if (child.exitCode === null) child.kill("SIGKILL");
});

describe("one trace across two processes over NATS", () => {
  it("a command sent from here and handled in the worker is one trace with a parent-child link", async () => {
    const prefix = uniquePrefix("otel");
    const worker = await startWorker(prefix);
    const t = telemetry();
    const transport = await natsTransport({ servers: NATS_URL, service: "client", prefix });
    const client = withObservability(createCatga({ logger: silentLogger, transport }), {
      api,
      tracerProvider: t.tracerProvider,
      meterProvider: t.meterProvider,
    })
      .remote(Add)
      .build();

    const value = (await client.send(Add, { a: 2, b: 3 }, { correlationId: "xproc-1" })).unwrap();
    expect(value).toEqual({ sum: 5, pid: worker.child.pid });
    (await client.publish(Added, { sum: 5 })).unwrap();
    await transport.connection.flush();

    // Metrics on this side: one sent of each, and the engine's counters read in bulk.
    expect(pointValue(await t.points(MetricNames.transportSent), { "catga.message.type": "math.add" })).toBe(
      1,
    );
    expect(
      pointValue(await t.points(MetricNames.transportSent), { "catga.message.type": "math.added" }),
    ).toBe(1);
    await until(() => transport.connection.stats().bytesSent > 0, 5000, "bytes sent");
    const bytes = await t.points(MetricNames.transportBytesSent);
    expect(bytes[0]?.value).toBeGreaterThan(0);
    expect(bytes[0]?.attributes["messaging.system"]).toBe("nats");

    await client.close();
    await until(() => worker.output().includes("handled math.added"), 10_000, "the event reaches the worker");
    worker.child.kill("SIGTERM");
    const remote = await worker.spans;

    const send = t.span("send math.add");
    const process = remote.find((s) => s.name === "process math.add");
    expect(process).toBeDefined();
    expect(process!.traceId).toBe(send.spanContext().traceId);
    expect(process!.parentSpanId).toBe(send.spanContext().spanId);
    expect(process!.parentIsRemote).toBe(true);
    expect(process!.kind).toBe(api.SpanKind.CONSUMER);
    expect(process!.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "catga.message.type": "math.add",
      "catga.correlation_id": "xproc-1",
      "messaging.message.id": send.attributes["messaging.message.id"],
    });
    expect(send.attributes["messaging.system"]).toBe("nats");

    const publish = t.span("publish math.added");
    const handled = remote.find((s) => s.name === "process math.added");
    expect(handled?.traceId).toBe(publish.spanContext().traceId);
    expect(handled?.parentSpanId).toBe(publish.spanContext().spanId);
    await t.shutdown();
  });
});
