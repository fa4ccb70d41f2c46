import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { protobufCodec, protobufCodecs, protobufSchema } from "../../ts/entries/protobuf.js";
import {
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  ErrorCodes,
  silentLogger,
} from "../../ts/index.js";
import { decodeWire, EnvelopeCodec } from "../../ts/nats/wire.js";
import {
  type OrderPlaced,
  OrderPlacedSchema,
  type PlaceOrder,
  PlaceOrderSchema,
} from "../fixtures/protobuf/orders_pb.js";
import { NATS_URL, uniquePrefix, until } from "./helpers.js";

const Placed = defineEvent("orders.placed", protobufSchema(OrderPlacedSchema));
const Place = defineCommand("orders.place", protobufSchema(PlaceOrderSchema)).returns<{ lines: number }>();
const Untyped = defineEvent("orders.untyped").payload<{ a: number }>();

const placed = {
  orderId: "o-1",
  totalCents: 12_345_678_901_234n,
  lines: [
    { sku: "apple", quantity: 3 },
    { sku: "pear", quantity: 1 },
  ],
  note: new Uint8Array([1, 2, 3]),
  coupon: "SPRING",
};

function thrown(run: () => unknown): CatgaError {
  try {
    run();
  } catch (error) {
    if (error instanceof CatgaError) return error;
    throw error;
  }
  throw new Error("expected a CatgaError");
}

describe("protobufCodec", () => {
  const codec = protobufCodec(OrderPlacedSchema);

  it("is named after the message, one codec object per schema", () => {
    expect(codec.name).toBe("protobuf:catga.test.orders.v1.OrderPlaced");
    expect(protobufCodec(OrderPlacedSchema)).toBe(codec);
    expect(protobufSchema(OrderPlacedSchema).codec).toBe(codec);
  });

  it("round-trips the init shape and the message as the same protobuf bytes", () => {
    const bytes = codec.encode(placed);
    expect(Buffer.from(bytes)).toEqual(
      Buffer.from(toBinary(OrderPlacedSchema, create(OrderPlacedSchema, placed))),
    );
    const back = codec.decode(bytes) as OrderPlaced;
    expect(back.$typeName).toBe("catga.test.orders.v1.OrderPlaced");
    expect(back).toMatchObject({
      ...placed,
      lines: placed.lines.map((line) => expect.objectContaining(line)),
    });
    expect(codec.encode(back)).toEqual(bytes);
  });

  it("decodes bytes fields as copies, not views into the inbound buffer", () => {
    const batch = Buffer.concat([Buffer.alloc(64), Buffer.from(codec.encode(placed))]);
    const back = codec.decode(batch.subarray(64)) as OrderPlaced;
    expect(back.note.buffer).not.toBe(batch.buffer);
  });

  it("refuses a payload whose fields do not fit with CATGA_ENCODE naming each field", () => {
    const error = thrown(() =>
      codec.encode({ orderId: 5, totalCents: 1.5, lines: [{ sku: "a", quantity: -1 }], extra: true }),
    );
    expect(error.code).toBe(ErrorCodes.ENCODE);
    const issues = (error.details as { issues: { path: string }[] }).issues;
    expect(issues.map((issue) => issue.path)).toEqual(["orderId", "totalCents", "lines.0.quantity", "extra"]);
    expect(thrown(() => codec.encode("not an order")).code).toBe(ErrorCodes.ENCODE);
    expect(thrown(() => codec.encode(create(PlaceOrderSchema))).code).toBe(ErrorCodes.ENCODE);
  });

  it("refuses bytes that are not a protobuf encoding with CATGA_DECODE", () => {
    expect(thrown(() => codec.decode(new Uint8Array([0x0a, 0x05, 0x61]))).code).toBe(ErrorCodes.DECODE);
    expect(thrown(() => codec.decode(Buffer.from('{"orderId":"o-1"}'))).code).toBe(ErrorCodes.DECODE);
  });

  it("refuses a schema that is not a message descriptor", () => {
    expect(thrown(() => protobufCodec({} as never)).code).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it("writes its name into the envelope and the message's bytes as the payload", () => {
    const envelopes = new EnvelopeCodec(protobufCodecs([Placed]));
    const wire = decodeWire(
      envelopes.encodeMessage({
        kind: "event",
        type: Placed.type,
        messageId: "m-1",
        correlationId: "m-1",
        causationId: undefined,
        createdAt: 0,
        headers: {},
        payload: placed,
      }),
    );
    expect(wire.codec).toBe("protobuf:catga.test.orders.v1.OrderPlaced");
    expect(Buffer.from(wire.payload)).toEqual(Buffer.from(codec.encode(placed)));
  });
});

describe("protobufSchema on contracts", () => {
  it("hands handlers the message, defaults filled in, as if it came off the wire", async () => {
    const seen: OrderPlaced[] = [];
    const catga = createCatga({ logger: silentLogger })
      .withValidation()
      .handle(Placed, (order) => {
        seen.push(order);
      })
      .build();
    (await catga.publish(Placed, { orderId: "o-2" })).unwrap();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      $typeName: OrderPlacedSchema.typeName,
      orderId: "o-2",
      totalCents: 0n,
      lines: [],
    });
    await catga.close();
  });

  it("fails a payload that does not fit with CATGA_VALIDATION naming the field", async () => {
    const catga = createCatga({ logger: silentLogger })
      .withValidation()
      .handle(Place, (order) => ({ lines: order.lines.length }))
      .build();
    const result = await catga.send(Place, { orderId: "o-3", lines: [{ sku: 7 as never }] });
    if (result.ok) throw new Error("expected a validation failure");
    expect(result.error.code).toBe(ErrorCodes.VALIDATION);
    expect((result.error.details as { issues: { path: string }[] }).issues[0]?.path).toBe("lines.0.sku");
    await catga.close();
  });

  it("protobufCodecs refuses a contract declared without protobufSchema", () => {
    const error = thrown(() => protobufCodecs([Placed, Untyped]));
    expect(error.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((error.details as { field: string }).field).toBe("contracts[1]");
  });

  it("protobufCodecs refuses what is not a list of contracts with a coded error", () => {
    // Before: a TypeError "contracts.forEach is not a function" (found from outside).
    const error = thrown(() => protobufCodecs(Placed as never));
    expect(error.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((error.details as { field: string }).field).toBe("contracts");
  });
});

describe("protobuf payloads over NATS", () => {
  const connect = (service: string, prefix: string) =>
    natsTransport({ servers: NATS_URL, service, prefix, codecs: protobufCodecs([Placed, Place]) });

  it("carries commands and events between services as protobuf, bigint and bytes intact", async () => {
    const prefix = uniquePrefix("proto");
    const commands: PlaceOrder[] = [];
    const events: OrderPlaced[] = [];
    const serverTransport = await connect("orders", prefix);
    const server = createCatga({ logger: silentLogger, transport: serverTransport })
      .handle(Place, async (order, ctx) => {
        commands.push(order);
        await ctx.publish(Placed, { orderId: order.orderId, lines: order.lines, totalCents: 99n });
        return { lines: order.lines.length };
      })
      .build();
    const clientTransport = await connect("shipping", prefix);
    const client = createCatga({ logger: silentLogger, transport: clientTransport })
      .remote(Place)
      .handle(Placed, (event) => {
        events.push(event);
      })
      .build();
    await Promise.all([serverTransport.ready(), clientTransport.ready()]);

    const reply = await client.send(Place, { orderId: "o-9", lines: [{ sku: "fig", quantity: 2 }] });
    expect(reply.unwrap()).toEqual({ lines: 1 });
    expect(commands[0]).toMatchObject({ $typeName: PlaceOrderSchema.typeName, orderId: "o-9" });
    await until(() => events.length === 1, 5000, "the event crossed");
    expect(events[0]).toMatchObject({
      $typeName: OrderPlacedSchema.typeName,
      orderId: "o-9",
      totalCents: 99n,
    });

    (await client.publish(Placed, placed)).unwrap();
    await until(() => events.length === 2, 5000, "the second event crossed");
    expect(events[1]?.note).toEqual(placed.note);
    expect(events[1]?.totalCents).toBe(placed.totalCents);
    await Promise.all([server.close(), client.close()]);
  });

  it("fails a send whose payload is not the message with CATGA_ENCODE, before it leaves", async () => {
    const prefix = uniquePrefix("protobad");
    const transport = await connect("gw", prefix);
    const client = createCatga({ logger: silentLogger, transport }).remote(Place).build();
    const result = await client.send(Place, { orderId: "o-1", lines: "two" as never });
    if (result.ok) throw new Error("expected an encode failure");
    expect(result.error.code).toBe(ErrorCodes.ENCODE);
    await client.close();
  });
});
