// Observability with the OpenTelemetry SDK: Catga speaks only `@opentelemetry/api`; you register
// the SDK and its exporters and every send, publish and handler run becomes a span and a metric.
// Spans go to the console exporter, and with OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) set
// (a collector, Jaeger, Tempo: e.g. http://localhost:4318) to it over OTLP/HTTP too. No server needed otherwise.
// Run: npm run example:observability
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { CatgaError, createCatga, defineCommand, defineEvent } from "../dist/index.js";
import { withObservability } from "../dist/observability.js";

// 1. The SDK first: the metrics API has no proxy, so a meter taken before this would stay no-op.
// The context manager lets your own spans (the "checkout" one below) parent Catga's.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const spanProcessors: SpanProcessor[] = [new SimpleSpanProcessor(new ConsoleSpanExporter())];
// The exporter reads the endpoint (and OTEL_EXPORTER_OTLP_HEADERS, …) from the environment itself;
// batched, as in production. tracing.shutdown() at the end sends what is left.
const { OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT } = process.env;
if (OTEL_EXPORTER_OTLP_ENDPOINT || OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
const tracing = new BasicTracerProvider({ spanProcessors });
trace.setGlobalTracerProvider(tracing);
// Metrics are kept in memory and summed up at the end (the console metric exporter prints every
// histogram bucket); in production this is an OTLP or Prometheus exporter.
const exported = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: exported, exportIntervalMillis: 60_000 });
const meters = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(meters);

const PlaceOrder = defineCommand("orders.place").payload<{ sku: string }>().returns<string>();
const OrderPlaced = defineEvent("orders.placed").payload<{ orderId: string }>();

// 2. Then the mediator: withObservability wraps the builder (after the transport, if any).
// Named handler functions name the spans' `catga.handler`.
const catga = withObservability(createCatga())
  .handle(PlaceOrder, async function placeOrder({ sku }, ctx) {
    if (sku === "gone") throw new CatgaError("ORDERS_OUT_OF_STOCK", `no ${sku} left`);
    await ctx.publish(OrderPlaced, { orderId: `o-${sku}` }); // a child span, same trace
    return `o-${sku}`;
  })
  .handle(OrderPlaced, function notify() {})
  .build();

// 3. Traffic: one order inside a span of our own, one that fails with a domain code (its spans
// get status ERROR and `catga.error.code`).
await trace.getTracer("shop").startActiveSpan("checkout", async (span) => {
  (await catga.send(PlaceOrder, { sku: "book" })).unwrap();
  span.end();
});
await catga.send(PlaceOrder, { sku: "gone" });

// 4. Spans went out as they ended; metrics are exported on flush. One line per counter series.
await meters.forceFlush();
for (const metric of exported.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))) {
  if (metric.dataPointType !== DataPointType.SUM) continue;
  for (const { attributes, value } of metric.dataPoints) {
    const outcome = attributes["catga.outcome"] ?? "";
    console.log(`metric ${metric.descriptor.name} ${attributes["catga.message.type"]} ${outcome} = ${value}`);
  }
}
await Promise.all([meters.shutdown(), tracing.shutdown()]);
