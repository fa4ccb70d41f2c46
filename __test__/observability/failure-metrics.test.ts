import { describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { CatgaObservability, MetricNames, withObservability } from "../../ts/entries/observability.js";
import { jetstreamConsumers } from "../../ts/entries/operations.js";
import { createCatga, defineCommand, defineEvent, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";
import { api, pointValue, telemetry } from "./helpers.js";

// The failure paths docs/architecture/observability.md promises a metric for (and docs/grafana/catga.json
// charts): retries, breaker transitions, JetStream redeliveries, ack latency and consumer lag.

const Flaky = defineCommand("flaky.do").payload<{ failures: number }>().returns<string>();
const Broken = defineCommand("broken.do").payload<object>().returns<never>();
const Parcel = defineEvent("parcel.sent").payload<{ id: string }>();

describe("failure-path metrics", () => {
  it("counts retry attempts per type and failure code, and breaker transitions per key", async () => {
    const t = telemetry();
    let calls = 0;
    const options = { api, meterProvider: t.meterProvider, tracing: false };
    const catga = withObservability(
      createCatga({ logger: silentLogger }).withRetry({ maxAttempts: 3, baseDelayMs: 0 }),
      options,
    )
      .handle(Flaky, ({ failures }) => {
        if (calls++ < failures) throw new Error("not yet");
        return "done";
      })
      .build();
    const guarded = withObservability(
      createCatga({ logger: silentLogger }).withCircuitBreaker({
        failureThreshold: 1,
        resetTimeoutMs: 60_000,
      }),
      options,
    )
      .handle(Broken, () => {
        throw new Error("always");
      })
      .build();
    expect((await catga.send(Flaky, { failures: 2 })).unwrap()).toBe("done");
    const retries = await t.points(MetricNames.retries);
    expect(
      pointValue(retries, { "catga.message.type": "flaky.do", "catga.error.code": "CATGA_HANDLER_FAILED" }),
    ).toBe(2);

    await guarded.send(Broken, {});
    const transitions = await t.points(MetricNames.breakerTransitions);
    expect(
      pointValue(transitions, {
        "catga.breaker.key": "broken.do",
        "catga.breaker.from": "closed",
        "catga.breaker.to": "open",
      }),
    ).toBe(1);
    await Promise.all([catga.close(), guarded.close()]);
    await t.shutdown();
  });

  it("reports JetStream redeliveries, ack latency and each consumer's backlog", async () => {
    const t = telemetry();
    const prefix = uniquePrefix("failmetrics");
    const durableEvents = {
      consumer: { maxDeliver: 3, backoffMs: [20], fetchWaitMs: 100 },
      provision: { storage: "memory" as const },
    };
    const transport = await natsTransport({ servers: NATS_URL, service: "parcels", prefix, durableEvents });
    const observability = new CatgaObservability({ api, meterProvider: t.meterProvider, tracing: false });
    let attempts = 0;
    const catga = withObservability(createCatga({ logger: silentLogger, transport }), observability)
      .handle(Parcel, () => {
        if (attempts++ === 0) throw new Error("first delivery fails");
      })
      .build();
    await transport.ready();
    (await catga.publish(Parcel, { id: "p-1" })).unwrap();
    await until(() => attempts === 2, 10_000, "the redelivery");

    observability.observeConsumers(jetstreamConsumers(transport));
    const stream = transport.streams.events;
    const consumer = { "catga.jetstream.stream": stream };
    // The second delivery is signalled once its handler returned, a moment after `attempts` moved.
    let redelivered: unknown;
    for (let i = 0; i < 200 && redelivered === undefined; i++) {
      redelivered = pointValue(await t.points(MetricNames.jetstreamRedeliveries), consumer);
      if (redelivered === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(redelivered).toBe(1);
    const latency = await t.points(MetricNames.jetstreamAckLatency);
    const nak = latency.find((p) => p.attributes["catga.jetstream.action"] === "nak");
    expect((nak?.value as { count: number } | undefined)?.count).toBe(1);
    const pending = await t.points(MetricNames.jetstreamConsumerPending);
    expect(pending.some((p) => p.attributes["catga.jetstream.stream"] === stream && p.value === 0)).toBe(
      true,
    );
    expect((await t.points(MetricNames.jetstreamConsumerAckPending)).length).toBeGreaterThan(0);

    observability.shutdown();
    await catga.close();
    await t.shutdown();
  });
});
