import { readFileSync } from "node:fs";
import Fastify from "fastify";
import { afterEach, describe, expect, it, vi } from "vitest";
import { catgaFastify, PROBLEM_STATUSES, problemOf, traceHeadersOf } from "../../ts/entries/fastify.js";
import {
  CatgaConfigError,
  CatgaError,
  createCatga,
  defineCommand,
  defineQuery,
  ErrorCodes,
  type HandlerContext,
  silentLogger,
} from "../../ts/index.js";
import { app, GetStock, PlaceOrder, TRACEPARENT } from "./helpers.js";

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function started(options: Parameters<typeof app>[0]) {
  const made = await app(options);
  closers.push(() => made.app.close());
  return made;
}

const Fail = defineCommand("orders.fail").payload<{ code: string; retryAfterMs?: number }>().returns<never>();
const Slow = defineCommand("orders.slow").payload<{ ms: number }>().returns<{ waited: number }>();
const Nothing = defineCommand("orders.nothing").payload<{}>().returns<undefined>();

/** A handler's coded failure (thrown: a returned `err()` would be the handler's value). */
function refuse(code: string, message: string, retryAfterMs?: number): never {
  throw new CatgaError(code, message, { details: retryAfterMs ? { retryAfterMs } : undefined });
}

function mediator() {
  return createCatga({ logger: silentLogger })
    .withValidation()
    .handle(PlaceOrder, ({ sku, qty }) => ({ orderId: `o-${sku}-${qty}` }))
    .handle(GetStock, () => ({ left: 3 }))
    .handle(Fail, ({ code, retryAfterMs }) =>
      refuse(code, `refused (${code}) at db://user:secret@10.0.0.7`, retryAfterMs),
    )
    .handle(Nothing, () => undefined)
    .build();
}

describe("fastify plugin with inject", () => {
  it("decorates the instance with the mediator and replies with a command's result", async () => {
    const catga = mediator();
    const { app } = await started({ catga });
    expect(app.catga).toBe(catga);
    app.post("/orders", async (request, reply) =>
      reply.catga(await request.catga.send(PlaceOrder, request.body as { sku: string; qty: number })),
    );
    app.get("/stock/:sku", async (request, reply) =>
      reply.catga(await request.catga.query(GetStock, request.params as { sku: string })),
    );
    app.post("/created", async (request, reply) =>
      reply.catga(await request.catga.send(PlaceOrder, { sku: "pen", qty: 1 }), { status: 201 }),
    );
    app.post("/nothing", async (request, reply) => reply.catga(await request.catga.send(Nothing, {})));

    const placed = await app.inject({ method: "POST", url: "/orders", payload: { sku: "book", qty: 2 } });
    expect(placed.statusCode).toBe(200);
    expect(placed.json()).toEqual({ orderId: "o-book-2" });
    expect((await app.inject({ url: "/stock/pen" })).json()).toEqual({ left: 3 });
    expect((await app.inject({ method: "POST", url: "/created" })).statusCode).toBe(201);
    const nothing = await app.inject({ method: "POST", url: "/nothing" });
    expect(nothing.statusCode).toBe(204);
    expect(nothing.body).toBe("");
  });

  it("answers a schema failure with 400 problem+json listing the issues", async () => {
    const { app } = await started({ catga: mediator() });
    app.post("/orders", async (request, reply) =>
      reply.catga(await request.catga.send(PlaceOrder, request.body as { sku: string; qty: number })),
    );
    const response = await app.inject({ method: "POST", url: "/orders", payload: { sku: "", qty: 1.5 } });
    expect(response.statusCode).toBe(400);
    expect(response.headers["content-type"]).toBe("application/problem+json; charset=utf-8");
    const body = response.json();
    expect(body).toMatchObject({
      type: "about:blank",
      title: "Bad Request",
      status: 400,
      code: ErrorCodes.VALIDATION,
    });
    expect(body.issues.map((issue: { path: string }) => issue.path).sort()).toEqual(["qty", "sku"]);
    for (const issue of body.issues) expect(Object.keys(issue).sort()).toEqual(["message", "path"]);
  });

  it("maps timeout to 504 and capacity failures to 503 with Retry-After", async () => {
    const catga = createCatga({ logger: silentLogger })
      .withTimeout({ ms: 30 })
      .handle(Slow, async ({ ms }, ctx: HandlerContext) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        ctx.signal.throwIfAborted();
        return { waited: ms };
      })
      .handle(Fail, ({ code, retryAfterMs }) => refuse(code, `refused (${code})`, retryAfterMs))
      .build();
    const { app } = await started({ catga });
    app.post("/slow", async (request, reply) => reply.catga(await request.catga.send(Slow, { ms: 200 })));
    app.post("/fail", async (request, reply) =>
      reply.catga(await request.catga.send(Fail, request.body as { code: string; retryAfterMs?: number })),
    );

    const slow = await app.inject({ method: "POST", url: "/slow" });
    expect(slow.statusCode).toBe(504);
    expect(slow.json()).toMatchObject({ status: 504, title: "Gateway Timeout", code: ErrorCodes.TIMEOUT });

    const fail = (payload: object) => app.inject({ method: "POST", url: "/fail", payload });
    const limited = await fail({ code: ErrorCodes.RATE_LIMITED, retryAfterMs: 1500 });
    expect(limited.statusCode).toBe(503);
    expect(limited.headers["retry-after"]).toBe("2"); // rounded up: never earlier than asked
    expect(limited.json()).toMatchObject({ code: ErrorCodes.RATE_LIMITED, retryAfterMs: 1500 });
    const open = await fail({ code: ErrorCodes.CIRCUIT_OPEN, retryAfterMs: 30_000 });
    expect([open.statusCode, open.headers["retry-after"]]).toEqual([503, "30"]);
    for (const code of [ErrorCodes.BACKPRESSURE, ErrorCodes.NOT_CONNECTED, ErrorCodes.CLOSED]) {
      const response = await fail({ code });
      expect([response.statusCode, response.headers["retry-after"], response.json().code]).toEqual([
        503,
        "1",
        code,
      ]);
    }
    const aborted = await fail({ code: ErrorCodes.ABORTED });
    expect([aborted.statusCode, aborted.headers["retry-after"]]).toEqual([503, undefined]);
  });

  it("answers a real circuit breaker and rate limiter with 503 and their Retry-After", async () => {
    const Flaky = defineCommand("orders.flaky").payload<{}>().returns<never>();
    const catga = createCatga({ logger: silentLogger })
      .withCircuitBreaker({ failureThreshold: 1, resetTimeoutMs: 60_000 })
      .withRateLimiting({ capacity: 1, refillPerSecond: 0.5 })
      .handle(Flaky, () => {
        throw new Error("down");
      })
      .handle(GetStock, () => ({ left: 1 }))
      .build();
    const { app } = await started({ catga });
    app.post("/flaky", async (request, reply) => reply.catga(await request.catga.send(Flaky, {})));
    app.get("/stock", async (request, reply) =>
      reply.catga(await request.catga.query(GetStock, { sku: "a" })),
    );

    expect((await app.inject({ method: "POST", url: "/flaky" })).statusCode).toBe(500);
    const open = await app.inject({ method: "POST", url: "/flaky" });
    expect([open.statusCode, open.json().code]).toEqual([503, ErrorCodes.CIRCUIT_OPEN]);
    expect(Number(open.headers["retry-after"])).toBeGreaterThanOrEqual(59);

    expect((await app.inject({ url: "/stock" })).statusCode).toBe(200);
    const limited = await app.inject({ url: "/stock" });
    expect([limited.statusCode, limited.json().code]).toEqual([503, ErrorCodes.RATE_LIMITED]);
    expect(Number(limited.headers["retry-after"])).toBe(2);
  });

  it("answers 500 and logs why when reply.catga gets something that is not a Result", async () => {
    const { app, logs } = await started({ catga: mediator() });
    const untyped = (reply: unknown, value: unknown) =>
      (reply as { catga(result: unknown): unknown }).catga(value);
    app.get("/number", async (_request, reply) => untyped(reply, 42));
    app.get("/plain", async (_request, reply) => untyped(reply, { orderId: "o-1" }));
    for (const [url, said] of [
      ["/number", "got a number"],
      ["/plain", "got an object without a boolean `ok`"],
    ] as const) {
      const response = await app.inject({ method: "GET", url });
      expect(response.statusCode).toBe(500);
      expect(response.body).not.toContain("reply.catga");
      expect(logs.join("")).toContain(
        `reply.catga(result): result must be a Result ({ ok, value } or { ok, error }), ${said}`,
      );
    }
  });

  it("hides a handler's failure behind a 500 and logs it on the server", async () => {
    const Crash = defineCommand("orders.crash").payload<{}>().returns<never>();
    const catga = createCatga({ logger: silentLogger })
      .handle(Crash, () => {
        throw new Error("connect ECONNREFUSED db://user:secret@10.0.0.7");
      })
      .handle(Fail, ({ code }) => refuse(code, "stock row 42 locked by tx 9"))
      .build();
    const { app, logs } = await started({ catga });
    app.post("/crash", async (request, reply) => reply.catga(await request.catga.send(Crash, {})));
    app.post("/fail", async (request, reply) =>
      reply.catga(await request.catga.send(Fail, request.body as { code: string })),
    );

    const crash = await app.inject({ method: "POST", url: "/crash" });
    expect(crash.statusCode).toBe(500);
    expect(crash.json()).toEqual({
      type: "about:blank",
      title: "Internal Server Error",
      status: 500,
      code: ErrorCodes.HANDLER_FAILED,
    });
    expect(crash.body).not.toContain("secret");
    expect(logs.join("")).toContain("ECONNREFUSED");

    // A domain code nobody mapped: neither its name nor its message reaches the client.
    const unknown = await app.inject({ method: "POST", url: "/fail", payload: { code: "STOCK_LOCKED" } });
    expect(unknown.statusCode).toBe(500);
    expect(unknown.json()).toEqual({ type: "about:blank", title: "Internal Server Error", status: 500 });
  });

  it("takes per-code overrides: a domain code as 404 or 409, a Catga code changed", async () => {
    const { app } = await started({
      catga: mediator(),
      statuses: {
        ORDERS_NOT_FOUND: { status: 404, expose: true },
        ORDERS_CONFLICT: {
          status: 409,
          expose: true,
          type: "https://example.com/problems/conflict",
          title: "Order changed",
        },
        [ErrorCodes.RATE_LIMITED]: { status: 429, expose: true },
      },
    });
    app.post("/fail", async (request, reply) =>
      reply.catga(await request.catga.send(Fail, request.body as { code: string; retryAfterMs?: number })),
    );
    const fail = (payload: object) => app.inject({ method: "POST", url: "/fail", payload });
    const missing = await fail({ code: "ORDERS_NOT_FOUND" });
    expect([missing.statusCode, missing.json().code, missing.json().title]).toEqual([
      404,
      "ORDERS_NOT_FOUND",
      "Not Found",
    ]);
    expect(missing.json().detail).toContain("refused (ORDERS_NOT_FOUND)");
    const conflict = await fail({ code: "ORDERS_CONFLICT" });
    expect(conflict.json()).toMatchObject({
      status: 409,
      type: "https://example.com/problems/conflict",
      title: "Order changed",
    });
    const limited = await fail({ code: ErrorCodes.RATE_LIMITED, retryAfterMs: 200 });
    expect([limited.statusCode, limited.headers["retry-after"]]).toEqual([429, "1"]);
    // The default table is not changed by an override.
    expect(PROBLEM_STATUSES[ErrorCodes.RATE_LIMITED].status).toBe(503);
  });

  it("answers bad HTTP input and thrown errors with problem+json", async () => {
    const { app, logs } = await started({ catga: mediator() });
    app.post(
      "/orders",
      {
        schema: {
          body: {
            type: "object",
            required: ["sku"],
            properties: { sku: { type: "string" } },
          },
        },
      },
      async (request) => (await request.catga.send(PlaceOrder, { sku: "x", qty: 0 })).unwrap(),
    );
    app.get("/boom", async () => {
      throw new Error("internal path /srv/app/secret.ts");
    });

    const badJson = await app.inject({
      method: "POST",
      url: "/orders",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.headers["content-type"]).toBe("application/problem+json; charset=utf-8");
    expect(badJson.json()).toMatchObject({ status: 400, code: "FST_ERR_CTP_INVALID_JSON_BODY" });

    const schema = await app.inject({ method: "POST", url: "/orders", payload: { qty: 1 } });
    expect(schema.statusCode).toBe(400);
    expect(schema.json().issues).toEqual([{ path: "body", message: "must have required property 'sku'" }]);

    // `unwrap()` threw a CatgaError: the same table answers it.
    const unwrapped = await app.inject({ method: "POST", url: "/orders", payload: { sku: "x" } });
    expect([unwrapped.statusCode, unwrapped.json().code]).toEqual([400, ErrorCodes.VALIDATION]);
    expect(unwrapped.json().issues).toHaveLength(1);

    const boom = await app.inject({ url: "/boom" });
    expect(boom.json()).toEqual({ type: "about:blank", title: "Internal Server Error", status: 500 });
    expect(logs.join("")).toContain("secret.ts");
  });

  it("continues the request's W3C trace context in the messages it sends", async () => {
    const seen: Record<string, string>[] = [];
    const Traced = defineQuery("trace.seen").payload<{}>().returns<string>();
    const catga = createCatga({ logger: silentLogger })
      .handle(Traced, (_payload, ctx) => {
        seen.push({ ...ctx.headers });
        return "ok";
      })
      .build();
    const { app } = await started({ catga });
    app.get("/traced", async (request, reply) => reply.catga(await request.catga.query(Traced, {})));
    app.get("/own", async (request, reply) =>
      reply.catga(await request.catga.query(Traced, {}, { headers: { tenant: "t-1" } })),
    );

    await app.inject({ url: "/traced", headers: { traceparent: TRACEPARENT, tracestate: "vendor=abc" } });
    await app.inject({ url: "/traced", headers: { traceparent: "00-not-a-trace-01", tracestate: "x=1" } });
    await app.inject({ url: "/traced" });
    await app.inject({ url: "/own", headers: { traceparent: TRACEPARENT.toUpperCase() } });
    expect(seen).toEqual([
      { traceparent: TRACEPARENT, tracestate: "vendor=abc" },
      {},
      {},
      { traceparent: TRACEPARENT, tenant: "t-1" },
    ]);
  });

  it("serves liveness and readiness from the mediator's health", async () => {
    let storeUp = true;
    const { app } = await started({
      catga: mediator(),
      health: { readyPath: "/ready", stores: { orders: () => storeUp } },
    });
    const live = await app.inject({ url: "/health/live" });
    expect([live.statusCode, live.json()]).toEqual([200, { status: "up" }]);
    const ready = await app.inject({ url: "/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.transport.details).toEqual({ transport: "in-process" });
    storeUp = false;
    const down = await app.inject({ url: "/ready" });
    expect([down.statusCode, down.json().checks["stores.orders"].status]).toEqual([503, "down"]);
  });

  it("adds no health routes with health: false, and leaves the error handler with errorHandler: false", async () => {
    const { app } = await started({ catga: mediator(), health: false, errorHandler: false });
    app.get("/boom", async () => {
      throw new CatgaError(ErrorCodes.TIMEOUT, "late");
    });
    expect((await app.inject({ url: "/health/live" })).statusCode).toBe(404);
    const boom = await app.inject({ url: "/boom" });
    expect(boom.headers["content-type"]).toContain("application/json");
    expect(boom.json().code).toBe(ErrorCodes.TIMEOUT);
  });

  it("rejects bad options with one CatgaConfigError naming each field", async () => {
    const register = async (options: unknown) => {
      await Fastify()
        .register(catgaFastify, options as never)
        .ready();
    };
    const error = await register({
      catga: {},
      statuses: { X: { status: 200 }, Y: { status: 404, bogus: 1 }, Z: "x", OK: { status: 404 } },
      drainTimeoutMs: -1,
      health: { livePath: "live" },
      typo: 1,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatgaConfigError);
    // Every bad statuses entry by its code, not only the first.
    expect((error as CatgaConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      "catga",
      "drainTimeoutMs",
      "health.livePath",
      "statuses.X",
      "statuses.Y",
      "statuses.Z",
      "typo",
    ]);
    const missing = await register(undefined).catch((e: unknown) => e);
    expect((missing as CatgaConfigError).issues).toEqual([{ path: "catga", message: expect.any(String) }]);
    // One path for both health routes: was Fastify's FST_ERR_DUPLICATED_ROUTE (found from outside).
    const catga = createCatga({ logger: silentLogger }).build();
    for (const health of [{ livePath: "/h", readyPath: "/h" }, { readyPath: "/health/live" }]) {
      const same = await register({ catga, health }).catch((e: unknown) => e);
      expect(same).toBeInstanceOf(CatgaConfigError);
      expect((same as CatgaConfigError).issues.map((issue) => issue.path)).toEqual(["health.readyPath"]);
    }
  });

  it("lets in-flight calls finish on close, then closes the mediator", async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const catga = createCatga({ logger: silentLogger })
      .handle(Slow, async ({ ms }) => {
        await gate;
        order.push("handler done");
        return { waited: ms };
      })
      .build();
    const close = catga.close.bind(catga);
    vi.spyOn(catga, "close").mockImplementation(async () => {
      order.push("catga closed");
      await close();
    });
    const { app } = await app_({ catga });
    app.post("/slow", async (request, reply) => reply.catga(await request.catga.send(Slow, { ms: 1 })));
    await app.ready();

    const response = app.inject({ method: "POST", url: "/slow" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closed = app.close().then(() => order.push("fastify closed"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual([]); // close waits for the call
    release();
    await closed;
    expect((await response).json()).toEqual({ waited: 1 });
    expect(order).toEqual(["handler done", "catga closed", "fastify closed"]);
  });

  it("gives up waiting after drainTimeoutMs, says so, and closes anyway", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    closers.push(async () => release());
    let handled = false;
    const catga = createCatga({ logger: silentLogger })
      .handle(Slow, async ({ ms }) => {
        await gate;
        handled = true;
        return { waited: ms };
      })
      .build();
    const { app, logs } = await app_({ catga, drainTimeoutMs: 30, closeCatga: false });
    app.post("/slow", async (request, reply) => reply.catga(await request.catga.send(Slow, { ms: 1 })));
    await app.ready();
    void app.inject({ method: "POST", url: "/slow" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await app.close();
    expect(handled).toBe(false); // closed while the call was still running
    expect(logs.join("")).toContain("1 of 1 calls still running after 30 ms");
  });
});

describe("traceHeadersOf", () => {
  it("keeps a valid traceparent (lower-cased) with its tracestate, and drops invalid ones", () => {
    expect(traceHeadersOf({ traceparent: ` ${TRACEPARENT} ` })).toEqual({ traceparent: TRACEPARENT });
    expect(traceHeadersOf({ traceparent: TRACEPARENT, tracestate: "a=1, b=2" })).toEqual({
      traceparent: TRACEPARENT,
      tracestate: "a=1, b=2",
    });
    expect(traceHeadersOf({ traceparent: TRACEPARENT, tracestate: "a".repeat(513) })).toEqual({
      traceparent: TRACEPARENT,
    });
    // A later version may append fields; version 00 may not; ff is invalid; zero ids are invalid.
    expect(traceHeadersOf({ traceparent: `01${TRACEPARENT.slice(2)}-extra` })).toBeDefined();
    for (const bad of [
      `${TRACEPARENT}-extra`,
      `ff${TRACEPARENT.slice(2)}`,
      `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${"0".repeat(16)}-01`,
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    ])
      expect(traceHeadersOf({ traceparent: bad, tracestate: "a=1" })).toBeUndefined();
    expect(traceHeadersOf({ traceparent: [TRACEPARENT, TRACEPARENT] })).toBeUndefined();
  });
});

// The close tests close the app themselves.
const app_ = app;

describe("PROBLEM_STATUSES", () => {
  it("answers every Catga code, and docs/guides/http.md lists each code that is not a plain 500", () => {
    const docs = readFileSync(new URL("../../docs/guides/http.md", import.meta.url), "utf8");
    for (const code of Object.values(ErrorCodes)) {
      const mapping = PROBLEM_STATUSES[code];
      expect(mapping, code).toBeDefined();
      if (mapping.status === 500) continue;
      const row = docs.split("\n").find((line) => line.startsWith("| ") && line.includes(`\`${code}\``));
      expect(row, `${code} missing from the table in docs/guides/http.md`).toContain(`| ${mapping.status} |`);
    }
  });

  it("problemOf merges the statuses it is given over the table, as the plugin does", () => {
    const timeout = new CatgaError(ErrorCodes.TIMEOUT, "slow");
    const refused = new CatgaError("ORDERS_NOT_FOUND", "no such order");
    const own = { ORDERS_NOT_FOUND: { status: 404, expose: true } };
    expect(problemOf(timeout, own).status).toBe(PROBLEM_STATUSES[ErrorCodes.TIMEOUT].status);
    expect(problemOf(timeout).status).toBe(PROBLEM_STATUSES[ErrorCodes.TIMEOUT].status);
    expect(problemOf(refused, own)).toMatchObject({ status: 404, body: { detail: "no such order" } });
    // Not an error at all (from JS): a blank 500, not a TypeError.
    expect(problemOf(null as never).status).toBe(500);
    // A wait that is no wait (NaN, negative) is not shown, and Retry-After is the table's default.
    for (const retryAfterMs of [Number.NaN, -5, Number.POSITIVE_INFINITY]) {
      const limited = new CatgaError(ErrorCodes.RATE_LIMITED, "slow down", { details: { retryAfterMs } });
      const problem = problemOf(limited);
      expect(problem.retryAfterSeconds).toBe(PROBLEM_STATUSES[ErrorCodes.RATE_LIMITED].retryAfterSeconds);
      expect(problem.body).not.toHaveProperty("retryAfterMs");
    }
  });
});
