import { describe, expect, it } from "vitest";
import {
  CatgaConfigError,
  createCatga,
  defineCommand,
  defineQuery,
  ErrorCodes,
  InMemoryBus,
  inMemoryTransport,
  silentLogger,
} from "../../ts/index.js";

const Capture = defineCommand("payments.capture")
  .payload<{ id: string }>()
  .returns<{ captured: string }>()
  .durable();

describe("durable commands in the mediator", () => {
  it("refuses, when built, one command type declared durable by one contract and not by another", () => {
    const Plain = defineCommand("payments.capture").payload<{ id: string }>().returns<{ captured: string }>();
    const build = () =>
      createCatga({ logger: silentLogger })
        .handle(Capture, ({ id }) => ({ captured: id }))
        .remote(Plain)
        .build();
    expect(build).toThrow(CatgaConfigError);
  });

  it("refuses .durable() on a query with CATGA_INVALID_ARGUMENT", () => {
    const Get = defineQuery("payments.get") as unknown as { durable(): unknown }; // not in the types: JS callers
    expect(() => Get.durable()).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
  });

  it("runs durable commands in process without a transport; 'accepted' once the handler succeeded", async () => {
    const catga = createCatga({ logger: silentLogger })
      .handle(Capture, ({ id }) => ({ captured: id }))
      .build();
    expect((await catga.send(Capture, { id: "a" }, { messageId: "m-a" })).unwrap()).toEqual({
      messageId: "m-a",
      duplicate: false,
    });
    expect((await catga.send(Capture, { id: "b" }, { await: "result" })).unwrap()).toEqual({ captured: "b" });
    // `await` on a command that is not durable: a coded error for JS callers (TS refuses it).
    const Plain = defineCommand("plain.do");
    const plain = await createCatga({ logger: silentLogger })
      .handle(Plain, () => undefined)
      .build()
      .send(Plain, undefined, { await: "accepted" } as never);
    expect(plain.ok ? undefined : plain.error.code).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it("go through the in-memory bus like any command", async () => {
    const bus = new InMemoryBus();
    const handled: string[] = [];
    createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .handle(Capture, ({ id }) => {
        handled.push(id);
        return { captured: id };
      })
      .build();
    const web = createCatga({ logger: silentLogger, transport: inMemoryTransport(bus) })
      .remote(Capture)
      .build();
    expect((await web.send(Capture, { id: "a" }, { messageId: "m-a" })).unwrap()).toEqual({
      messageId: "m-a",
      duplicate: false,
    });
    expect((await web.send(Capture, { id: "b" }, { await: "result" })).unwrap()).toEqual({ captured: "b" });
    expect(handled).toEqual(["a", "b"]);
  });

  it("keep the contract's type, schema and kind; .durable() makes a new token", () => {
    const Plain = defineCommand("payments.capture");
    const Durable = Plain.durable();
    expect(Durable).not.toBe(Plain);
    expect([Plain.delivery, Durable.delivery]).toEqual(["request", "durable"]);
    expect([Durable.kind, Durable.type, Durable.schema]).toEqual(["command", "payments.capture", undefined]);
    expect(Object.isFrozen(Durable)).toBe(true);
  });
});
