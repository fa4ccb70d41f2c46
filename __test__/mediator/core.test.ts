import { describe, expect, it } from "vitest";
import {
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  defineQuery,
  ErrorCodes,
  err,
  type HandlerContext,
  silentLogger,
  unwrap,
  uuidv7,
  uuidv7Time,
} from "../../ts/index.js";

const Add = defineCommand("math.add").payload<{ a: number; b: number }>().returns<number>();
const Echo = defineQuery("echo").payload<string>().returns<string>();

const quiet = () => createCatga({ logger: silentLogger });

describe("send and query", () => {
  it("returns ok results from async and sync handlers", async () => {
    const catga = quiet()
      .handle(Add, async ({ a, b }) => a + b)
      .handle(Echo, (text) => text.toUpperCase())
      .build();
    const sum = await catga.send(Add, { a: 1, b: 2 });
    expect(sum.ok).toBe(true);
    expect(sum.ok && sum.value).toBe(3);
    expect(sum.unwrap()).toBe(3);
    expect((await catga.query(Echo, "hi")).unwrap()).toBe("HI");
  });

  it("maps a thrown error to CATGA_HANDLER_FAILED and keeps CatgaError codes", async () => {
    const Fail = defineCommand("fail").payload<{ custom: boolean }>();
    const catga = quiet()
      .handle(Fail, ({ custom }) => {
        if (custom) throw new CatgaError("ORDERS_OUT_OF_STOCK", "no stock", { details: { sku: "x" } });
        throw new Error("boom");
      })
      .build();
    const plain = await catga.send(Fail, { custom: false });
    expect(plain.ok).toBe(false);
    if (!plain.ok) {
      expect(plain.error.code).toBe(ErrorCodes.HANDLER_FAILED);
      expect(plain.error.message).toBe("boom");
      expect(plain.error.cause).toBeInstanceOf(Error);
    }
    const custom = await catga.send(Fail, { custom: true });
    expect(custom.ok || custom.error).toMatchObject({ code: "ORDERS_OUT_OF_STOCK", details: { sku: "x" } });
  });

  it("takes an err(...) a handler returns as its failure, sync or async, with any preset", async () => {
    const Reserve = defineCommand("stock.reserve")
      .payload<{ sku: string; async: boolean }>()
      .returns<string>();
    for (const preset of [undefined, "production"] as const) {
      let calls = 0;
      const catga = createCatga({ logger: silentLogger, ...(preset ? { preset } : {}) })
        .handle(Reserve, ({ sku, async }) => {
          calls++;
          const failure = err("ORDERS_OUT_OF_STOCK", `no ${sku} left`, { sku });
          if (sku === "ok") return "reserved";
          return async ? Promise.resolve(failure) : failure;
        })
        .build();
      expect((await catga.send(Reserve, { sku: "ok", async: false })).unwrap()).toBe("reserved");
      for (const async of [false, true]) {
        const result = await catga.send(Reserve, { sku: "book", async });
        expect(result.ok).toBe(false);
        expect(result.ok || result.error).toMatchObject({
          code: "ORDERS_OUT_OF_STOCK",
          message: "no book left",
          details: { sku: "book" },
        });
      }
      // A domain code is not retried by the production preset's retry behavior.
      expect(calls).toBe(3);
    }
  });

  it("unwrap throws a CatgaError with the code, message and details", async () => {
    const catga = quiet()
      .handle(Add, () => {
        throw new Error("nope");
      })
      .build();
    const result = await catga.send(Add, { a: 1, b: 1 });
    expect(() => result.unwrap()).toThrowError(CatgaError);
    expect(() => unwrap(result)).toThrowError("nope");
    try {
      result.unwrap();
    } catch (error) {
      expect((error as CatgaError).code).toBe(ErrorCodes.HANDLER_FAILED);
    }
  });

  it("answers CATGA_NO_HANDLER for a contract nobody handles (untyped registry)", async () => {
    const Unknown = defineCommand("nobody.home");
    const catga = quiet().build() as unknown as import("../../ts/index.js").Catga;
    const result = await catga.send(Unknown, {});
    expect(result.ok || result.error.code).toBe(ErrorCodes.NO_HANDLER);
  });

  it("answers CATGA_ABORTED when the caller's signal is already aborted", async () => {
    let called = false;
    const catga = quiet()
      .handle(Add, () => {
        called = true;
        return 0;
      })
      .build();
    const controller = new AbortController();
    controller.abort();
    const result = await catga.send(Add, { a: 1, b: 1 }, { signal: controller.signal });
    expect(result.ok || result.error.code).toBe(ErrorCodes.ABORTED);
    expect(called).toBe(false);
  });

  it("maps an AbortError thrown by the handler to CATGA_ABORTED", async () => {
    const catga = quiet()
      .handle(Add, (_p, ctx) => {
        ctx.signal.throwIfAborted();
        return 1;
      })
      .build();
    const controller = new AbortController();
    const pending = catga.send(Add, { a: 1, b: 1 }, { signal: controller.signal });
    const result = await pending;
    expect(result.ok).toBe(true);
    controller.abort();
    const aborted = await catga.send(Add, { a: 1, b: 1 }, { signal: controller.signal });
    expect(aborted.ok || aborted.error.code).toBe(ErrorCodes.ABORTED);
  });

  it("maps a handler that stops with its signal's reason to CATGA_ABORTED, whatever the reason", async () => {
    const catga = quiet()
      .handle(Add, (_p, ctx) => {
        // What fetch and most drivers do: reject with the signal's reason.
        return new Promise<number>((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
        });
      })
      .build();
    // AbortSignal.timeout() aborts with a TimeoutError, not an AbortError.
    const timedOut = await catga.send(Add, { a: 1, b: 1 }, { signal: AbortSignal.timeout(5) });
    expect(timedOut.ok || timedOut.error.code).toBe(ErrorCodes.ABORTED);
    for (const reason of [new Error("shutting down"), "bye"]) {
      const controller = new AbortController();
      const pending = catga.send(Add, { a: 1, b: 1 }, { signal: controller.signal });
      controller.abort(reason);
      const result = await pending;
      expect(result.ok || result.error).toMatchObject({ code: ErrorCodes.ABORTED, cause: reason });
    }
  });

  it("keeps a handler's own TimeoutError a handler failure while its signal is not aborted", async () => {
    const catga = quiet()
      .handle(Add, () => {
        throw Object.assign(new Error("db statement timeout"), { name: "TimeoutError" });
      })
      .build();
    const controller = new AbortController();
    const result = await catga.send(Add, { a: 1, b: 1 }, { signal: controller.signal });
    expect(result.ok || result.error.code).toBe(ErrorCodes.HANDLER_FAILED);
  });
});

describe("message ids and correlation", () => {
  it("makes time-ordered, unique UUIDv7 ids", () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(Math.abs(uuidv7Time(ids[0]!) - Date.now())).toBeLessThan(5000);
  });

  it("propagates correlation and causation through handlers, events and nested sends", async () => {
    const Place = defineCommand("orders.place").payload<{ sku: string }>().returns<string>();
    const Placed = defineEvent("orders.placed").payload<{ sku: string }>();
    const Reserve = defineCommand("stock.reserve").payload<{ sku: string }>();
    const seen: Record<string, HandlerContext> = {};
    const catga = quiet()
      .handle(Place, async (order, ctx) => {
        seen.place = ctx;
        (await ctx.publish(Placed, order)).unwrap();
        return "o-1";
      })
      .handle(Placed, async (event, ctx) => {
        seen.placed = ctx;
        (await ctx.send(Reserve, event)).unwrap();
      })
      .handle(Reserve, (_p, ctx) => {
        seen.reserve = ctx;
      })
      .build();
    const headers = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
    (await catga.send(Place, { sku: "a" }, { headers })).unwrap();
    const { place, placed, reserve } = seen as Record<string, HandlerContext>;
    expect(place!.causationId).toBeUndefined();
    expect(place!.correlationId).toBe(place!.messageId);
    expect(placed!.correlationId).toBe(place!.messageId);
    expect(placed!.causationId).toBe(place!.messageId);
    expect(reserve!.correlationId).toBe(place!.messageId);
    expect(reserve!.causationId).toBe(placed!.messageId);
    expect(new Set([place!.messageId, placed!.messageId, reserve!.messageId]).size).toBe(3);
    expect(reserve!.headers).toEqual(headers);
    expect(place!.kind).toBe("command");
    expect(placed!.type).toBe("orders.placed");
    expect(reserve!.createdAt).toBeGreaterThanOrEqual(place!.createdAt);
  });

  it("uses caller-supplied ids and createdAt matches the generated id's timestamp", async () => {
    let ctxSeen: HandlerContext | undefined;
    const catga = quiet()
      .handle(Add, (_p, ctx) => {
        ctxSeen = ctx;
        return 0;
      })
      .build();
    await catga.send(Add, { a: 0, b: 0 }, { messageId: "m-1", correlationId: "c-1", causationId: "x-1" });
    expect(ctxSeen).toMatchObject({ messageId: "m-1", correlationId: "c-1", causationId: "x-1" });
    await catga.send(Add, { a: 0, b: 0 });
    expect(ctxSeen!.createdAt).toBe(uuidv7Time(ctxSeen!.messageId));
  });
});

describe("cancellation across messages", () => {
  it("a message sent from a handler whose signal is already aborted is not run", async () => {
    const Child = defineCommand("child").payload<number>().returns<number>();
    let childRan = false;
    const controller = new AbortController();
    const catga = quiet()
      .handle(Child, (n) => {
        childRan = true;
        return n;
      })
      .handle(Add, async (_p, ctx) => {
        controller.abort();
        const child = await ctx.send(Child, 1);
        return child.ok ? 1 : -1;
      })
      .build();
    const result = await catga.send(Add, { a: 1, b: 1 }, { signal: controller.signal });
    expect(result.unwrap()).toBe(-1);
    expect(childRan).toBe(false);
  });
});

describe("lazy ids keep causal order", () => {
  it("a child's id sorts after its parent's even when the child's id is read first", async () => {
    const Child = defineCommand("child").returns<string>();
    const ids: string[] = [];
    const catga = quiet()
      .handle(Child, (_p, ctx) => ctx.messageId)
      .handle(Add, async (_p, ctx) => {
        const childId = (await ctx.send(Child, undefined)).unwrap();
        ids.push(childId, ctx.messageId);
        return 0;
      })
      .build();
    await catga.send(Add, { a: 0, b: 0 });
    const [childId, parentId] = ids;
    expect(parentId! < childId!).toBe(true);
  });
});
