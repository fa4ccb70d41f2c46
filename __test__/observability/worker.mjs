// A worker process for the cross-process trace test: serves `math.add` and handles `math.added`
// over NATS with observability on, using the built package (dist/) as a real service would. On
// SIGTERM it closes, then prints its finished spans as one JSON line and exits. It prints
// "handled math.added" when the event arrives.
import * as api from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { createCatga, defineCommand, defineEvent, silentLogger } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { withObservability } from "../../dist/observability.js";

const [prefix, service] = process.argv.slice(2);
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
api.trace.setGlobalTracerProvider(provider);

const Add = defineCommand("math.add");
const Added = defineEvent("math.added");
const transport = await natsTransport({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  service,
  prefix,
});
const catga = withObservability(createCatga({ logger: silentLogger, transport }))
  .handle(Add, function add({ a, b }) {
    return { sum: a + b, pid: process.pid };
  })
  .handle(Added, function onAdded() {
    process.stdout.write("handled math.added\n"); // the test waits for this line, not a clock
  })
  .build();
await transport.ready();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  catga.close().then(
    () => {
      const spans = exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        kind: s.kind,
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        parentSpanId: s.parentSpanContext?.spanId,
        parentIsRemote: s.parentSpanContext?.isRemote,
        attributes: s.attributes,
        status: s.status,
      }));
      process.stdout.write(`spans ${JSON.stringify(spans)}\n`, () => process.exit(0));
    },
    () => process.exit(1),
  );
});
