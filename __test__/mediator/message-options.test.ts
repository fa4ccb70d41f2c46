import { describe, expect, it } from "vitest";
import {
  type AnyContract,
  type Catga,
  createCatga,
  defineCommand,
  defineEvent,
  defineQuery,
  ErrorCodes,
  type Result,
  silentLogger,
} from "../../ts/index.js";

// What a JS caller (no compiler) passes as per-message options: each must fail the call with
// CATGA_INVALID_ARGUMENT naming the field, never throw, never be accepted silently.
const Place = defineCommand("options.place").payload<{ n: number }>().returns<number>();
const Find = defineQuery("options.find").payload<{ n: number }>().returns<number>();
const Placed = defineEvent("options.placed").payload<{ n: number }>();

function mediator(onHandled: () => void = () => undefined): Catga<AnyContract> {
  return createCatga({ logger: silentLogger })
    .handle(Place, ({ n }) => {
      onHandled();
      return n;
    })
    .handle(Find, ({ n }) => n)
    .handle(Placed, () => onHandled())
    .build() as unknown as Catga<AnyContract>; // the JS caller's view: any contract, any options
}

async function failure(
  call: Promise<Result<unknown>>,
): Promise<{ code: string; field: unknown; message: string }> {
  const result = await call;
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.value)}`);
  return {
    code: result.error.code,
    field: (result.error.details as { field?: unknown } | undefined)?.field,
    message: result.error.message,
  };
}

const badOptions: [string, unknown, string][] = [
  ["null options", null, "options"],
  ["a number as options", 42, "options"],
  ["an empty messageId", { messageId: "" }, "messageId"],
  ["a numeric messageId", { messageId: 42 }, "messageId"],
  ["a messageId of 100,000 characters", { messageId: "m".repeat(100_000) }, "messageId"],
  ["an object correlationId", { correlationId: {} }, "correlationId"],
  ["an empty causationId", { causationId: "" }, "causationId"],
  ["headers that are not an object", { headers: 42 }, "headers"],
  ["headers given as a Map (its entries were dropped)", { headers: new Map([["a", "b"]]) }, "headers"],
  ["a header with a Symbol name", { headers: { [Symbol("k")]: "v" } }, "headers"],
  ["a header that is not a string", { headers: { traceparent: 1 } }, "headers.traceparent"],
  ["a signal that is not an AbortSignal", { signal: "stop" }, "signal"],
  ["an unknown key", { timeoutMs: 5 }, "timeoutMs"],
];

describe("per-message options", () => {
  for (const [what, options, field] of badOptions) {
    it(`refuses ${what} on send, query and publish with CATGA_INVALID_ARGUMENT naming ${field}`, async () => {
      let handled = 0;
      const catga = mediator(() => handled++);
      for (const call of [
        () => catga.send(Place as never, { n: 1 } as never, options as never),
        () => catga.query(Find as never, { n: 1 } as never, options as never),
        () => catga.publish(Placed as never, { n: 1 } as never, options as never),
      ]) {
        const error = await failure(call());
        expect(error.code).toBe(ErrorCodes.INVALID_ARGUMENT);
        expect(error.field).toBe(field);
        expect(error.message).toContain(field);
        expect(error.message).not.toContain("options.options");
      }
      expect(handled).toBe(0);
    });
  }

  it("refuses a publish-only key on a send and a durable-only key on a publish", async () => {
    const catga = mediator();
    const onSend = await failure(
      catga.send(Place as never, { n: 1 } as never, { mode: "sequential" } as never),
    );
    expect([onSend.code, onSend.field]).toEqual([ErrorCodes.INVALID_ARGUMENT, "mode"]);
    const onPublish = await failure(
      catga.publish(Placed as never, { n: 1 } as never, { await: "result" } as never),
    );
    expect([onPublish.code, onPublish.field]).toEqual([ErrorCodes.INVALID_ARGUMENT, "await"]);
  });

  it("checks the options of a handler context's calls too", async () => {
    const Outer = defineCommand("options.outer").returns<unknown>();
    const catga = createCatga({ logger: silentLogger })
      .handle(Place, ({ n }) => n)
      .handle(Outer, async (_, ctx) => ctx.send(Place, { n: 1 }, { messageId: 7 } as never))
      .build();
    // The handler returns the inner call's failed Result, which fails the outer send.
    const error = await failure(catga.send(Outer, {}));
    expect([error.code, error.field]).toEqual([ErrorCodes.INVALID_ARGUMENT, "messageId"]);
  });

  it("still takes every documented option", async () => {
    const catga = mediator();
    const signal = new AbortController().signal;
    const common = {
      messageId: "m-1",
      correlationId: "c-1",
      causationId: "k-1",
      headers: { a: "b" },
      signal,
    };
    expect((await catga.send(Place as never, { n: 2 } as never, common)).unwrap()).toBe(2);
    expect((await catga.query(Find as never, { n: 3 } as never, common)).unwrap()).toBe(3);
    expect(
      (await catga.publish(Placed as never, { n: 1 } as never, { ...common, mode: "sequential" })).ok,
    ).toBe(true);
  });
});

describe("contracts from JS callers", () => {
  for (const [what, contract] of [
    ["undefined", undefined],
    ["null", null],
    ["a type name instead of a contract", "options.place"],
  ] as const) {
    it(`answers ${what} with CATGA_INVALID_ARGUMENT naming the contract instead of throwing`, async () => {
      const catga = mediator();
      for (const call of [
        () => catga.send(contract as never, { n: 1 } as never),
        () => catga.query(contract as never, { n: 1 } as never),
        () => catga.publish(contract as never, { n: 1 } as never),
        () => catga.send(contract as never, { n: 1 } as never, { messageId: "m" }),
      ]) {
        const error = await failure(call());
        expect([error.code, error.field]).toEqual([ErrorCodes.INVALID_ARGUMENT, "contract"]);
      }
    });
  }

  it("answers a contract of the wrong kind (an event to send, a command to publish) by name", async () => {
    let handled = 0;
    const catga = mediator(() => handled++);
    for (const [call, got] of [
      [() => catga.publish(Place as never, { n: 1 } as never), "a command contract (options.place)"],
      [() => catga.send(Placed as never, { n: 1 } as never), "an event contract (options.placed)"],
      [() => catga.query(Place as never, { n: 1 } as never), "a command contract (options.place)"],
      [
        () => catga.send(Find as never, { n: 1 } as never, { messageId: "m" }),
        "a query contract (options.find)",
      ],
    ] as const) {
      const error = await failure(call());
      expect([error.code, error.field]).toEqual([ErrorCodes.INVALID_ARGUMENT, "contract"]);
      expect(error.message).toContain(got);
    }
    expect(handled).toBe(0);
  });
});
