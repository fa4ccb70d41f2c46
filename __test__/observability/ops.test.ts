import { createServer, type Server } from "node:http";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import {
  CatgaObservability,
  createLogger,
  fastifyHealthHandlers,
  health,
  healthHandlers,
  MetricNames,
  pinoLogger,
  type ReplyLike,
  withObservability,
} from "../../ts/entries/observability.js";
import { migrate, OutboxRelay, PostgresOutbox, RedisIdempotencyStore } from "../../ts/entries/persistence.js";
import {
  CatgaConfigError,
  createCatga,
  defineCommand,
  InMemoryIdempotencyStore,
  type StoredOutcome,
  silentLogger,
} from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";
import { deadPool, dropSchema, newPool, REDIS_URL, uniqueName } from "../persistence/helpers.js";
import { api, pointValue, telemetry } from "./helpers.js";

const Work = defineCommand("work.do").payload<{ fail?: boolean }>().returns<number>();

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe("logging", () => {
  it("pino gets messageId, correlationId, type, durationMs and the error code as fields, with trace ids", async () => {
    const t = telemetry();
    const { lines, stream } = capture();
    const logger = pinoLogger(pino({ level: "debug" }, stream));
    const catga = withObservability(createCatga({ preset: "development", logger }), {
      api,
      tracerProvider: t.tracerProvider,
      metrics: false,
    })
      .handle(Work, ({ fail }) => {
        if (fail) throw new Error("nope");
        return 1;
      })
      .build();
    await catga.send(Work, {}, { messageId: "m-1", correlationId: "c-1" });
    await catga.send(Work, { fail: true }, { messageId: "m-2" });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 20,
      msg: "command work.do ok",
      messageId: "m-1",
      correlationId: "c-1",
      type: "work.do",
      kind: "command",
    });
    expect(typeof lines[0]!.durationMs).toBe("number");
    expect(lines[1]).toMatchObject({ level: 50, messageId: "m-2", code: "CATGA_HANDLER_FAILED" });
    // Logged inside the send span: the entry carries its trace id.
    const sends = t.spans().filter((s) => s.name === "send work.do");
    expect(lines.map((l) => l.trace_id)).toEqual(sends.map((s) => s.spanContext().traceId));
    await t.shutdown();
  });

  it("createLogger picks the preset's level (pino when installed)", () => {
    const dev = createLogger({ preset: "development" }) as unknown as Record<string, unknown>;
    expect(typeof dev.debug).toBe("function");
    const { lines, stream } = capture();
    const prod = createLogger({ preset: "production", pino: pino({ level: "info" }, stream) });
    prod.debug("hidden", {});
    prod.info("shown", { messageId: "x" });
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(lines.map((l) => l.msg)).toEqual(["shown"]);
        resolve();
      }),
    );
  });
});

describe("inbox and outbox metrics", () => {
  it("an instrumented idempotency store counts processed and duplicate messages and store latency", async () => {
    const t = telemetry();
    const obs = withObservabilityFor(t);
    const store = obs.instrumentStore(new InMemoryIdempotencyStore(), "memory");
    const catga = withObservability(createCatga({ logger: silentLogger }).withIdempotency({ store }), obs)
      .handle(Work, () => 1)
      .build();
    await catga.send(Work, {}, { messageId: "a" });
    await catga.send(Work, {}, { messageId: "a" });
    await catga.send(Work, {}, { messageId: "b" });
    const inbox = await t.points(MetricNames.inboxProcessed);
    expect(pointValue(inbox, { "catga.outcome": "processed" })).toBe(2);
    expect(pointValue(inbox, { "catga.outcome": "duplicate" })).toBe(1);
    const latency = await t.points(MetricNames.persistenceLatency);
    // The in-memory store has claims, so the behavior claims (replaying "done") instead of reading.
    expect(
      (latency.find((p) => p.attributes["catga.store.operation"] === "claim")!.value as { count: number })
        .count,
    ).toBe(3);
    await t.shutdown();
  });

  it("a store without claims is measured on get: a hit is the duplicate", async () => {
    const t = telemetry();
    const obs = withObservabilityFor(t);
    const memory = new InMemoryIdempotencyStore();
    const plain = {
      get: (key: string) => memory.get(key),
      set: (key: string, outcome: StoredOutcome, ttlMs: number) => memory.set(key, outcome, ttlMs),
    };
    const store = obs.instrumentStore(plain, "plain");
    const catga = withObservability(createCatga({ logger: silentLogger }).withIdempotency({ store }), obs)
      .handle(Work, () => 1)
      .build();
    await catga.send(Work, {}, { messageId: "a" });
    await catga.send(Work, {}, { messageId: "a" });
    const inbox = await t.points(MetricNames.inboxProcessed);
    expect(pointValue(inbox, { "catga.outcome": "processed" })).toBe(1);
    expect(pointValue(inbox, { "catga.outcome": "duplicate" })).toBe(1);
    const latency = await t.points(MetricNames.persistenceLatency);
    expect(
      (latency.find((p) => p.attributes["catga.store.operation"] === "get")!.value as { count: number })
        .count,
    ).toBe(2);
    await t.shutdown();
  });

  it("catga.outbox.pending is read from the relay at collection time", async () => {
    const schema = uniqueName("otel_outbox");
    const pool = newPool(2);
    await migrate(pool, { schema });
    try {
      const outbox = new PostgresOutbox({ schema });
      const client = await pool.connect();
      try {
        await outbox.addMany(client, [
          { subject: "x.evt", messageId: "p1", envelope: Buffer.from("1") },
          { subject: "x.evt", messageId: "p2", envelope: Buffer.from("2") },
        ]);
      } finally {
        client.release();
      }
      // The oldest row has waited a minute: catga.outbox.lag reports it in seconds.
      await pool.query(
        `UPDATE "${schema}".catga_outbox SET created_at = now() - interval '60 seconds' WHERE message_id = 'p1'`,
      );
      const relay = new OutboxRelay({ pool, schema, publisher: { publish: async () => [] } });
      const t = telemetry();
      const obs = withObservabilityFor(t);
      obs.observeRelay(relay, { name: "orders" });
      const pending = await t.points(MetricNames.outboxPending);
      expect(pointValue(pending, { "catga.outbox": "orders" })).toBe(2);
      const lag = pointValue(await t.points(MetricNames.outboxLag), { "catga.outbox": "orders" }) as number;
      expect(lag).toBeGreaterThanOrEqual(59);
      expect(lag).toBeLessThan(600);
      expect(pointValue(await t.points(MetricNames.outboxRelayed), { "catga.outcome": "sent" })).toBe(0);
      // Stopped observing: a third row is not read any more.
      obs.shutdown();
      await pool.query(
        `INSERT INTO "${schema}".catga_outbox (message_id, subject, envelope) VALUES ('p3', 'x.evt', '\\x33')`,
      );
      expect(await relay.pending()).toBe(3);
      expect(pointValue(await t.points(MetricNames.outboxPending), { "catga.outbox": "orders" })).not.toBe(3);
      await t.shutdown();
    } finally {
      await dropSchema(pool, schema);
      await pool.end();
    }
  });
});

function withObservabilityFor(t: ReturnType<typeof telemetry>): CatgaObservability {
  return new CatgaObservability({ api, tracerProvider: t.tracerProvider, meterProvider: t.meterProvider });
}

describe("health", () => {
  const redis = new Redis(REDIS_URL, { lazyConnect: false });
  let server: Server;
  let base: string;
  let catga: Awaited<ReturnType<typeof build>>;
  let dead: Awaited<ReturnType<typeof deadPool>>;

  async function build() {
    const transport = await natsTransport({
      servers: NATS_URL,
      service: "health",
      prefix: uniquePrefix("health"),
    });
    return createCatga({ logger: silentLogger, transport })
      .handle(Work, () => 1)
      .build();
  }

  beforeAll(async () => {
    catga = await build();
    dead = await deadPool();
    const good = healthHandlers(catga, {
      stores: { inbox: new RedisIdempotencyStore({ client: redis }) },
      consumers: { relay: () => true },
    });
    const bad = healthHandlers(catga, { stores: { outbox: dead }, timeoutMs: 3000 });
    server = createServer((request, response) => {
      if (request.url === "/live") good.liveness(request, response);
      else if (request.url === "/ready") void good.readiness(request, response);
      else if (request.url === "/ready-bad") void bad.readiness(request, response);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await catga?.close();
    await dead?.end();
    redis.disconnect();
  });

  it("liveness answers 200; readiness 200 with every check up", async () => {
    const live = await fetch(`${base}/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "up" });
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as {
      status: string;
      checks: Record<string, { status: string; details?: unknown }>;
    };
    expect(body.status).toBe("up");
    expect(Object.keys(body.checks).sort()).toEqual(["consumers.relay", "stores.inbox", "transport"]);
    expect(body.checks.transport).toMatchObject({ status: "up", details: { connected: true } });
  });

  it("readiness is 503 naming the check that is down", async () => {
    const ready = await fetch(`${base}/ready-bad`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as {
      status: string;
      checks: Record<string, { status: string; error?: { message: string } }>;
    };
    expect(body.status).toBe("down");
    expect(body.checks.transport!.status).toBe("up");
    expect(body.checks["stores.outbox"]!.status).toBe("down");
    expect(body.checks["stores.outbox"]!.error?.message).toMatch(/ECONNREFUSED|connect/);
  });

  it("a closed transport is down; fastify-shaped handlers reply the same", async () => {
    const other = await build();
    await other.close();
    const report = await health(other);
    expect(report.status).toBe("down");
    expect(report.checks.transport!.error?.code).toBe("CATGA_CLOSED");
    const sent: { code?: number; body?: unknown } = {};
    const reply: ReplyLike = {
      code(status) {
        sent.code = status;
        return reply;
      },
      header: () => reply,
      send(body) {
        sent.body = body;
        return reply;
      },
    };
    await fastifyHealthHandlers(other).readiness({}, reply);
    expect(sent.code).toBe(503);
    expect((sent.body as { status: string }).status).toBe("down");
    expect((await health(undefined)).status).toBe("up"); // in process: nothing to be down
  });

  it("a store or consumer of no known shape is down (nothing checked), naming what it got", async () => {
    const report = await health(undefined, {
      stores: {
        bad: { status: "down" } as object,
        inbox: new InMemoryIdempotencyStore(),
        missing: undefined as unknown as object,
      },
      consumers: { plain: {}, fn: () => true },
    });
    expect(report.status).toBe("down");
    expect(report.checks["stores.bad"]).toMatchObject({ status: "down", error: { code: "CATGA_CONFIG" } });
    expect(report.checks["stores.bad"]!.error!.message).toMatch(/stores\.bad.*keys: status.*no known shape/);
    expect(report.checks["stores.missing"]).toMatchObject({
      status: "down",
      error: { code: "CATGA_CONFIG" },
    });
    expect(report.checks["stores.missing"]!.error!.message).toMatch(/undefined of no known shape/);
    expect(report.checks["consumers.plain"]).toMatchObject({
      status: "down",
      error: { code: "CATGA_CONFIG" },
    });
    expect(report.checks["stores.inbox"]!.status).toBe("up");
    expect(report.checks["consumers.fn"]!.status).toBe("up");
    // A transport with no connection to ask (in process, say) is still up.
    const inProcess = await health(undefined, { transport: { name: "in-memory" } });
    expect(inProcess.checks.transport!.status).toBe("up");
  });

  it("withObservability, observability() and createLogger refuse unknown or mistyped options, naming each", () => {
    const issuesOf = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(CatgaConfigError);
        return (error as CatgaConfigError).issues.map((i) => i.path);
      }
      throw new Error("accepted");
    };
    expect(issuesOf(() => withObservability(undefined as never))).toEqual(["withObservability.builder"]);
    expect(
      issuesOf(() =>
        withObservability(createCatga({ logger: silentLogger }), {
          bogus: 1,
          enabled: "yes",
          tracerProvider: 5,
          wireSystem: "",
        } as never),
      ).sort(),
    ).toEqual([
      "observability.bogus",
      "observability.enabled",
      "observability.tracerProvider",
      "observability.wireSystem",
    ]);
    expect(issuesOf(() => createLogger({ preset: "x", level: "loud" } as never)).sort()).toEqual([
      "createLogger.level",
      "createLogger.preset",
    ]);
  });

  it("refuses arguments that would check nothing: a misspelt option, a mediator that is not one", async () => {
    const paths = async (run: () => unknown) => {
      const error = await Promise.resolve()
        .then(run)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(CatgaConfigError);
      return (error as CatgaConfigError).issues.map((i) => i.path);
    };
    // A misspelt `stores` turned the store checks off: readiness said up for nothing checked.
    expect(await paths(() => health(undefined, { store: {} } as never))).toEqual(["health.store"]);
    expect(await paths(() => health(5 as never))).toEqual(["catga"]);
    expect(await paths(() => health(undefined, { stores: 5, timeoutMs: Number.NaN } as never))).toEqual([
      "health.stores",
      "health.timeoutMs",
    ]);
    // The handlers say so when they are made, not at the first probe.
    expect(await paths(() => healthHandlers(undefined, { bogus: 1 } as never))).toEqual(["health.bogus"]);
    expect(await paths(() => fastifyHealthHandlers(undefined, { timeoutMs: -1 }))).toEqual([
      "health.timeoutMs",
    ]);
  });
});
