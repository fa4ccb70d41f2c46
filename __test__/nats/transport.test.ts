import { describe, expect, it } from "vitest";
import { z } from "zod";
import { JetStream } from "../../ts/entries/jetstream.js";
import { NatsConnection, natsTransport } from "../../ts/entries/nats.js";
import {
  CatgaConfigError,
  createCatga,
  defineCommand,
  defineEvent,
  defineQuery,
  ErrorCodes,
  type HandlerContext,
  silentLogger,
} from "../../ts/index.js";
import { EnvelopeCodec, encodeWire, msgpackCodec } from "../../ts/nats/wire.js";
import { NATS_URL, uniquePrefix, until } from "./helpers.js";

const Place = defineCommand("orders.place")
  .payload<{ sku: string; qty: number }>()
  .returns<{ orderId: string }>();
const Placed = defineEvent("orders.placed").payload<{ orderId: string; at: Date }>();
const Stock = defineQuery("stock.get").payload<{ sku: string }>().returns<{ sku: string; left: number }>();
const Fail = defineCommand("orders.fail").payload<{ why: string }>().returns<never>();

function connect(service: string, prefix: string, extra: Record<string, unknown> = {}) {
  return natsTransport({ servers: NATS_URL, service, prefix, ...extra });
}

describe("NatsTransport with the mediator", () => {
  it("sends commands and queries across services and fans events out, keeping ids and headers", async () => {
    const prefix = uniquePrefix("svc");
    const seen: HandlerContext[] = [];
    const shipped: string[] = [];
    const ordersTransport = await connect("orders", prefix);
    const shippingTransport = await connect("shipping", prefix);
    const orders = createCatga({ logger: silentLogger, transport: ordersTransport })
      .handle(Place, async (order, ctx) => {
        seen.push(ctx);
        await ctx.publish(Placed, { orderId: `o-${order.sku}`, at: new Date(0) });
        return { orderId: `o-${order.sku}-${order.qty}` };
      })
      .handle(Stock, ({ sku }) => ({ sku, left: 7 }))
      .handle(Fail, ({ why }) => {
        throw new Error(`refused: ${why}`);
      })
      .build();
    const shipping = createCatga({ logger: silentLogger, transport: shippingTransport })
      .handle(Placed, (event, ctx) => {
        seen.push(ctx);
        shipped.push(`${event.orderId}@${event.at instanceof Date ? event.at.toISOString() : event.at}`);
      })
      .build();
    const gatewayTransport = await connect("gateway", prefix);
    const gateway = createCatga({ logger: silentLogger, transport: gatewayTransport })
      .remote(Place)
      .remote(Stock)
      .remote(Fail)
      .build();
    await Promise.all([ordersTransport.ready(), shippingTransport.ready()]);

    const placed = await gateway.send(
      Place,
      { sku: "book", qty: 2 },
      { messageId: "m-1", headers: { traceparent: "00-abc-def-01" } },
    );
    expect(placed.unwrap()).toEqual({ orderId: "o-book-2" });
    expect((await gateway.query(Stock, { sku: "pen" })).unwrap()).toEqual({ sku: "pen", left: 7 });

    // A remote handler's failure arrives with the same code and message, and no remote stack.
    const failed = await gateway.send(Fail, { why: "no stock" });
    expect(failed.ok).toBe(false);
    if (!failed.ok) {
      expect(failed.error.code).toBe(ErrorCodes.HANDLER_FAILED);
      expect(failed.error.message).toContain("refused: no stock");
      expect(JSON.stringify(failed.error)).not.toContain("at ");
    }

    await until(() => shipped.length === 1, 5000, "the event in the shipping service");
    // MessagePack keeps the Date a Date across the wire.
    expect(shipped).toEqual(["o-book@1970-01-01T00:00:00.000Z"]);
    const [placeCtx, shippingCtx] = seen;
    expect(placeCtx!.messageId).toBe("m-1");
    expect(placeCtx!.headers).toMatchObject({ traceparent: "00-abc-def-01" });
    expect(shippingCtx!.correlationId).toBe("m-1");
    expect(shippingCtx!.causationId).toBe("m-1");
    await Promise.all([orders.close(), shipping.close(), gateway.close()]);
  });

  it("reports CATGA_NO_HANDLER when no service handles a remote command", async () => {
    const prefix = uniquePrefix("none");
    const gateway = createCatga({ logger: silentLogger, transport: await connect("gateway", prefix) })
      .remote(Place)
      .build();
    const result = await gateway.send(Place, { sku: "x", qty: 1 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe(ErrorCodes.NO_HANDLER);
    await gateway.close();
  });

  it("dispatches only the subject's own type: a forged type is skipped as malformed, a request answered NO_HANDLER", async () => {
    const prefix = uniquePrefix("forged");
    const transport = await connect("orders", prefix);
    const handled: string[] = [];
    const malformed: string[] = [];
    transport.connection.on("malformed", (_count: number, reason: string) => malformed.push(reason));
    const orders = createCatga({ logger: silentLogger, transport })
      .handle(Place, ({ sku }) => {
        handled.push(sku);
        return { orderId: sku };
      })
      .handle(Placed, ({ orderId }) => void handled.push(orderId))
      .build();
    await transport.ready();
    const forged = (kind: "command" | "event", type: string) =>
      encodeWire({
        kind,
        type,
        messageId: `m-${type}`,
        correlationId: null,
        causationId: null,
        createdAt: Date.now(),
        headers: {},
        codec: "msgpack",
        payload: msgpackCodec.encode({ sku: "x", orderId: "x" }),
      });
    const raw = await NatsConnection.connect({ servers: NATS_URL });
    await raw.publish(`${prefix}.evt.orders.placed`, forged("event", "junk-1"));
    const reply = await raw.request(`${prefix}.cmd.orders.place`, forged("command", "junk-2"), 2000);
    expect(new EnvelopeCodec().decodeReply(reply)).toMatchObject({
      ok: false,
      error: { code: "CATGA_NO_HANDLER" },
    });
    await until(() => malformed.length === 2, 2000, "malformed events");
    expect(malformed.join(" ")).toContain("junk-1");
    expect(handled).toEqual([]);
    await raw.close();
    await orders.close();
  });

  it("uses the codec chosen per type (JSON here) and the remote sees the same payload", async () => {
    const prefix = uniquePrefix("json");
    const payloads: unknown[] = [];
    const serverTransport = await connect("orders", prefix, { codecs: { "orders.place": "json" } });
    const server = createCatga({ logger: silentLogger, transport: serverTransport })
      .handle(Place, (order) => {
        payloads.push(order);
        return { orderId: "j" };
      })
      .build();
    await serverTransport.ready();
    const client = createCatga({
      logger: silentLogger,
      transport: await connect("gw", prefix, { codecs: { "orders.place": "json" } }),
    })
      .remote(Place)
      .build();
    expect((await client.send(Place, { sku: "s", qty: 3 })).unwrap()).toEqual({ orderId: "j" });
    expect(payloads).toEqual([{ sku: "s", qty: 3 }]);
    await Promise.all([server.close(), client.close()]);
  });

  it("rejects bad transport options with one CatgaConfigError", async () => {
    const error = await natsTransport({
      servers: NATS_URL,
      service: "has space",
      prefix: "a.>",
      codecs: { x: "yaml" as never, "a b": "json" },
      batch: { maxMessages: 99999 },
      // Would keep a service from its own events (issue 14): not a transport option.
      ...({ noEcho: true } as object),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatgaConfigError);
    expect((error as CatgaConfigError).issues.map((i) => i.path).sort()).toEqual([
      "batch.maxMessages",
      "codecs.a b",
      "codecs.x",
      "noEcho",
      "prefix",
      "service",
    ]);
  });

  it("answers CATGA_ABORTED when the caller's signal aborts a remote send, with no behaviors installed", async () => {
    // Found from outside: without a timeout behavior the signal was read only at the start, and
    // the call waited for the request timeout (3 s) instead.
    const Slow = defineCommand("abort.slow").payload<{ ms: number }>().returns<string>();
    const prefix = uniquePrefix("abortremote");
    const serverTransport = await connect("slow", prefix);
    const server = createCatga({ logger: silentLogger, transport: serverTransport })
      .handle(Slow, async ({ ms }) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return "late";
      })
      .build();
    await serverTransport.ready();
    const clientTransport = await connect("client", prefix);
    const client = createCatga({ logger: silentLogger, transport: clientTransport }).remote(Slow).build();
    await clientTransport.ready();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    const sent = await client.send(Slow, { ms: 1500 }, { signal: controller.signal });
    expect(sent.ok ? undefined : sent.error.code).toBe(ErrorCodes.ABORTED);
    expect(performance.now() - started).toBeLessThan(1000);
    // Not aborted: the answer comes as before.
    expect((await client.send(Slow, { ms: 10 }, { signal: new AbortController().signal })).unwrap()).toBe(
      "late",
    );
    await Promise.all([client.close(), server.close()]);
  });

  it("lists the transport's own options too for a misspelt one", async () => {
    const error = await natsTransport({ servers: NATS_URL, service: "svc", prefx: "p" } as never).catch(
      (e: unknown) => e,
    );
    expect((error as CatgaConfigError).issues).toEqual([
      {
        path: "prefx",
        message: expect.stringMatching(
          /expected one of: servers, .*, service, prefix, codecs, durableEvents/,
        ),
      },
    ]);
  });

  it("refuses a prefix with an empty token, which no subject can carry (found from outside)", async () => {
    for (const prefix of ["x.", ".x", "x..y", ""]) {
      const error = await natsTransport({ servers: NATS_URL, service: "svc", prefix }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CatgaConfigError);
      expect((error as CatgaConfigError).issues.map((i) => i.path)).toEqual(["prefix"]);
    }
  });

  it("refuses a prefix, service or stream too long for a subject instead of timing out", async () => {
    // Before: accepted, then the server dropped the connection over the subject's length and
    // natsTransport() failed after 5 s with CATGA_TIMEOUT naming nothing (found from outside).
    const long = "p".repeat(201);
    const error = await natsTransport({
      servers: NATS_URL,
      service: long,
      prefix: long,
      durableEvents: { stream: long },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatgaConfigError);
    expect((error as CatgaConfigError).issues.map((i) => i.path).sort()).toEqual([
      "durableEvents.stream",
      "prefix",
      "service",
    ]);
    expect((error as CatgaConfigError).message).toContain("at most 200 characters, got 201");
  });
});

describe("events across services", () => {
  it("each service handles an event once, the publisher's own through its queue group", async () => {
    const prefix = uniquePrefix("fanout");
    const counts = { orders: 0, shipping: 0 };
    const build = async (service: "orders" | "shipping") => {
      const transport = await connect(service, prefix);
      const catga = createCatga({ logger: silentLogger, transport })
        .handle(Placed, () => {
          counts[service]++;
        })
        .build();
      await transport.ready();
      return catga;
    };
    // Two instances of orders (one queue group) and one of shipping.
    const [orders1, orders2, shipping] = await Promise.all([
      build("orders"),
      build("orders"),
      build("shipping"),
    ]);
    await orders1.publish(Placed, { orderId: "o-1", at: new Date(0) });
    await until(() => counts.shipping === 1, 5000, "shipping handled the event");
    await new Promise((r) => setTimeout(r, 200));
    expect(counts).toEqual({ orders: 1, shipping: 1 });
    await Promise.all([orders1.close(), orders2.close(), shipping.close()]);
  });
});

describe("durable events (JetStream)", () => {
  it("a service started after the event still gets it; failures retry and dead-letter", async () => {
    const prefix = uniquePrefix("durable");
    const durableEvents = {
      consumer: { maxDeliver: 2, backoffMs: [20], fetchWaitMs: 100 },
      provision: { storage: "memory" as const },
    };
    const orders = createCatga({
      logger: silentLogger,
      transport: await connect("orders", prefix, { durableEvents }),
    }).build();
    // Published while no shipping instance runs: stored, not lost.
    expect((await orders.publish(Placed, { orderId: "o-late", at: new Date(0) })).ok).toBe(true);
    expect((await orders.publish(Placed, { orderId: "o-poison", at: new Date(0) })).ok).toBe(true);

    const handled: string[] = [];
    const headersSeen: Record<string, string>[] = [];
    let poisonAttempts = 0;
    const shippingTransport = await connect("shipping", prefix, { durableEvents });
    const shipping = createCatga({ logger: silentLogger, transport: shippingTransport })
      .handle(Placed, (event, ctx) => {
        if (event.orderId === "o-poison") {
          poisonAttempts++;
          throw new Error("label printer on fire");
        }
        handled.push(event.orderId);
        headersSeen.push({ ...ctx.headers });
      })
      .build();
    await shippingTransport.ready();
    await until(() => handled.includes("o-late") && poisonAttempts === 2, 10_000, "durable delivery");
    // The transport adds no header of its own (issue 14: it used to stamp an origin).
    expect(headersSeen).toEqual([{}]);

    const js = new JetStream(shippingTransport.connection);
    const dead: Record<string, string>[] = [];
    const stream = `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_EVENTS`;
    const stop = await js.consume({ stream: `${stream}_DLQ`, durable: "inspect", fetchWaitMs: 100 }, (m) => {
      dead.push({ ...m.headers });
    });
    await until(() => dead.length === 1, 10_000, "the dead letter");
    expect(dead[0]).toMatchObject({
      // Its one handler's own code (the mediator's aggregate CATGA_PUBLISH_FAILED is kept for
      // handlers failing with different codes).
      "Catga-Error-Code": ErrorCodes.HANDLER_FAILED,
      "Catga-Deliveries": "2",
    });
    expect(dead[0]!["Catga-Error-Message"]).toContain("label printer on fire");
    await stop();
    await Promise.all([js.deleteStream(stream), js.deleteStream(`${stream}_DLQ`)]);
    await Promise.all([orders.close(), shipping.close()]);
  });
});

describe("NatsTransport: inbound events", () => {
  it("runs every handler of a batch although one throws, and hides the origin header from handlers", async () => {
    const prefix = uniquePrefix("inbound");
    const subscriberTransport = await connect("shipping", prefix);
    const seen: { orderId: string; headers: Record<string, string> }[] = [];
    const subscriber = createCatga({ logger: silentLogger, transport: subscriberTransport })
      .handle(Placed, (event, ctx) => {
        if (event.orderId === "boom") throw new Error("sync failure");
        seen.push({ orderId: event.orderId, headers: { ...ctx.headers } });
      })
      .build();
    await subscriberTransport.ready();
    const publisherTransport = await connect("orders", prefix);
    const publisher = createCatga({ logger: silentLogger, transport: publisherTransport }).build();
    const results = await Promise.all(
      ["a", "boom", "b", "c"].map((orderId) => publisher.publish(Placed, { orderId, at: new Date(0) })),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    await publisher.publish(
      Placed,
      { orderId: "d", at: new Date(0) },
      { headers: { traceparent: "00-t-s-01" } },
    );
    await until(() => seen.length === 4, 5000, "four events handled");
    expect(seen.map((s) => s.orderId)).toEqual(["a", "b", "c", "d"]);
    expect(seen[0]!.headers).toEqual({});
    expect(seen[3]!.headers).toEqual({ traceparent: "00-t-s-01" });
    await Promise.all([publisher.close(), subscriber.close()]);
  });

  it("reports an envelope of another kind on an event subject as malformed and runs no handler", async () => {
    const prefix = uniquePrefix("kind");
    const transport = await connect("shipping", prefix);
    let handled = 0;
    const catga = createCatga({ logger: silentLogger, transport })
      .handle(Placed, () => {
        handled++;
      })
      .build();
    await transport.ready();
    const malformed: string[] = [];
    transport.connection.on("malformed", (_count: number, reason: string) => malformed.push(reason));
    const raw = await NatsConnection.connect({ servers: NATS_URL });
    const codec = new EnvelopeCodec();
    const command = codec.encodeNew("command", "orders.placed", {}, { orderId: "x", at: new Date(0) });
    await raw.publish(`${prefix}.evt.orders.placed`, command);
    await raw.publish(
      `${prefix}.evt.orders.placed`,
      codec.encodeNew("event", "orders.placed", {}, { orderId: "y" }),
    );
    await until(() => handled === 1, 5000, "the event after the command");
    expect(malformed).toEqual([`a command envelope arrived on the event subject of "orders.placed"`]);
    await Promise.all([raw.close(), catga.close()]);
  });
});

describe("NatsTransport: inbound requests", () => {
  it("answers an event envelope sent to a command subject with CATGA_NO_HANDLER, never success", async () => {
    const prefix = uniquePrefix("reqkind");
    const transport = await connect("orders", prefix);
    let handled = 0;
    const catga = createCatga({ logger: silentLogger, transport })
      .handle(Place, () => {
        handled++;
        return { orderId: "o-1" };
      })
      .build();
    await transport.ready();
    const malformed: string[] = [];
    transport.connection.on("malformed", (_count: number, reason: string) => malformed.push(reason));
    const raw = await NatsConnection.connect({ servers: NATS_URL });
    const codec = new EnvelopeCodec();
    const asEvent = codec.encodeNew("event", "orders.place", {}, { sku: "x", qty: 1 });
    const reply = codec.decodeReply(await raw.request(`${prefix}.cmd.orders.place`, asEvent));
    expect(reply.ok).toBe(false);
    if (!reply.ok) expect(reply.error.code).toBe(ErrorCodes.NO_HANDLER);
    expect(malformed).toEqual([`an event envelope arrived on the request subject of "orders.place"`]);
    // A real command still works, with a synchronous handler answered in the same batch.
    const asCommand = codec.encodeNew("command", "orders.place", {}, { sku: "x", qty: 1 });
    expect(codec.decodeReply(await raw.request(`${prefix}.cmd.orders.place`, asCommand))).toEqual({
      ok: true,
      value: { orderId: "o-1" },
    });
    expect(handled).toBe(1);
    await Promise.all([raw.close(), catga.close()]);
  });
});

describe("NatsTransport: results (found by a reviewer)", () => {
  it("a publish Result shared by a batch cannot be changed by one caller for the others", async () => {
    const prefix = uniquePrefix("frozen");
    const transport = await connect("orders", prefix);
    const catga = createCatga({ logger: silentLogger, transport }).build();
    const [first, second] = await Promise.all([
      catga.publish(Placed, { orderId: "a", at: new Date(0) }),
      catga.publish(Placed, { orderId: "b", at: new Date(0) }),
    ]);
    expect(() => {
      // A caller writing past the readonly type, as JavaScript code may.
      (first!.ok ? (first!.value as { handled: number }) : { handled: 0 }).handled = 42;
    }).toThrow(TypeError);
    expect(second!.ok && second!.value.handled).toBe(0);
    await catga.close();
  });

  it("a result that cannot be encoded fails its own request with CATGA_ENCODE, not the batch", async () => {
    const Big = defineQuery("numbers.big").payload<{ huge: boolean }>().returns<unknown>();
    const prefix = uniquePrefix("encode");
    const serverTransport = await connect("numbers", prefix);
    const server = createCatga({ logger: silentLogger, transport: serverTransport })
      .handle(Big, async ({ huge }) => (huge ? 2n ** 70n : 7))
      .build();
    await serverTransport.ready();
    const client = createCatga({ logger: silentLogger, transport: await connect("client", prefix) })
      .remote(Big)
      .build();
    const [huge, small] = await Promise.all([
      client.query(Big, { huge: true }),
      client.query(Big, { huge: false }),
    ]);
    expect(huge!.ok || huge!.error.code).toBe(ErrorCodes.ENCODE);
    expect(small!.ok && small!.value).toBe(7);
    await Promise.all([client.close(), server.close()]);
  });

  it("a payload or result that cannot be encoded (a cycle, a Symbol) is CATGA_ENCODE naming the field", async () => {
    const Echo = defineCommand("encode.echo").payload<unknown>().returns<unknown>();
    const Noted = defineEvent("encode.noted").payload<unknown>();
    const prefix = uniquePrefix("encodecycle");
    const serverTransport = await connect("echo", prefix);
    const server = createCatga({ logger: silentLogger, transport: serverTransport })
      .handle(Echo, (payload) => {
        const out: Record<string, unknown> = { payload };
        out.self = out;
        return out;
      })
      .handle(Noted, () => undefined)
      .build();
    await serverTransport.ready();
    const clientTransport = await connect("client", prefix);
    const client = createCatga({ logger: silentLogger, transport: clientTransport }).remote(Echo).build();
    await clientTransport.ready();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    for (const payload of [cyclic, { s: Symbol("x") }, { big: 2n ** 70n }]) {
      const sent = await client.send(Echo, payload);
      expect(sent.ok || sent.error).toMatchObject({ code: ErrorCodes.ENCODE, details: { field: "payload" } });
    }
    // Each says what is wrong (a BigInt past 64 bits was reported as a cycle).
    const cycle = await client.send(Echo, cyclic);
    expect(cycle.ok || cycle.error.message).toContain("it has a cycle or is nested too deeply");
    const big = await client.send(Echo, { big: 2n ** 70n });
    expect(big.ok || big.error.message).toContain("too large to fit in MessagePack 64-bit integer format");
    const published = await client.publish(Noted, cyclic);
    expect(published.ok || published.error.details).toMatchObject({
      failures: [{ code: ErrorCodes.ENCODE, details: { field: "payload" } }],
    });
    // The server's result has a cycle: the request fails with the result's field named, once.
    const answered = await client.send(Echo, { fine: true });
    expect(answered.ok || answered.error).toMatchObject({
      code: ErrorCodes.ENCODE,
      details: { field: "result" },
    });
    expect(answered.ok || answered.error.message).toMatch(/^the result of encode\.echo cannot be encoded/);
    await Promise.all([client.close(), server.close()]);
  });
});

describe("durable events: failures no retry can fix (issue 21 item 4)", () => {
  it("dead-letters an undecodable payload and a refused schema on the first delivery, under their own codes", async () => {
    const prefix = uniquePrefix("poison");
    const Shipped = defineEvent("orders.shipped", z.object({ orderId: z.string().min(1) }));
    const durableEvents = {
      consumer: { maxDeliver: 5, backoffMs: [50], fetchWaitMs: 100 },
      provision: { storage: "memory" as const },
    };
    const shippingTransport = await connect("shipping", prefix, { durableEvents });
    const handled: string[] = [];
    const shipping = createCatga({ logger: silentLogger, transport: shippingTransport })
      .withValidation()
      .handle(Shipped, (event) => {
        handled.push(event.orderId);
      })
      .build();
    await shippingTransport.ready();
    const js = new JetStream(shippingTransport.connection);
    const stream = `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_EVENTS`;
    const dead: Record<string, string>[] = [];
    const stop = await js.consume({ stream: `${stream}_DLQ`, durable: "inspect", fetchWaitMs: 100 }, (m) => {
      dead.push({ ...m.headers });
    });
    const subject = `${prefix}.evt.orders.shipped`;
    const garbage = encodeWire({
      kind: "event",
      type: "orders.shipped",
      messageId: "m-garbage",
      correlationId: null,
      causationId: null,
      createdAt: Date.now(),
      headers: {},
      codec: "msgpack",
      payload: Buffer.from([0x92, 0x01]), // an array of two that ends after one: truncated
    });
    const codec = new EnvelopeCodec();
    const invalid = codec.encodeNew("event", "orders.shipped", {}, { orderId: "" });
    const valid = codec.encodeNew("event", "orders.shipped", {}, { orderId: "o-1" });
    await js.publish([
      { subject, messageId: "m-garbage", envelope: garbage },
      { subject, messageId: "m-invalid", envelope: invalid },
      { subject, messageId: "m-valid", envelope: valid },
    ]);
    await until(() => dead.length === 2 && handled.length === 1, 10_000, "two dead letters and one event");
    const byCode = Object.fromEntries(dead.map((h) => [h["Catga-Error-Code"], h["Catga-Deliveries"]]));
    expect(byCode).toEqual({ [ErrorCodes.DECODE]: "1", [ErrorCodes.VALIDATION]: "1" });
    expect(handled).toEqual(["o-1"]);
    await stop();
    await Promise.all([js.deleteStream(stream), js.deleteStream(`${stream}_DLQ`)]);
    await shipping.close();
  });
});

describe("durable events: what the durable path skips and refuses (issue 21)", () => {
  it("a service's own durable events run once, through its consumer; an envelope of another type is dead-lettered", async () => {
    const prefix = uniquePrefix("own");
    const durableEvents = { consumer: { fetchWaitMs: 100 }, provision: { storage: "memory" as const } };
    const handled: string[] = [];
    const ordersTransport = await connect("orders", prefix, { durableEvents });
    const orders = createCatga({ logger: silentLogger, transport: ordersTransport })
      .handle(Placed, (event) => {
        handled.push(event.orderId);
      })
      .build();
    await ordersTransport.ready();
    const web = createCatga({
      logger: silentLogger,
      transport: await connect("web", prefix, { durableEvents }),
    }).build();
    // Its own: stored, not run by publish(); its durable consumer takes it like any other (issue 14).
    expect((await orders.publish(Placed, { orderId: "own", at: new Date(0) })).unwrap()).toEqual({
      handled: 0,
    });
    // Another service's, stored after it: once this one is handled, the own copy was seen.
    (await web.publish(Placed, { orderId: "from-web", at: new Date(0) })).unwrap();
    await until(() => handled.includes("from-web"), 10_000, "the other service's event");
    expect(handled).toEqual(["own", "from-web"]);

    const js = new JetStream(ordersTransport.connection);
    const stream = `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_EVENTS`;
    const dead: Record<string, string>[] = [];
    const stop = await js.consume({ stream: `${stream}_DLQ`, durable: "inspect", fetchWaitMs: 100 }, (m) => {
      dead.push({ ...m.headers });
    });
    // An envelope of type orders.cancelled on the orders.placed subject: retrying cannot fix it.
    const misrouted = new EnvelopeCodec().encodeNew("event", "orders.cancelled", {}, { orderId: "x" });
    await js.publish([
      { subject: `${prefix}.evt.orders.placed`, messageId: "m-misrouted", envelope: misrouted },
    ]);
    await until(() => dead.length === 1, 10_000, "the dead letter");
    expect(dead[0]).toMatchObject({ "Catga-Error-Code": ErrorCodes.DECODE, "Catga-Deliveries": "1" });
    expect(handled).toEqual(["own", "from-web"]);
    await stop();
    await Promise.all([js.deleteStream(stream), js.deleteStream(`${stream}_DLQ`)]);
    await Promise.all([orders.close(), web.close()]);
  });
});

describe("durable events: consumer names (found by a reviewer)", () => {
  it("refuses two event types that would share one durable consumer, when the mediator is built", async () => {
    const prefix = uniquePrefix("collide");
    const transport = await connect("shipping", prefix, { durableEvents: { provision: false } });
    const Dotted = defineEvent("orders.placed");
    const Underscored = defineEvent("orders_placed");
    expect(() =>
      createCatga({ logger: silentLogger, transport })
        .handle(Dotted, () => undefined)
        .handle(Underscored, () => undefined)
        .build(),
    ).toThrow(CatgaConfigError);
    await transport.close();
  });
});
