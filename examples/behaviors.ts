// Behaviors: the pipeline around every handler. Each section builds its own small mediator so the
// effect of one behavior is seen alone; in an app they stack on one builder (docs/architecture/mediator.md,
// "Behaviors": retry wraps the breaker, which wraps the timeout).
// Run: npm run example:behaviors
import { setTimeout as sleep } from "node:timers/promises";
import { createCatga, defineBehavior, defineCommand, defineQuery } from "../dist/index.js";

const FetchRate = defineQuery("fx.rate").payload<{ pair: string }>().returns<number>();
const BuildReport = defineCommand("reports.build").payload<{ month: string }>().returns<string>();
const Charge = defineCommand("payments.charge").payload<{ cents: number }>().returns<string>();

// 1. Retry: a flaky upstream fails twice, then answers. Only retryable codes are retried
// (CATGA_HANDLER_FAILED, CATGA_TIMEOUT by default), with exponential backoff and jitter.
let calls = 0;
const retrying = createCatga()
  .withRetry({ maxAttempts: 3, baseDelayMs: 10 })
  .handle(FetchRate, () => {
    calls += 1;
    if (calls < 3) throw new Error("upstream hiccup");
    return 1.08;
  })
  .build();
const rate = await retrying.query(FetchRate, { pair: "EURUSD" });
console.log("retry:", rate.unwrap(), `after ${calls} attempts`);

// 2. Timeout: the handler gets `ctx.signal`, aborted when its budget runs out; the caller gets
// CATGA_TIMEOUT on time even if the handler ignored the signal.
const timed = createCatga()
  .withTimeout({ ms: 5_000, perType: { "reports.build": 50 } }) // a tighter budget for one type
  .handle(BuildReport, async ({ month }, ctx) => {
    await sleep(1_000, undefined, { signal: ctx.signal }); // rejects as soon as the budget ends
    return `report ${month}`;
  })
  .build();
const report = await timed.send(BuildReport, { month: "2026-11" });
if (!report.ok) console.log("timeout:", report.error.code, report.error.details);

// 3. Circuit breaker: after 2 consecutive failures the circuit opens and calls fail fast with
// CATGA_CIRCUIT_OPEN (the handler is not called) until a trial after `resetTimeoutMs` succeeds.
let gatewayUp = false;
const guarded = createCatga()
  .withCircuitBreaker({
    failureThreshold: 2,
    resetTimeoutMs: 100,
    onStateChange: ({ key, from, to }) => console.log(`breaker: ${key} ${from} -> ${to}`),
  })
  .handle(Charge, ({ cents }) => {
    if (!gatewayUp) throw new Error("gateway down");
    return `charged ${cents}`;
  })
  .build();
for (let i = 0; i < 3; i++) {
  const charged = await guarded.send(Charge, { cents: 500 });
  console.log("breaker:", charged.ok ? charged.value : charged.error.code);
}
gatewayUp = true;
await sleep(120); // past resetTimeoutMs: the next call is the half-open trial
console.log("breaker:", (await guarded.send(Charge, { cents: 500 })).unwrap());

// 4. Custom behaviors: `priority` places them (higher runs outside). The same observer at 900
// (outside retry, 800) sees one outcome per call; at 700 (inside retry) it sees every attempt.
// `create` runs once per pipeline when the mediator is built; returning undefined skips one.
const observer = (name: string, priority: number) =>
  defineBehavior({
    name,
    priority,
    create: (target) =>
      target.kind === "event"
        ? undefined
        : async (payload, ctx, next) => {
            const result = await next(payload, ctx); // may be called again, or not at all
            console.log(`${name}: ${target.contract.type} ${result.ok ? "ok" : result.error.code}`);
            return result;
          },
  });
calls = 0;
const observed = createCatga()
  .withRetry({ maxAttempts: 3, baseDelayMs: 10 })
  .use(observer("per-call", 900))
  .use(observer("per-attempt", 700))
  .handle(FetchRate, () => {
    if (++calls < 2) throw new Error("upstream hiccup");
    return 1.1;
  })
  .build();
await observed.query(FetchRate, { pair: "GBPUSD" });
console.log("steps:", observed.describe()[0]?.steps.join(" > "));
