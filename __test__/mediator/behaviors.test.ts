import vm from "node:vm";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { type } from "arktype";
import * as v from "valibot";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import {
  CatgaError,
  type CircuitStateChange,
  createCatga,
  defineBehavior,
  defineCommand,
  defineEvent,
  defineQuery,
  ErrorCodes,
  err,
  type HandlerContext,
  InMemoryIdempotencyStore,
  type Logger,
  silentLogger,
} from "../../ts/index.js";

const Work = defineCommand("work.do").payload<{ id: number }>().returns<number>();
const quiet = () => createCatga({ logger: silentLogger });

describe("validation (Standard Schema via zod)", () => {
  const Place = defineCommand(
    "orders.place",
    z.object({ sku: z.string().min(1), quantity: z.number().int().positive().default(1) }),
  ).returns<{ quantity: number }>();

  it("rejects invalid payloads with CATGA_VALIDATION and never calls the handler", async () => {
    const handler = vi.fn(async (order: { sku: string; quantity: number }) => ({ quantity: order.quantity }));
    const catga = quiet().withValidation().handle(Place, handler).build();
    const result = await catga.send(Place, { sku: "", quantity: -1 });
    expect(handler).not.toHaveBeenCalled();
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(ErrorCodes.VALIDATION);
    const issues = (result.error.details as { issues: { path: string }[] }).issues.map((i) => i.path);
    expect(issues).toEqual(["sku", "quantity"]);
  });

  it("passes the schema output (defaults applied) to the handler", async () => {
    const catga = quiet()
      .withValidation()
      .handle(Place, (order) => ({ quantity: order.quantity }))
      .build();
    expect((await catga.send(Place, { sku: "book" })).unwrap()).toEqual({ quantity: 1 });
  });

  it("supports async schemas", async () => {
    const Checked = defineQuery(
      "checked",
      z.string().refine(async (s) => s.startsWith("ok"), "must start with ok"),
    ).returns<string>();
    const catga = quiet()
      .withValidation()
      .handle(Checked, (s) => s)
      .build();
    expect((await catga.query(Checked, "ok-1")).unwrap()).toBe("ok-1");
    const bad = await catga.query(Checked, "no");
    expect(bad.ok || bad.error.message).toContain("must start with ok");
  });
});

describe("validation with the other Standard Schema libraries the docs name", () => {
  // Same contract in each library: sku non-empty, quantity a positive integer defaulting to 1.
  const schemas = {
    valibot: v.object({
      sku: v.pipe(v.string(), v.minLength(1)),
      quantity: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1),
    }),
    arktype: type({ sku: "string > 0", quantity: "number.integer > 0 = 1" }),
  };

  for (const [library, schema] of Object.entries(schemas)) {
    it(`${library}: rejects with CATGA_VALIDATION naming the fields, passes the output on`, async () => {
      const Place = defineCommand(`orders.place.${library}`, schema).returns<number>();
      const handler = vi.fn((order: { sku: string; quantity: number }) => order.quantity);
      const catga = quiet().withValidation().handle(Place, handler).build();
      const bad = await catga.send(Place, { sku: "", quantity: -1 });
      expect(bad.ok || bad.error.code).toBe(ErrorCodes.VALIDATION);
      if (!bad.ok) {
        const paths = (bad.error.details as { issues: { path: string }[] }).issues.map((i) => i.path);
        expect(paths.sort()).toEqual(["quantity", "sku"]);
      }
      expect(handler).not.toHaveBeenCalled();
      expect((await catga.send(Place, { sku: "book" } as never)).unwrap()).toBe(1);
    });
  }
});

describe("retry", () => {
  it("retries retryable failures until success", async () => {
    let calls = 0;
    const catga = quiet()
      .withRetry({ maxAttempts: 3, baseDelayMs: 1, jitter: "none" })
      .handle(Work, () => {
        calls++;
        if (calls < 3) throw new Error("transient");
        return calls;
      })
      .build();
    expect((await catga.send(Work, { id: 1 })).unwrap()).toBe(3);
  });

  it("a random source that throws or strays from [0, 1) neither rejects the send nor makes a delay NaN", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      for (const random of [
        () => {
          throw new Error("entropy gone");
        },
        () => Number.NaN,
        () => 7,
      ]) {
        let calls = 0;
        const catga = quiet()
          .withRetry({ maxAttempts: 3, baseDelayMs: 1, random })
          .handle(Work, () => {
            calls++;
            if (calls < 3) throw new Error("transient");
            return calls;
          })
          .build();
        expect((await catga.send(Work, { id: 1 })).unwrap()).toBe(3);
      }
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
  });

  it("gives up after maxAttempts and returns the last error", async () => {
    let calls = 0;
    const catga = quiet()
      .withRetry({ maxAttempts: 4, baseDelayMs: 0 })
      .handle(Work, () => {
        calls++;
        throw new Error(`failure ${calls}`);
      })
      .build();
    const result = await catga.send(Work, { id: 1 });
    expect(calls).toBe(4);
    expect(result.ok || result.error).toMatchObject({
      code: ErrorCodes.HANDLER_FAILED,
      message: "failure 4",
    });
  });

  it("does not retry non-retryable codes", async () => {
    let calls = 0;
    const build = (error: () => Error, retryOn?: string[]) =>
      quiet()
        .withRetry({ maxAttempts: 5, baseDelayMs: 0, ...(retryOn ? { retryOn } : {}) })
        .handle(Work, () => {
          calls++;
          throw error();
        })
        .build();
    await build(() => new CatgaError("ORDERS_REJECTED", "business rule")).send(Work, { id: 1 });
    expect(calls).toBe(1);
    calls = 0;
    await build(() => new Error("plain"), ["CATGA_TIMEOUT"]).send(Work, { id: 1 });
    expect(calls).toBe(1);
  });

  describe("with fake timers", () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it("backs off exponentially with the configured jitter, capped at maxDelayMs", async () => {
      const attemptsAt: number[] = [];
      const catga = quiet()
        .withRetry({
          maxAttempts: 5,
          baseDelayMs: 100,
          factor: 2,
          maxDelayMs: 300,
          jitter: "full",
          random: () => 0.5,
        })
        .handle(Work, () => {
          attemptsAt.push(Date.now());
          throw new Error("down");
        })
        .build();
      const pending = catga.send(Work, { id: 1 });
      await vi.runAllTimersAsync();
      await pending;
      const gaps = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]!);
      // full jitter with random()=0.5: half of 100, 200, 300 (capped), 300 (capped)
      expect(gaps).toEqual([50, 100, 150, 150]);
    });

    it("stops retrying when the caller aborts during backoff", async () => {
      let calls = 0;
      const catga = quiet()
        .withRetry({ maxAttempts: 5, baseDelayMs: 1000, jitter: "none" })
        .handle(Work, () => {
          calls++;
          throw new Error("down");
        })
        .build();
      const controller = new AbortController();
      const pending = catga.send(Work, { id: 1 }, { signal: controller.signal });
      await vi.advanceTimersByTimeAsync(10);
      controller.abort();
      await vi.advanceTimersByTimeAsync(10);
      const result = await pending;
      expect(calls).toBe(1);
      expect(result.ok).toBe(false);
    });
  });
});

describe("circuit breaker", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function breakerFixture(options: { halfOpenMaxCalls?: number } = {}) {
    const changes: string[] = [];
    let healthy = false;
    let calls = 0;
    const catga = quiet()
      .withCircuitBreaker({
        failureThreshold: 3,
        resetTimeoutMs: 1000,
        ...options,
        onStateChange: (c: CircuitStateChange) => changes.push(`${c.key}:${c.from}->${c.to}`),
      })
      .handle(Work, async ({ id }) => {
        calls++;
        if (id === -1) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        if (!healthy) throw new Error("down");
        return id;
      })
      .build();
    return {
      catga,
      changes,
      calls: () => calls,
      heal: () => {
        healthy = true;
      },
    };
  }

  it("opens after consecutive failures and rejects without calling the handler", async () => {
    const f = breakerFixture();
    for (let i = 0; i < 3; i++) await f.catga.send(Work, { id: i });
    expect(f.changes).toEqual(["work.do:closed->open"]);
    const rejected = await f.catga.send(Work, { id: 9 });
    expect(f.calls()).toBe(3);
    expect(rejected.ok || rejected.error).toMatchObject({
      code: ErrorCodes.CIRCUIT_OPEN,
      details: { retryAfterMs: 1000 },
    });
  });

  it("closing again starts the failure count afresh (found by the mutation run)", async () => {
    let healthy = false;
    const changes: string[] = [];
    const catga = quiet()
      .withCircuitBreaker({
        failureThreshold: 3,
        resetTimeoutMs: 1000,
        onStateChange: (c: CircuitStateChange) => changes.push(c.to),
      })
      .handle(Work, ({ id }) => {
        if (!healthy) throw new Error("down");
        return id;
      })
      .build();
    for (let i = 0; i < 3; i++) await catga.send(Work, { id: i });
    vi.advanceTimersByTime(1000);
    healthy = true;
    expect((await catga.send(Work, { id: 7 })).unwrap()).toBe(7); // the trial closes it
    healthy = false;
    // Two failures after closing stay below the threshold of 3: still closed, the handler runs.
    for (let i = 0; i < 2; i++) {
      const failed = await catga.send(Work, { id: i });
      expect(failed.ok || failed.error.code).toBe(ErrorCodes.HANDLER_FAILED);
    }
    expect(changes).toEqual(["open", "half-open", "closed"]);
  });

  it("half-open: a successful trial closes the circuit", async () => {
    const f = breakerFixture();
    for (let i = 0; i < 3; i++) await f.catga.send(Work, { id: i });
    vi.advanceTimersByTime(1000);
    f.heal();
    expect((await f.catga.send(Work, { id: 7 })).unwrap()).toBe(7);
    expect(f.changes).toEqual([
      "work.do:closed->open",
      "work.do:open->half-open",
      "work.do:half-open->closed",
    ]);
    expect((await f.catga.send(Work, { id: 8 })).ok).toBe(true);
  });

  it("half-open: a failed trial re-opens it for another reset period", async () => {
    const f = breakerFixture();
    for (let i = 0; i < 3; i++) await f.catga.send(Work, { id: i });
    vi.advanceTimersByTime(1000);
    const trial = await f.catga.send(Work, { id: 5 });
    expect(trial.ok || trial.error.code).toBe(ErrorCodes.HANDLER_FAILED);
    expect(f.changes.at(-1)).toBe("work.do:half-open->open");
    const again = await f.catga.send(Work, { id: 6 });
    expect(again.ok || again.error.code).toBe(ErrorCodes.CIRCUIT_OPEN);
    expect(f.calls()).toBe(4);
  });

  it("half-open: only halfOpenMaxCalls trials run at once", async () => {
    const f = breakerFixture({ halfOpenMaxCalls: 1 });
    for (let i = 0; i < 3; i++) await f.catga.send(Work, { id: i });
    vi.advanceTimersByTime(1000);
    f.heal();
    const trial = f.catga.send(Work, { id: -1 }); // slow trial, still in flight
    const second = await f.catga.send(Work, { id: 2 });
    expect(second.ok || second.error.code).toBe(ErrorCodes.CIRCUIT_OPEN);
    await vi.advanceTimersByTimeAsync(50);
    expect((await trial).unwrap()).toBe(-1);
    expect((await f.catga.send(Work, { id: 3 })).unwrap()).toBe(3);
  });

  it("does not count failures outside failureOn (e.g. validation)", async () => {
    const Strict = defineCommand("strict", z.object({ n: z.number() })).returns<number>();
    const changes: string[] = [];
    const catga = quiet()
      .withValidation()
      .withCircuitBreaker({ failureThreshold: 1, onStateChange: (c) => changes.push(c.to) })
      .handle(Strict, ({ n }) => n)
      .build();
    for (let i = 0; i < 3; i++) await catga.send(Strict, { n: "x" as unknown as number });
    expect(changes).toEqual([]);
  });

  it("does not count a caller's cancellation, whatever its abort reason", async () => {
    const changes: string[] = [];
    const catga = quiet()
      .withCircuitBreaker({ failureThreshold: 1, onStateChange: (c) => changes.push(c.to) })
      .handle(Work, (_p, ctx) => {
        // What fetch and most drivers do: reject with the signal's reason.
        return new Promise<number>((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
        });
      })
      .build();
    for (const reason of [new Error("client went away"), "shutdown", undefined]) {
      const controller = new AbortController();
      const pending = catga.send(Work, { id: 1 }, { signal: controller.signal });
      controller.abort(reason);
      const result = await pending;
      expect(result.ok || result.error.code).toBe(ErrorCodes.ABORTED);
    }
    expect(changes).toEqual([]);
  });

  it("an onStateChange that throws changes no outcome and is reported once as a warning", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const catga = quiet()
        .withCircuitBreaker({
          failureThreshold: 1,
          resetTimeoutMs: 1000,
          onStateChange: () => {
            throw new Error("metrics down");
          },
        })
        .handle(Work, ({ id }) => {
          if (id < 0) throw new Error("down");
          return id;
        })
        .build();
      const failed = await catga.send(Work, { id: -1 }); // closed → open
      expect(failed.ok || failed.error.code).toBe(ErrorCodes.HANDLER_FAILED);
      const rejected = await catga.send(Work, { id: 1 });
      expect(rejected.ok || rejected.error.code).toBe(ErrorCodes.CIRCUIT_OPEN);
      vi.advanceTimersByTime(1000);
      // open → half-open runs synchronously inside send, then half-open → closed
      expect((await catga.send(Work, { id: 2 })).unwrap()).toBe(2);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain("metrics down");
    } finally {
      warn.mockRestore();
    }
  });

  it("half-open: a trial left over from an earlier half-open period neither decides nor frees a slot", async () => {
    type Outcome = "ok" | "fail" | "neutral";
    const settle: ((outcome: Outcome) => void)[] = [];
    const changes: string[] = [];
    const catga = quiet()
      .withCircuitBreaker({
        failureThreshold: 1,
        resetTimeoutMs: 1000,
        halfOpenMaxCalls: 2,
        onStateChange: (c) => changes.push(c.to),
      })
      .handle(Work, ({ id }) => {
        return new Promise<number>((resolve, reject) => {
          settle.push((outcome) => {
            if (outcome === "ok") resolve(id);
            else if (outcome === "fail") reject(new Error("down"));
            else reject(new CatgaError("ORDERS_REJECTED", "not a counted failure"));
          });
        });
      })
      .build();
    const first = catga.send(Work, { id: 0 });
    settle[0]!("fail");
    await first; // closed → open
    vi.advanceTimersByTime(1000);
    const stale = catga.send(Work, { id: 1 }); // trial of period 1, still running later
    const trial = catga.send(Work, { id: 2 });
    settle[2]!("fail");
    await trial; // half-open → open
    vi.advanceTimersByTime(1000);
    const current = [catga.send(Work, { id: 3 }), catga.send(Work, { id: 4 })]; // both slots of period 2
    settle[1]!("neutral");
    await stale;
    const extra = catga.send(Work, { id: 5 });
    expect(settle).toHaveLength(5); // the extra call never reached the handler
    const rejected = await extra;
    expect(rejected.ok || rejected.error.code).toBe(ErrorCodes.CIRCUIT_OPEN);
    settle[3]!("ok");
    settle[4]!("ok");
    expect((await Promise.all(current)).map((r) => r.unwrap())).toEqual([3, 4]);
    expect(changes).toEqual(["open", "half-open", "open", "half-open", "closed"]);
  });
});

describe("timeout", () => {
  it("answers CATGA_TIMEOUT and aborts the handler's signal", async () => {
    let abortedWith: unknown;
    const catga = quiet()
      .withTimeout({ ms: 20 })
      .handle(Work, (_p, ctx) => {
        return new Promise<number>((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            abortedWith = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        });
      })
      .build();
    const result = await catga.send(Work, { id: 1 });
    expect(result.ok || result.error).toMatchObject({ code: ErrorCodes.TIMEOUT, details: { timeoutMs: 20 } });
    expect(abortedWith).toMatchObject({ code: ErrorCodes.TIMEOUT });
  });

  it("aborts the signal of a handler that reads it only after its first await", async () => {
    let signal: AbortSignal | undefined;
    const catga = quiet()
      .withTimeout({ ms: 20 })
      .handle(Work, async (_p, ctx) => {
        await Promise.resolve();
        signal = ctx.signal; // its attempt's call is made when the handler went asynchronous
        await new Promise((resolve) => signal!.addEventListener("abort", resolve, { once: true }));
        return 1;
      })
      .build();
    const result = await catga.send(Work, { id: 1 });
    expect(result.ok || result.error.code).toBe(ErrorCodes.TIMEOUT);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ code: ErrorCodes.TIMEOUT });
  });

  it("never aborts the signal of a handler that answered at once", async () => {
    const kept: AbortSignal[] = [];
    let later: HandlerContext | undefined;
    const catga = quiet()
      .withTimeout({ ms: 10 })
      .handle(Work, ({ id }, ctx) => {
        if (id === 1)
          kept.push(ctx.signal); // read while it runs
        else later = ctx; // read after it answered
        return id;
      })
      .build();
    expect((await catga.send(Work, { id: 1 })).unwrap()).toBe(1);
    expect((await catga.send(Work, { id: 2 })).unwrap()).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 40)); // past both budgets
    kept.push(later!.signal);
    expect(kept.map((signal) => signal.aborted)).toEqual([false, false]);
  });

  it("answers on time even if the handler ignores its signal", async () => {
    const catga = quiet()
      .withTimeout({ ms: 10 })
      // Never settles: the send can only resolve if the timeout answers without the handler.
      .handle(Work, () => new Promise<number>(() => undefined))
      .build();
    const result = await catga.send(Work, { id: 1 });
    expect(result.ok || result.error.code).toBe(ErrorCodes.TIMEOUT);
  });

  it("uses per-type budgets and lets fast handlers through", async () => {
    const Slow = defineQuery("slow").payload<number>().returns<number>();
    const catga = quiet()
      .withTimeout({ ms: 5, perType: { slow: 200 } })
      .handle(Slow, async (n) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return n;
      })
      .handle(Work, ({ id }) => id)
      .build();
    expect((await catga.query(Slow, 4)).unwrap()).toBe(4);
    expect((await catga.send(Work, { id: 2 })).unwrap()).toBe(2);
  });

  it("forwards a caller abort as CATGA_ABORTED", async () => {
    let handlerSignal: AbortSignal | undefined;
    const catga = quiet()
      .withTimeout({ ms: 1000 })
      .handle(Work, (_p, ctx) => {
        handlerSignal = ctx.signal;
        return new Promise<number>(() => {});
      })
      .build();
    const controller = new AbortController();
    const pending = catga.send(Work, { id: 1 }, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const result = await pending;
    expect(result.ok || result.error.code).toBe(ErrorCodes.ABORTED);
    expect(handlerSignal?.aborted).toBe(true);
  });

  it("gives each retry attempt a fresh budget", async () => {
    let calls = 0;
    const catga = quiet()
      .withRetry({ maxAttempts: 3, baseDelayMs: 0 })
      .withTimeout({ ms: 15 })
      .handle(Work, async () => {
        calls++;
        if (calls < 3) await new Promise((resolve) => setTimeout(resolve, 100));
        return calls;
      })
      .build();
    expect((await catga.send(Work, { id: 1 })).unwrap()).toBe(3);
  });

  it("starts the budget when the handler returns its promise: a synchronous stretch is not timed", async () => {
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    const catga = quiet()
      .withTimeout({ ms: 20 })
      .handle(Work, async ({ id }) => {
        busy(40); // runs before the first await: nothing can interrupt it
        await new Promise((resolve) => setTimeout(resolve, 1));
        return id;
      })
      .build();
    expect((await catga.send(Work, { id: 9 })).unwrap()).toBe(9);
  });

  it("keeps no timer alive after messages settle", async () => {
    const catga = quiet()
      .withTimeout({ ms: 60_000 })
      .handle(Work, ({ id }) => id)
      .build();
    const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    for (let i = 0; i < 2000; i++) await catga.send(Work, { id: i });
    // The queue lets go of its timer once the task that settled the last message is over.
    await new Promise((resolve) => setImmediate(resolve));
    const after = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    // At most as many as before (an earlier test's own timer may have ended meanwhile).
    expect(after).toBeLessThanOrEqual(before);
  });
});

describe("rate limiting (token bucket)", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("lets a burst of `capacity` through, rejects the rest, refills over time", async () => {
    const catga = quiet()
      .withRateLimiting({ capacity: 3, refillPerSecond: 2 })
      .handle(Work, ({ id }) => id)
      .build();
    const burst = await Promise.all([1, 2, 3, 4, 5].map((id) => catga.send(Work, { id })));
    expect(burst.map((r) => r.ok)).toEqual([true, true, true, false, false]);
    const rejected = burst[3]!;
    expect(rejected.ok || rejected.error).toMatchObject({
      code: ErrorCodes.RATE_LIMITED,
      details: { retryAfterMs: 500 },
    });
    vi.advanceTimersByTime(500);
    expect((await catga.send(Work, { id: 6 })).ok).toBe(true);
    expect((await catga.send(Work, { id: 7 })).ok).toBe(false);
  });

  it("keeps one bucket per contract unless scope is global", async () => {
    const Other = defineCommand("other").payload<{ id: number }>().returns<number>();
    const build = (scope: "contract" | "global") =>
      quiet()
        .withRateLimiting({ capacity: 1, refillPerSecond: 1, scope })
        .handle(Work, ({ id }) => id)
        .handle(Other, ({ id }) => id)
        .build();
    const perContract = build("contract");
    expect((await perContract.send(Work, { id: 1 })).ok).toBe(true);
    expect((await perContract.send(Other, { id: 1 })).ok).toBe(true);
    const global = build("global");
    expect((await global.send(Work, { id: 1 })).ok).toBe(true);
    expect((await global.send(Other, { id: 1 })).ok).toBe(false);
  });
});

describe("idempotency", () => {
  it("replays the stored result for a repeated messageId without running the handler again", async () => {
    let calls = 0;
    const catga = quiet()
      .withIdempotency()
      .handle(Work, () => ++calls)
      .build();
    const first = await catga.send(Work, { id: 1 }, { messageId: "m-1" });
    const replay = await catga.send(Work, { id: 1 }, { messageId: "m-1" });
    const other = await catga.send(Work, { id: 1 }, { messageId: "m-2" });
    expect([first.unwrap(), replay.unwrap(), other.unwrap()]).toEqual([1, 1, 2]);
    expect(calls).toBe(2);
  });

  it("a duplicate does not inherit the first caller's cancellation: it runs again for itself", async () => {
    let completed = 0;
    const catga = quiet()
      .withIdempotency()
      .withTimeout({ ms: 5_000 })
      .handle(Work, async (_payload, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 40));
        if (ctx.signal.aborted) throw ctx.signal.reason;
        return ++completed;
      })
      .build();
    const first = new AbortController();
    const cancelled = catga.send(Work, { id: 1 }, { messageId: "shared", signal: first.signal });
    const duplicate = catga.send(Work, { id: 1 }, { messageId: "shared" });
    setTimeout(() => first.abort(), 10);
    const [a, b] = await Promise.all([cancelled, duplicate]);
    expect(a.ok || a.error.code).toBe("CATGA_ABORTED");
    expect(b.unwrap()).toBe(1);
    // Stored by the second run: a later repeat replays it.
    expect((await catga.send(Work, { id: 1 }, { messageId: "shared" })).unwrap()).toBe(1);
  });

  it("shares an ABORTED outcome nobody asked for: duplicates do not re-run a handler that aborted itself", async () => {
    let runs = 0;
    const catga = quiet()
      .withIdempotency()
      .handle(Work, async () => {
        runs++;
        await new Promise((resolve) => setTimeout(resolve, 10));
        throw Object.assign(new Error("upstream fetch aborted"), { name: "AbortError" });
      })
      .build();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => catga.send(Work, { id: 1 }, { messageId: "self-aborted" })),
    );
    expect(results.map((r) => r.ok || r.error.code)).toEqual(Array(5).fill("CATGA_ABORTED"));
    expect(runs).toBe(1);
  });

  it("shares one execution between concurrent duplicates", async () => {
    let calls = 0;
    const catga = quiet()
      .withIdempotency()
      .handle(Work, async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return calls;
      })
      .build();
    const results = await Promise.all(
      [1, 2, 3].map(() => catga.send(Work, { id: 1 }, { messageId: "same" })),
    );
    expect(results.map((r) => r.unwrap())).toEqual([1, 1, 1]);
    expect(calls).toBe(1);
  });

  it("does not store failures, so a redelivered failed message runs again", async () => {
    let calls = 0;
    const catga = quiet()
      .withIdempotency()
      .handle(Work, () => {
        calls++;
        if (calls === 1) throw new Error("first try fails");
        return calls;
      })
      .build();
    expect((await catga.send(Work, { id: 1 }, { messageId: "m" })).ok).toBe(false);
    expect((await catga.send(Work, { id: 1 }, { messageId: "m" })).unwrap()).toBe(2);
    expect((await catga.send(Work, { id: 1 }, { messageId: "m" })).unwrap()).toBe(2);
  });

  it("stores a failure the handler returned (its answer): a duplicate gets it without running again", async () => {
    let calls = 0;
    const catga = quiet()
      .withIdempotency()
      .handle(Work, ({ id }) => {
        calls++;
        return err("WORK_REFUSED", `work ${id} refused`, { id });
      })
      .build();
    const first = await catga.send(Work, { id: 7 }, { messageId: "answered" });
    const again = await catga.send(Work, { id: 7 }, { messageId: "answered" });
    expect(calls).toBe(1);
    for (const result of [first, again]) {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatchObject({ code: "WORK_REFUSED", details: { id: 7 } });
    }
  });

  it("in-memory store honours TTL and the size cap", () => {
    vi.useFakeTimers();
    try {
      const store = new InMemoryIdempotencyStore(2);
      store.set("a", { value: 1 }, 1000);
      store.set("b", { value: 2 }, 1000);
      store.set("c", { value: 3 }, 1000);
      expect(store.size).toBe(2);
      expect(store.get("a")).toBeUndefined();
      expect(store.get("c")).toEqual({ value: 3 });
      vi.advanceTimersByTime(1000);
      expect(store.get("b")).toBeUndefined();
      expect(store.get("c")).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it("works with a pluggable async store", async () => {
    const data = new Map<string, { value: unknown }>();
    const store = {
      get: async (key: string) => data.get(key),
      set: async (key: string, outcome: { value: unknown }) => {
        data.set(key, outcome);
      },
    };
    let calls = 0;
    const catga = quiet()
      .withIdempotency({ store, ttlMs: 60_000 })
      .handle(Work, () => ++calls)
      .build();
    await catga.send(Work, { id: 1 }, { messageId: "x" });
    await catga.send(Work, { id: 1 }, { messageId: "x" });
    expect(calls).toBe(1);
    expect([...data.keys()]).toEqual(["work.do:x"]);
  });
});

describe("logging", () => {
  function captureLogger() {
    const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const at =
      (level: string) =>
      (message: string, fields?: Record<string, unknown>): void => {
        lines.push({ level, message, fields });
      };
    const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
    return { logger, lines };
  }

  it("logs a failure other than a handler's at warn by default, at error when asked", async () => {
    const Checked = defineCommand("checked.do", z.object({ id: z.number() })).returns<number>();
    for (const [options, level] of [
      [undefined, "warn"],
      [{ failureLevel: "error" as const }, "error"],
    ] as const) {
      const { logger, lines } = captureLogger();
      const catga = createCatga({ logger })
        .withLogging(options)
        .withValidation()
        .handle(Checked, ({ id }) => id)
        .build();
      const result = await catga.send(Checked, { id: "not a number" } as never);
      expect(result.ok || result.error.code).toBe(ErrorCodes.VALIDATION);
      expect(lines.map((l) => [l.level, l.message])).toEqual([[level, "command checked.do failed"]]);
    }
  });

  it("logs each message with ids and outcome", async () => {
    const { logger, lines } = captureLogger();
    const catga = createCatga({ logger })
      .withLogging({ successLevel: "info" })
      .handle(Work, ({ id }) => {
        if (id < 0) throw new Error("negative");
        return id;
      })
      .build();
    await catga.send(Work, { id: 1 }, { messageId: "m-1" });
    await catga.send(Work, { id: -1 }, { messageId: "m-2" });
    expect(lines).toMatchObject([
      { level: "info", message: "command work.do ok", fields: { messageId: "m-1", correlationId: "m-1" } },
      {
        level: "error",
        message: "command work.do failed",
        fields: { messageId: "m-2", code: "CATGA_HANDLER_FAILED" },
      },
    ]);
    expect(lines[0]!.fields!.payload).toBeUndefined();
  });

  it("a logger that throws changes no outcome and is reported once as a warning", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const broken = () => {
        throw new Error("log sink down");
      };
      const catga = createCatga({ logger: { debug: broken, info: broken, warn: broken, error: broken } })
        .withLogging()
        .handle(Work, ({ id }) => {
          if (id < 0) throw new Error("negative");
          return id;
        })
        .build();
      expect((await catga.send(Work, { id: 1 })).unwrap()).toBe(1);
      const failed = await catga.send(Work, { id: -1 });
      expect(failed.ok || failed.error.code).toBe(ErrorCodes.HANDLER_FAILED);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain("log sink down");
    } finally {
      warn.mockRestore();
    }
  });
});

describe("pipeline order", () => {
  it("runs behaviors by priority (high first), equal priorities in registration order", async () => {
    const order: string[] = [];
    const tag = (name: string, priority: number) =>
      defineBehavior({
        name,
        priority,
        create: () => async (payload, ctx, next) => {
          order.push(name);
          return next(payload, ctx);
        },
      });
    const catga = quiet()
      .use(tag("low", 10))
      .withRetry()
      .use(tag("high", 2000))
      .use(tag("tie-a", 10))
      .withLogging()
      .withTimeout()
      .withValidation()
      .withRateLimiting()
      .withIdempotency()
      .withCircuitBreaker()
      .handle(Work, ({ id }) => id)
      .build();
    await catga.send(Work, { id: 1 });
    expect(order).toEqual(["high", "low", "tie-a"]);
    expect(catga.describe()).toEqual([
      {
        kind: "command",
        type: "work.do",
        handler: "handler#0",
        // validation is skipped: the contract has no schema
        steps: [
          "high",
          "logging",
          "idempotency",
          "retry",
          "circuitBreaker",
          "rateLimit",
          "timeout",
          "low",
          "tie-a",
          "handler",
        ],
      },
    ]);
  });

  it("a later with* call replaces the earlier behavior of the same name (e.g. from a preset)", () => {
    const catga = createCatga({ preset: "production", logger: silentLogger })
      .withRetry({ maxAttempts: 7, priority: 100 })
      .handle(Work, ({ id }) => id)
      .build();
    expect(catga.describe()[0]!.steps).toEqual(["logging", "circuitBreaker", "timeout", "retry", "handler"]);
  });

  it("event handlers each get their own pipeline (own breaker, own retry)", async () => {
    const Ping = defineEvent("ping").payload<number>();
    let flaky = 0;
    const catga = quiet()
      .withRetry({ maxAttempts: 2, baseDelayMs: 0 })
      .handle(Ping, function stable() {})
      .handle(Ping, function flakyOnce() {
        if (flaky++ === 0) throw new Error("once");
      })
      .build();
    expect((await catga.publish(Ping, 1)).unwrap()).toEqual({ handled: 2 });
    expect(catga.describe().map((d) => d.handler)).toEqual(["stable", "flakyOnce"]);
  });
});

describe("custom behaviors that misbehave", () => {
  it("a throwing or rejecting custom behavior becomes an error Result, never a rejection", async () => {
    const throwing = defineBehavior({
      name: "throws",
      priority: 10,
      create: () => () => {
        throw new Error("sync bug");
      },
    });
    const rejecting = defineBehavior({
      name: "rejects",
      priority: 10,
      create: () => () => Promise.reject(new Error("async bug")),
    });
    for (const behavior of [throwing, rejecting]) {
      const catga = quiet()
        .use(behavior)
        .handle(Work, ({ id }) => id)
        .build();
      const result = await catga.send(Work, { id: 1 });
      expect(result.ok || result.error.code).toBe(ErrorCodes.HANDLER_FAILED);
    }
  });
});

describe("validation with a schema that throws", () => {
  it("reports CATGA_VALIDATION instead of rejecting", async () => {
    // A hand-written Standard Schema whose validate rejects. (A zod async refine that throws also
    // leaves an unhandled rejection inside zod's own sync-then-async attempt, which is zod's, not ours.)
    const throwing: StandardSchemaV1<number> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: async () => {
          throw new Error("refinement bug");
        },
      },
    };
    const Odd = defineCommand("odd", throwing).returns<number>();
    const catga = quiet()
      .withValidation()
      .handle(Odd, (n) => n)
      .build();
    const result = await catga.send(Odd, 1);
    expect(result.ok || result.error.code).toBe(ErrorCodes.VALIDATION);
    expect(result.ok || result.error.message).toContain("refinement bug");
    // The same shape as any validation failure: details.issues.
    expect(result.ok || result.error.details).toMatchObject({ issues: [{ path: "" }] });
  });

  it("accepts a schema that is a function carrying ~standard (as arktype's are)", async () => {
    const schema = Object.assign(() => undefined, {
      "~standard": {
        version: 1 as const,
        vendor: "callable",
        validate: (value: unknown) =>
          typeof value === "number" ? { value } : { issues: [{ message: "not a number", path: [] }] },
      },
    });
    const Callable = defineCommand("callable", schema as StandardSchemaV1<number>).returns<number>();
    const catga = quiet()
      .withValidation()
      .handle(Callable, (n) => n * 2)
      .build();
    expect((await catga.send(Callable, 21)).unwrap()).toBe(42);
    expect((await catga.send(Callable, "x" as never)).ok).toBe(false);
  });
});

describe("validation of events", () => {
  it("runs the schema once per publish, however many handlers there are", async () => {
    let checks = 0;
    const Counted = defineEvent(
      "counted",
      z.object({ n: z.number() }).refine(() => {
        checks++;
        return true;
      }),
    );
    const seen: number[] = [];
    const catga = quiet()
      .withValidation()
      .handle(Counted, ({ n }) => {
        seen.push(n);
      })
      .handle(Counted, ({ n }) => {
        seen.push(n * 10);
      })
      .handle(Counted, ({ n }) => {
        seen.push(n * 100);
      })
      .build();
    expect((await catga.publish(Counted, { n: 1 })).unwrap()).toEqual({ handled: 3 });
    expect((await catga.publish(Counted, { n: 2 })).unwrap()).toEqual({ handled: 3 });
    expect(checks).toBe(2);
    expect(seen.sort((a, b) => a - b)).toEqual([1, 2, 10, 20, 100, 200]);
    const bad = await catga.publish(Counted, { n: "x" } as never);
    expect(bad.ok || bad.error.details).toMatchObject({ handled: 0 });
  });
});

describe("built-in behaviors around a handler that answers at once", () => {
  it("answers CATGA_ABORTED when the caller's signal aborts while a synchronous handler runs", async () => {
    const controller = new AbortController();
    const catga = quiet()
      .withTimeout({ ms: 1000 })
      .handle(Work, ({ id }) => {
        controller.abort(new Error("caller gave up"));
        return id;
      })
      .build();
    const result = await catga.send(Work, { id: 1 }, { signal: controller.signal });
    expect(result.ok || result.error.code).toBe(ErrorCodes.ABORTED);
  });

  it("hands custom behaviors a promise from the built-in steps inside them", async () => {
    const seen: string[] = [];
    const outer = defineBehavior({
      name: "outer",
      priority: 10_000,
      create: () => (payload, ctx, next) => {
        const inner = next(payload, ctx);
        seen.push(inner instanceof Promise ? "promise" : "value");
        return inner.then((result) => result);
      },
    });
    const catga = createCatga({ logger: silentLogger, preset: "production" })
      .use(outer)
      .handle(Work, ({ id }) => id * 2)
      .build();
    expect((await catga.send(Work, { id: 21 })).unwrap()).toBe(42);
    expect(seen).toEqual(["promise"]);
  });

  it("counts consecutive synchronous failures and opens the breaker, then rejects at once", async () => {
    let calls = 0;
    const catga = quiet()
      .withCircuitBreaker({ failureThreshold: 2, resetTimeoutMs: 60_000 })
      .handle(Work, () => {
        calls++;
        throw new Error("down");
      })
      .build();
    await catga.send(Work, { id: 1 });
    await catga.send(Work, { id: 2 });
    const third = await catga.send(Work, { id: 3 });
    expect(third.ok || third.error.code).toBe(ErrorCodes.CIRCUIT_OPEN);
    expect(calls).toBe(2);
  });
});

describe("built-in behaviors around another realm's promise (found by a reviewer)", () => {
  const ForeignPromise = vm.runInNewContext("Promise") as PromiseConstructor;
  // A custom behavior inside the built-ins that hands back a promise of another realm.
  const foreign = defineBehavior({
    name: "foreign",
    priority: 10,
    create: () => (payload, ctx, next) => ForeignPromise.resolve(next(payload, ctx)) as never,
  });

  it("logging, retry and the breaker wait for it instead of reading it as a Result", async () => {
    const lines: string[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: (message) => lines.push(message),
      warn: (message) => lines.push(message),
      error: (message) => lines.push(message),
    };
    const catga = createCatga({ logger })
      .withLogging({ successLevel: "info" })
      .withRetry({ maxAttempts: 2, baseDelayMs: 0 })
      .withCircuitBreaker()
      .use(foreign)
      .handle(Work, ({ id }) => id * 3)
      .build();
    expect((await catga.send(Work, { id: 5 })).unwrap()).toBe(15);
    expect(lines).toEqual(["command work.do ok"]);
  });

  it("the timeout still answers CATGA_TIMEOUT through it", async () => {
    const catga = quiet()
      .withTimeout({ ms: 30 })
      .use(foreign)
      .handle(Work, async () => {
        await new Promise((resolve) => setTimeout(resolve, 150));
        return 1;
      })
      .build();
    const result = await catga.send(Work, { id: 1 });
    expect(result.ok || result.error.code).toBe(ErrorCodes.TIMEOUT);
  });
});

describe("custom behaviors answering with bare thenables (found by a reviewer)", () => {
  // A thenable whose `then` calls back and returns nothing, as some libraries' do.
  const bare = defineBehavior({
    name: "bare-thenable",
    priority: 10,
    create: () => (payload, ctx, next) =>
      ({
        // biome-ignore lint/suspicious/noThenProperty: a bare thenable is the case under test
        then(resolve: (value: unknown) => void) {
          next(payload, ctx).then(resolve);
        },
      }) as never,
  });

  it("is awaited alone and inside built-ins: the send resolves to the handler's Result", async () => {
    const alone = quiet()
      .use(bare)
      .handle(Work, ({ id }) => id + 1)
      .build();
    expect((await alone.send(Work, { id: 1 })).unwrap()).toBe(2);
    const wrapped = quiet()
      .withLogging()
      .withRetry()
      .use(bare)
      .handle(Work, ({ id }) => id + 2)
      .build();
    expect((await wrapped.send(Work, { id: 1 })).unwrap()).toBe(3);
  });
});

describe("behaviors: guards a mutation pass showed missing (issue 21)", () => {
  afterEach(() => vi.useRealTimers());

  it("retry jitter 'equal' waits half the delay plus a random half (random 0: exactly half)", async () => {
    vi.useFakeTimers();
    let calls = 0;
    const catga = quiet()
      .withRetry({ maxAttempts: 2, baseDelayMs: 40, jitter: "equal", random: () => 0 })
      .handle(Work, () => {
        calls++;
        if (calls === 1) throw new Error("transient");
        return calls;
      })
      .build();
    const sent = catga.send(Work, { id: 1 });
    await vi.advanceTimersByTimeAsync(19);
    expect(calls).toBe(1); // full jitter with random 0 would have retried at once
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2); // no jitter would still wait until 40 ms
    expect((await sent).unwrap()).toBe(2);
  });

  it("the circuit breaker opens on N consecutive failures: a success in between starts over", async () => {
    let fail = true;
    let calls = 0;
    const catga = quiet()
      .withCircuitBreaker({ failureThreshold: 3, resetTimeoutMs: 60_000 })
      .handle(Work, () => {
        calls++;
        if (fail) throw new Error("down");
        return 1;
      })
      .build();
    for (const outcome of [true, true, false, true, true]) {
      fail = outcome;
      await catga.send(Work, { id: 1 });
    }
    // Four failures in all, never three in a row: still closed, the handler runs.
    fail = false;
    expect((await catga.send(Work, { id: 2 })).ok).toBe(true);
    expect(calls).toBe(6);
  });

  it("the circuit breaker counts only the codes in failureOn", async () => {
    let code = "ORDERS_SLOW";
    const catga = quiet()
      .withCircuitBreaker({ failureThreshold: 2, resetTimeoutMs: 60_000, failureOn: ["ORDERS_DOWN"] })
      .handle(Work, () => {
        throw new CatgaError(code, "no");
      })
      .build();
    await catga.send(Work, { id: 1 });
    await catga.send(Work, { id: 2 });
    const third = await catga.send(Work, { id: 3 });
    expect(third.ok || third.error.code).toBe("ORDERS_SLOW"); // not counted: still closed
    code = "ORDERS_DOWN";
    await catga.send(Work, { id: 4 });
    await catga.send(Work, { id: 5 });
    const opened = await catga.send(Work, { id: 6 });
    expect(opened.ok || opened.error.code).toBe(ErrorCodes.CIRCUIT_OPEN);
  });
});
