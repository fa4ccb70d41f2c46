import { afterAll, describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { natsTransport } from "../../ts/entries/nats.js";
import { CatgaObservability, MetricNames } from "../../ts/entries/observability.js";
import { deadLetters } from "../../ts/entries/operations.js";
import {
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  ErrorCodes,
  silentLogger,
} from "../../ts/index.js";
import type { NatsTransport } from "../../ts/transport/nats-transport.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";
import { api, pointValue, telemetry } from "../observability/helpers.js";
import { eventually } from "../persistence/helpers.js";

const Placed = defineEvent("orders.placed").payload<{ orderId: string }>();
const Charge = defineCommand("billing.charge").payload<{ orderId: string }>().returns<void>().durable();

const consumer = { maxDeliver: 2, backoffMs: [20], fetchWaitMs: 100 };
const durableEvents = { consumer, provision: { storage: "memory" as const } };
const durableCommands = { consumer, provision: { storage: "memory" as const } };
const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

const transports: NatsTransport[] = [];
const closers: (() => Promise<void>)[] = [];

async function connect(service: string, prefix: string): Promise<NatsTransport> {
  const transport = await natsTransport({
    servers: NATS_URL,
    service,
    prefix,
    durableEvents,
    durableCommands,
  });
  transports.push(transport);
  return transport;
}

async function rejection(call: Promise<unknown>): Promise<CatgaError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CatgaError);
  return error as CatgaError;
}

afterAll(async () => {
  for (const close of closers) await close();
  const prefix = transports[0]?.streams.prefix;
  if (prefix !== undefined) {
    const js = new JetStream(transports[0]!.connection);
    const base = prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase();
    for (const name of ["EVENTS", "EVENTS_DLQ", "COMMANDS", "COMMANDS_DLQ", "COMMANDS_RESULTS"])
      await js.deleteStream(`${base}_${name}`).catch(() => false);
  }
  for (const transport of transports) await transport.close().catch(() => undefined);
});

describe("dead letters: list, inspect, replay, purge", () => {
  const prefix = uniquePrefix("ops");

  it("replays an event to the one service that failed it, with its messageId and trace context", async () => {
    let failing = true;
    const billed: { orderId: string; messageId: string; headers: Record<string, string> }[] = [];
    const shipped: string[] = [];
    const billingTransport = await connect("billing", prefix);
    const billing = createCatga({ logger: silentLogger, transport: billingTransport })
      .handle(Placed, (event, ctx) => {
        if (failing) throw new Error("card service down");
        billed.push({
          orderId: event.orderId,
          messageId: ctx.messageId,
          headers: { ...ctx.headers },
        });
      })
      .build();
    const shippingTransport = await connect("shipping", prefix);
    const shipping = createCatga({ logger: silentLogger, transport: shippingTransport })
      .handle(Placed, (event) => {
        shipped.push(event.orderId);
      })
      .build();
    closers.push(
      () => billing.close(),
      () => shipping.close(),
    );
    await Promise.all([billingTransport.ready(), shippingTransport.ready()]);

    const webTransport = await connect("web", prefix);
    const publisher = createCatga({ logger: silentLogger, transport: webTransport }).build();
    closers.push(() => publisher.close());
    const published = await publisher.publish(
      Placed,
      { orderId: "o-1" },
      { messageId: "order-1", headers: { traceparent: TRACEPARENT } },
    );
    expect(published.ok).toBe(true);

    const dlq = await deadLetters(webTransport);
    await eventually(async () => (await dlq.counts()).total === 1, 15_000, "the dead letter");
    expect(shipped).toEqual(["o-1"]);

    const counts = await dlq.counts();
    expect(counts.byKind).toEqual({ event: 1, command: 0 });
    expect(counts.byType).toEqual([{ kind: "event", type: "orders.placed", count: 1 }]);

    const page = await dlq.list();
    expect(page.next).toBeUndefined();
    expect(page.items).toHaveLength(1);
    const summary = page.items[0]!;
    expect(summary).toMatchObject({
      kind: "event",
      type: "orders.placed",
      messageId: "order-1",
      decodable: true,
      deliveries: 2,
      consumer: "billing-orders_placed",
      traceId: "0af7651916cd43dd8448eb211c80319c",
      originalSubject: `${prefix}.evt.orders.placed`,
    });
    // The handler's own code, not the aggregate CATGA_PUBLISH_FAILED: a filter by it finds the
    // letter (found from outside: { code: "CATGA_TIMEOUT" } found nothing).
    expect(summary.errorCode).toBe(ErrorCodes.HANDLER_FAILED);
    expect(summary.errorMessage).toBe("card service down");
    expect((await dlq.list({ code: ErrorCodes.HANDLER_FAILED })).items).toHaveLength(1);
    expect(summary.deadLetteredAt).toBeGreaterThanOrEqual(summary.createdAt);
    expect(summary.id).toBe(`event:${summary.sequence}`);

    const letter = await dlq.get(summary.id);
    expect(letter?.body).toEqual({ orderId: "o-1" });
    expect(letter?.headers.traceparent).toBe(TRACEPARENT);
    expect(letter?.deadLetterHeaders["Catga-Consumer"]).toBe("billing-orders_placed");
    expect(letter?.codec).toBe("msgpack");

    // Filters: a type, a code, a consumer that match; one that does not.
    expect((await dlq.list({ type: "orders.placed", consumer: "billing-orders_placed" })).items).toHaveLength(
      1,
    );
    expect((await dlq.list({ kind: "command" })).items).toHaveLength(0);
    expect((await dlq.list({ code: "NOT_THIS" })).items).toHaveLength(0);

    // The gauge reads the same counts at collection time.
    const t = telemetry();
    const obs = new CatgaObservability({
      api,
      tracerProvider: t.tracerProvider,
      meterProvider: t.meterProvider,
    });
    obs.observeDeadLetters(dlq);
    const gauge = { "catga.message.kind": "event", "catga.message.type": "orders.placed" };
    expect(pointValue(await t.points(MetricNames.deadLetters), gauge)).toBe(1);

    failing = false;
    const progress: number[] = [];
    // The same id twice is one dead letter, replayed once (it failed the call after the replay).
    const report = await dlq.replay([summary.id, summary.id], { onProgress: (p) => progress.push(p.done) });
    expect(report).toEqual({
      replayed: [{ id: summary.id, messageId: "order-1", type: "orders.placed" }],
      failed: [],
    });
    expect(progress.at(-1)).toBe(1);
    await until(() => billed.length === 1, 15_000, "the replayed event handled");
    // The original id and trace context; the replay's routing header is not handed on (what
    // the handler publishes inherits its headers, and must reach every service).
    expect(billed[0]).toEqual({
      orderId: "o-1",
      messageId: "order-1",
      headers: { traceparent: TRACEPARENT },
    });
    expect((await dlq.counts()).total).toBe(0);
    // Replayed: the type reports 0 instead of vanishing.
    expect(pointValue(await t.points(MetricNames.deadLetters), gauge)).toBe(0);
    obs.shutdown();
    await t.shutdown();
    // Shipping skipped the replay meant for billing: published after it, this one shows shipping
    // has read past it.
    await publisher.publish(Placed, { orderId: "o-2" });
    await until(() => shipped.includes("o-2"), 15_000, "the next event at shipping");
    expect(shipped).toEqual(["o-1", "o-2"]);
  }, 60_000);

  it("purges command dead letters by filter, and replays refuse what is gone", async () => {
    const paymentsTransport = await connect("payments", prefix);
    const payments = createCatga({ logger: silentLogger, transport: paymentsTransport })
      .handle(Charge, () => {
        throw new CatgaError("BILLING_REFUSED", "no such card");
      })
      .build();
    closers.push(() => payments.close());
    await paymentsTransport.ready();
    const sent = await payments.send(Charge, { orderId: "o-9" }, { messageId: "charge-9" });
    expect(sent.ok).toBe(true);

    const dlq = await deadLetters(paymentsTransport);
    await eventually(
      async () => (await dlq.counts()).byKind.command === 1,
      15_000,
      "the command dead letter",
    );
    const [letter] = (await dlq.list({ kind: "command" })).items;
    expect(letter).toMatchObject({
      kind: "command",
      type: "billing.charge",
      messageId: "charge-9",
      errorCode: "BILLING_REFUSED",
      errorMessage: "no such card",
      deliveries: 2,
    });
    expect(await dlq.purge({ kind: "command", code: "BILLING_REFUSED" })).toEqual({ purged: 1 });
    expect((await dlq.counts()).byKind.command).toBe(0);
    const gone = await rejection(dlq.replay(letter!.id));
    expect(gone.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(gone.details).toMatchObject({ field: "id", unknown: true });
    expect(await dlq.get(letter!.id)).toBeUndefined();
  }, 60_000);

  it("refuses bad arguments with coded errors naming the field", async () => {
    const dlq = await deadLetters({ servers: NATS_URL }, { prefix });
    try {
      expect((await rejection(dlq.list({ limit: 0 }))).details).toMatchObject({ field: "limit" });
      expect((await rejection(dlq.get("event:0"))).details).toMatchObject({ field: "id" });
      expect((await rejection(dlq.get("orders:1"))).details).toMatchObject({ field: "id" });
      expect((await rejection(dlq.list({ after: "x" }))).details).toMatchObject({ field: "after" });
      // biome-ignore lint/suspicious/noExplicitAny: a JS caller's typo
      const typo = (await rejection(dlq.list({ kinds: "event" } as any))).details;
      expect(typo).toMatchObject({ field: "query.kinds" });
      // An empty filter would act on everything: "all" must be said.
      expect((await rejection(dlq.replay({}))).details).toMatchObject({ field: "selector" });
      expect((await rejection(dlq.purge([]))).details).toMatchObject({ field: "ids" });
      // biome-ignore lint/suspicious/noExplicitAny: a JS caller's bad kind
      const kind = await rejection(dlq.replay({ kind: "query" } as any));
      expect(kind.code).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(kind.details).toMatchObject({ field: "selector.kind" });
      // Options from JS: not an object, a misspelt key, a progress callback that is not a function.
      expect((await rejection(dlq.list(5 as never))).details).toMatchObject({ field: "query" });
      expect((await rejection(dlq.replay("all", { bogus: 1 } as never))).details).toMatchObject({
        field: "options.bogus",
      });
      expect((await rejection(dlq.replay("all", { onProgress: 5 } as never))).details).toMatchObject({
        field: "options.onProgress",
      });
    } finally {
      await dlq.close();
    }
    // biome-ignore lint/suspicious/noExplicitAny: a JS caller's bad source
    const source = await rejection(deadLetters(42 as any));
    expect(source.details).toMatchObject({ field: "source" });
    const typo = await rejection(deadLetters({ servers: NATS_URL }, { prefx: "x" } as never));
    expect(typo.details).toMatchObject({ field: "options.prefx" });
  });
});
