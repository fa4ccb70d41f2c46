import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { documentedOutput, runExample } from "./helpers.js";

/**
 * The observability example's spans, wherever they were exported: seven, and the first order's
 * five share the trace of the example's own "checkout" span (the failing order has its own).
 */
function expectOrderSpans(spans: readonly { name: string | undefined; traceId: string | undefined }[]): void {
  expect(spans.map((s) => s.name).sort()).toEqual(
    [
      "checkout",
      "send orders.place",
      "process orders.place",
      "publish orders.placed",
      "process orders.placed",
      "send orders.place",
      "process orders.place",
    ].sort(),
  );
  const checkout = spans.find((s) => s.name === "checkout")?.traceId;
  expect(spans.filter((s) => s.traceId === checkout)).toHaveLength(5);
}

// Each example runs as its own process, with the command examples/README.md gives.
describe("examples that need no server", { timeout: 60_000 }, () => {
  it("quickstart prints the order and its correlation id", async () => {
    const run = await runExample("quickstart");
    expect(run.code, run.stderr).toBe(0);
    expect(run.lines[0]).toMatch(/^placed book correlation [0-9a-f-]{36}$/);
    expect(run.lines[1]).toBe("{ orderId: 'o-book' }");
  });

  it("typed-contracts: zod, valibot and arktype schemas parse input and reject bad input by path", async () => {
    const run = await runExample("typed-contracts");
    expect(run.code, run.stderr).toBe(0);
    expect(run.lines).toEqual([
      "zod { orderId: 'o-book', quantity: 1 }", // the default applied for the handler
      "valibot ada@example.com", // the transform ran before the handler
      "arktype { sku: 'tea', left: 7 }",
      "CATGA_VALIDATION sku, quantity",
      "CATGA_VALIDATION email",
      "CATGA_VALIDATION sku",
    ]);
    expect(documentedOutput("typed-contracts")).toEqual(run.lines);
  });

  it("behaviors: retry, timeout, circuit breaker and custom behaviors placed by priority", async () => {
    const run = await runExample("behaviors");
    expect(run.code, run.stderr).toBe(0);
    expect(run.lines).toEqual([
      "retry: 1.08 after 3 attempts",
      "timeout: CATGA_TIMEOUT { timeoutMs: 50 }",
      "breaker: CATGA_HANDLER_FAILED",
      "breaker: payments.charge closed -> open",
      "breaker: CATGA_HANDLER_FAILED",
      "breaker: CATGA_CIRCUIT_OPEN",
      "breaker: payments.charge open -> half-open",
      "breaker: payments.charge half-open -> closed",
      "breaker: charged 500",
      "per-attempt: fx.rate CATGA_HANDLER_FAILED",
      "per-attempt: fx.rate ok",
      "per-call: fx.rate ok",
      "steps: per-call > retry > per-attempt > handler",
    ]);
    expect(documentedOutput("behaviors")).toEqual(run.lines);
  });

  it("testing: the example test file passes under vitest", async () => {
    const run = await runExample("testing");
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Tests\s+.*3 passed/);
  });

  it("observability: spans on the console exporter, one trace per root message, and metrics", async () => {
    const run = await runExample("observability");
    expect(run.code, run.stderr).toBe(0);
    const spans = [...run.stdout.matchAll(/traceId: '([0-9a-f]{32})',[\s\S]*?name: '([^']+)'/g)].map((m) => ({
      traceId: m[1],
      name: m[2],
    }));
    expectOrderSpans(spans);
    expect(run.stdout).toContain("'catga.error.code': 'ORDERS_OUT_OF_STOCK'");
    expect(run.lines).toContain("metric catga.requests.total orders.place ok = 1");
    expect(run.lines).toContain("metric catga.requests.failed orders.place ORDERS_OUT_OF_STOCK = 1");
  });

  it("observability with OTEL_EXPORTER_OTLP_ENDPOINT: the same spans reach an OTLP/HTTP receiver", async () => {
    // A stand-in collector: OTLP/HTTP JSON posted to /v1/traces, kept as it came.
    const bodies: { resourceSpans: { scopeSpans: { spans: { name: string; traceId: string }[] }[] }[] }[] =
      [];
    const receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        if (request.method === "POST" && request.url === "/v1/traces") bodies.push(JSON.parse(body));
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((ready) => receiver.listen(0, "127.0.0.1", ready));
    const { port } = receiver.address() as AddressInfo;
    try {
      const run = await runExample("observability", {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "", // a traces endpoint in the environment would win
      });
      expect(run.code, run.stderr).toBe(0);
      const spans = bodies.flatMap((b) =>
        b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
      );
      expectOrderSpans(spans);
    } finally {
      await new Promise((closed) => receiver.close(closed));
    }
  });

  it("order-saga: one saga completes, the out-of-stock one is compensated", async () => {
    const run = await runExample("order-saga");
    expect(run.code, run.stderr).toBe(0);
    expect(run.lines).toEqual(["o-1 completed ", "o-2 compensated INVENTORY_SHORT"]);
    expect(documentedOutput("order-saga")).toEqual(run.lines);
  });

  it("nestjs: the @nestjs/cqrs app and its @catga/native/nestjs migration do the same", async () => {
    const run = await runExample("nestjs");
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.lines).toEqual([
      "before (@nestjs/cqrs):",
      "  warehouse notified: o-1 (book)",
      "  o-1: 2 x book",
      "after (@catga/native/nestjs):",
      "  warehouse notified: o-1 (book)",
      "  o-1: 2 x book",
      "same behaviour: yes",
    ]);
    expect(documentedOutput("nestjs")).toEqual(run.lines);
  });
});
