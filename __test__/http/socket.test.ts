import { request as httpRequest } from "node:http";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import type { ProblemDetails } from "../../ts/entries/fastify.js";
import { natsTransport } from "../../ts/entries/nats.js";
import type { HealthReport } from "../../ts/entries/observability.js";
import { createCatga, ErrorCodes, type HandlerContext, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";
import { app, PlaceOrder, TRACEPARENT } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** Listens on a free loopback port; returns the base URL. */
async function listen(instance: FastifyInstance): Promise<string> {
  cleanups.push(() => instance.close());
  await instance.listen({ port: 0, host: "127.0.0.1" });
  const address = instance.server.address();
  if (typeof address !== "object" || address === null) throw new Error("no address");
  return `http://127.0.0.1:${address.port}`;
}

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
}

function problemIn(response: Response): Promise<ProblemDetails> {
  return response.json() as Promise<ProblemDetails>;
}

/** A POST on a connection of its own (fetch would queue it behind a busy keep-alive one). */
function postAlone(url: string, body: string): Promise<number | "refused"> {
  return new Promise((resolve) => {
    const request = httpRequest(url, {
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json" },
    });
    request.on("response", (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("error", () => resolve("refused"));
    request.end(body);
  });
}

describe("fastify plugin over a real socket", () => {
  it("answers commands, bad JSON and schema failures over HTTP", async () => {
    const catga = createCatga({ logger: silentLogger })
      .withValidation()
      .handle(PlaceOrder, ({ sku, qty }) => ({ orderId: `o-${sku}-${qty}` }))
      .build();
    const { app: server } = await app({ catga });
    server.post("/orders", async (request, reply) =>
      reply.catga(await request.catga.send(PlaceOrder, request.body as { sku: string; qty: number })),
    );
    const base = await listen(server);

    const placed = await post(`${base}/orders`, JSON.stringify({ sku: "book", qty: 2 }));
    expect([placed.status, await placed.json()]).toEqual([200, { orderId: "o-book-2" }]);

    const badJson = await post(`${base}/orders`, '{"sku":');
    expect(badJson.status).toBe(400);
    expect(badJson.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
    expect((await problemIn(badJson)).status).toBe(400);

    const invalid = await post(`${base}/orders`, JSON.stringify({ sku: "book", qty: -1 }));
    expect(invalid.status).toBe(400);
    const problem = await problemIn(invalid);
    expect([problem.code, problem.issues?.map((issue) => issue.path)]).toEqual([
      ErrorCodes.VALIDATION,
      ["qty"],
    ]);

    const live = await fetch(`${base}/health/live`);
    expect([live.status, live.headers.get("cache-control")]).toEqual([200, "no-store"]);
  });

  it("finishes a request in flight when closed, refuses new ones, then closes the mediator", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let closed = false;
    const catga = createCatga({ logger: silentLogger })
      .handle(PlaceOrder, async ({ sku }) => {
        entered();
        await gate;
        return { orderId: `o-${sku}` };
      })
      .build();
    const close = catga.close.bind(catga);
    catga.close = async () => {
      closed = true;
      await close();
    };
    const { app: server } = await app({ catga });
    server.post("/orders", async (request, reply) =>
      reply.catga(await request.catga.send(PlaceOrder, request.body as { sku: string; qty: number })),
    );
    const base = await listen(server);

    const inFlight = post(`${base}/orders`, JSON.stringify({ sku: "slow", qty: 1 }));
    await inHandler;
    const closing = server.close();
    // A new request while closing: refused (the listener is closed) or answered 503 by Fastify.
    const late = await postAlone(`${base}/orders`, JSON.stringify({ sku: "late", qty: 1 }));
    expect([503, "refused"]).toContain(late);
    expect(closed).toBe(false);
    release();
    const response = await inFlight;
    expect([response.status, await response.json()]).toEqual([200, { orderId: "o-slow" }]);
    // Its keep-alive connection is let go, or `close` would wait for its idle timeout.
    expect(response.headers.get("connection")).toBe("close");
    await closing;
    expect(closed).toBe(true);
  });

  it("sends a command over NATS to another service and carries the trace context there", async () => {
    const prefix = uniquePrefix("http");
    const seen: HandlerContext[] = [];
    const ordersTransport = await natsTransport({ servers: NATS_URL, service: "orders", prefix });
    cleanups.push(() => orders.close());
    const orders = createCatga({ logger: silentLogger, transport: ordersTransport })
      .withValidation()
      .handle(PlaceOrder, ({ sku, qty }, ctx) => {
        seen.push(ctx);
        return { orderId: `o-${sku}-${qty}` };
      })
      .build();
    await ordersTransport.ready();
    const gatewayTransport = await natsTransport({ servers: NATS_URL, service: "gateway", prefix });
    const gateway = createCatga({ logger: silentLogger, transport: gatewayTransport })
      .remote(PlaceOrder)
      .build();
    const { app: server } = await app({ catga: gateway });
    server.post("/orders", async (request, reply) =>
      reply.catga(await request.catga.send(PlaceOrder, request.body as { sku: string; qty: number })),
    );
    const base = await listen(server);

    const placed = await post(`${base}/orders`, JSON.stringify({ sku: "book", qty: 3 }), {
      traceparent: TRACEPARENT,
      tracestate: "vendor=1",
    });
    expect([placed.status, await placed.json()]).toEqual([200, { orderId: "o-book-3" }]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers).toEqual({ traceparent: TRACEPARENT, tracestate: "vendor=1" });

    // The remote service validates; its CATGA_VALIDATION comes back as a 400 with the issues.
    const invalid = await post(`${base}/orders`, JSON.stringify({ sku: "", qty: 1 }));
    expect(invalid.status).toBe(400);
    expect((await problemIn(invalid)).issues?.map((issue) => issue.path)).toEqual(["sku"]);

    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    const report = (await ready.json()) as HealthReport;
    expect(report.checks.transport).toMatchObject({ status: "up", details: { connected: true } });

    await server.close();
    // The plugin closed the gateway's mediator, and with it its NATS transport.
    const after = await gateway.send(PlaceOrder, { sku: "x", qty: 1 });
    expect(after.ok ? "ok" : after.error.code).toBe(ErrorCodes.CLOSED);
  });
});
