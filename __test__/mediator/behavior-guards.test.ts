import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import {
  CatgaConfigError,
  CatgaError,
  createCatga,
  defineCommand,
  defineEvent,
  ErrorCodes,
  err,
  InMemoryIdempotencyStore,
  type Logger,
  silentLogger,
} from "../../ts/index.js";
import { type Deadline, DeadlineQueue } from "../../ts/mediator/behaviors/deadlines.js";
import { sleep } from "../../ts/mediator/behaviors/sleep.js";
import { NEVER_ABORTED } from "../../ts/mediator/context.js";

// Behaviours of the built-in steps that a mutation pass (issue 21, `npm run test:mutation`) found
// nothing guarding. Each test fails when the behaviour it names is changed.

const Work = defineCommand("guard.work").payload<{ id: number }>().returns<number>();
const quiet = () => createCatga({ logger: silentLogger });

/** True once `promise` settled, checked after the microtasks queued so far have run. */
async function settledWithinMicrotasks(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => {
    settled = true;
  });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return settled;
}

const refTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
const nextTask = () => new Promise((resolve) => setImmediate(resolve));

/** Sends once to a handler that fails its first attempt; returns when the retry ran (ms). */
async function retryTime(options: Parameters<ReturnType<typeof quiet>["withRetry"]>[0]): Promise<number> {
  vi.useFakeTimers();
  let calls = 0;
  let retriedAt = -1;
  const started = Date.now();
  const catga = quiet()
    .withRetry(options)
    .handle(Work, () => {
      calls++;
      if (calls === 1) throw new Error("transient");
      retriedAt = Date.now() - started;
      return calls;
    })
    .build();
  const sent = catga.send(Work, { id: 1 });
  for (let t = 0; t < 400 && retriedAt < 0; t++) await vi.advanceTimersByTimeAsync(1);
  await sent;
  return retriedAt;
}

describe("sleep", () => {
  it("resolves without a timer for 0 ms and for an aborted signal", async () => {
    expect(await settledWithinMicrotasks(sleep(0, NEVER_ABORTED))).toBe(true);
    expect(await settledWithinMicrotasks(sleep(-5, NEVER_ABORTED))).toBe(true);
    expect(await settledWithinMicrotasks(sleep(60_000, AbortSignal.abort()))).toBe(true);
    expect(await settledWithinMicrotasks(sleep(1, NEVER_ABORTED))).toBe(false);
  });

  it("ends early when its signal aborts, leaving neither listener nor timer", async () => {
    const controller = new AbortController();
    const armed = vi.spyOn(globalThis, "setTimeout");
    const cleared = vi.spyOn(globalThis, "clearTimeout");
    try {
      const slept = sleep(60_000, controller.signal);
      const timer = armed.mock.results[0]!.value as NodeJS.Timeout;
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
      expect(await settledWithinMicrotasks(slept)).toBe(false);
      controller.abort();
      expect(await settledWithinMicrotasks(slept)).toBe(true);
      expect(cleared).toHaveBeenCalledWith(timer);
    } finally {
      armed.mockRestore();
      cleared.mockRestore();
    }
  });

  it("removes its abort listener when the time is up", async () => {
    const controller = new AbortController();
    await sleep(2, controller.signal);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("adds no listener to the signal that never aborts", async () => {
    const slept = sleep(2, NEVER_ABORTED);
    expect(getEventListeners(NEVER_ABORTED, "abort")).toHaveLength(0);
    await slept;
  });
});

describe("deadline queue", () => {
  afterEach(() => vi.useRealTimers());

  const entry = (expired: string[], name: string): Deadline => ({
    deadline: 0,
    done: false,
    expire() {
      expired.push(name);
    },
  });

  it("expires each entry no earlier than its budget and at most two ticks (10 %) later, skipping settled ones", async () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const queue = new DeadlineQueue(100); // ticks of 5 ms
    const a = entry(expired, "a");
    const b = entry(expired, "b");
    const c = entry(expired, "c");
    queue.add(a);
    await vi.advanceTimersByTimeAsync(50);
    queue.add(b);
    queue.add(c);
    queue.settle(c);
    await vi.advanceTimersByTimeAsync(49);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(11);
    expect(expired).toEqual(["a"]); // by 110 ms
    expect(a.done).toBe(true);
    await vi.advanceTimersByTimeAsync(39);
    expect(expired).toEqual(["a"]); // b not before 150 ms
    await vi.advanceTimersByTimeAsync(11);
    expect(expired).toEqual(["a", "b"]); // by 160 ms
    await vi.advanceTimersByTimeAsync(500);
    expect(expired).toEqual(["a", "b"]); // c was settled
  });

  it("is never early for an entry added just before a tick", async () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const queue = new DeadlineQueue(100);
    queue.add(entry(expired, "first"));
    await vi.advanceTimersByTimeAsync(4); // 1 ms before the first tick
    queue.add(entry(expired, "late"));
    await vi.advanceTimersByTimeAsync(99); // "late" is 99 ms old
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(11); // within two ticks of its budget
    expect(expired).toEqual(["first", "late"]);
  });

  it("ticks at least once per millisecond for tiny budgets", async () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const queue = new DeadlineQueue(3);
    queue.add(entry(expired, "tiny"));
    await vi.advanceTimersByTimeAsync(2);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(3);
    expect(expired).toEqual(["tiny"]);
  });

  it("stops its timer after a whole budget with nothing in flight", async () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(100);
    const one = entry([], "one");
    queue.add(one);
    queue.settle(one);
    await vi.advanceTimersByTimeAsync(50);
    expect(vi.getTimerCount()).toBe(1); // idle for half a budget: kept (unref'd)
    await vi.advanceTimersByTimeAsync(55);
    expect(vi.getTimerCount()).toBe(0);
    const two: string[] = [];
    queue.add(entry(two, "two"));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(110);
    expect(two).toEqual(["two"]);
  });

  it("a settled entry stays settled: settling twice changes nothing", async () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const queue = new DeadlineQueue(10);
    const a = entry(expired, "a");
    const b = entry(expired, "b");
    queue.add(a);
    queue.add(b);
    queue.settle(a);
    queue.settle(a);
    await vi.advanceTimersByTimeAsync(12);
    expect(expired).toEqual(["b"]);
  });

  /** The queue's own timer: absent, held (keeps the process alive) or let go (unref'd). */
  const timerOf = (queue: DeadlineQueue): "none" | "held" | "let go" => {
    const timer = (queue as unknown as { timer?: NodeJS.Timeout }).timer;
    return timer === undefined ? "none" : timer.hasRef() ? "held" : "let go";
  };

  it("lets go of its timer when idle and takes it back on the next entry", async () => {
    const queue = new DeadlineQueue(60_000);
    const first = entry([], "first");
    queue.add(first);
    expect(timerOf(queue)).toBe("held");
    queue.settle(first);
    // Still held until the task that settled the last entry is over.
    expect(timerOf(queue)).toBe("held");
    await nextTask();
    expect(timerOf(queue)).toBe("let go");
    const second = entry([], "second");
    queue.add(second);
    expect(timerOf(queue)).toBe("held");
    queue.settle(second);
    await nextTask();
    expect(timerOf(queue)).toBe("let go");
  });

  it("stays armed while one entry is still in flight", async () => {
    const queue = new DeadlineQueue(60_000);
    const done = entry([], "done");
    const open = entry([], "open");
    queue.add(done);
    queue.add(open);
    queue.settle(done);
    await nextTask();
    expect(timerOf(queue)).toBe("held");
    queue.settle(open);
    await nextTask();
    expect(timerOf(queue)).toBe("let go");
  });

  it("forgets settled entries while others stay in flight, and still expires the rest in order", async () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const queue = new DeadlineQueue(100);
    const held = entry(expired, "held");
    queue.add(held);
    const settledOnes: Deadline[] = [];
    for (let i = 0; i < 3000; i++) {
      const one = entry(expired, `s${i}`);
      settledOnes.push(one);
      queue.add(one);
      queue.settle(one);
    }
    const last = entry(expired, "last");
    queue.add(last);
    // Compaction keeps memory near the number in flight (2), not the 3,002 ever added.
    expect((queue as unknown as { entries: unknown[] }).entries.length).toBeLessThan(1100);
    await vi.advanceTimersByTimeAsync(110);
    expect(expired).toEqual(["held", "last"]);
  });
});

describe("timeout guards", () => {
  it("a synchronous answer takes no deadline entry, so the queue still goes idle after async ones", async () => {
    const Mixed = defineCommand("guard.mixed").payload<{ async: boolean }>().returns<number>();
    const catga = quiet()
      .withTimeout({ ms: 60_000 })
      .handle(Mixed, (p) => (p.async ? Promise.resolve(2) : 1))
      .build();
    const before = refTimers();
    for (let i = 0; i < 20; i++) expect((await catga.send(Mixed, { async: false })).unwrap()).toBe(1);
    expect((await catga.send(Mixed, { async: true })).unwrap()).toBe(2);
    await nextTask();
    expect(refTimers()).toBeLessThanOrEqual(before);
  });

  it("a caller abort during a synchronous handler answers CATGA_ABORTED", async () => {
    const controller = new AbortController();
    let handlerSignal: AbortSignal | undefined;
    const catga = quiet()
      .withTimeout({ ms: 1000 })
      .handle(Work, ({ id }, ctx) => {
        handlerSignal = ctx.signal;
        controller.abort(); // e.g. the caller gave up while the handler ran
        return id;
      })
      .build();
    const result = await catga.send(Work, { id: 1 }, { signal: controller.signal });
    expect(result.ok || result.error.code).toBe(ErrorCodes.ABORTED);
    expect(handlerSignal?.aborted).toBe(true);
  });

  it("an already aborted caller signal runs no handler", async () => {
    let calls = 0;
    const catga = quiet()
      .withTimeout({ ms: 1000 })
      .handle(Work, ({ id }) => {
        calls++;
        return id;
      })
      .build();
    const result = await catga.send(Work, { id: 1 }, { signal: AbortSignal.abort() });
    expect(result.ok || result.error.code).toBe(ErrorCodes.ABORTED);
    expect(calls).toBe(0);
  });

  it("removes its listener from the caller's signal once the handler answered", async () => {
    const controller = new AbortController();
    const catga = quiet()
      .withTimeout({ ms: 1000 })
      .handle(Work, async ({ id }) => id)
      .build();
    for (let i = 0; i < 3; i++) await catga.send(Work, { id: i }, { signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("the timeout error names the type and the budget, and the handler sees the same reason", async () => {
    let reason: unknown;
    const catga = quiet()
      .withTimeout({ ms: 15 })
      .handle(
        Work,
        (_p, ctx) =>
          new Promise<number>(() => {
            ctx.signal.addEventListener("abort", () => {
              reason = ctx.signal.reason;
            });
          }),
      )
      .build();
    const result = await catga.send(Work, { id: 1 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.message).toBe("guard.work timed out after 15 ms");
    expect(result.error.details).toEqual({ timeoutMs: 15 });
    expect(reason).toBeInstanceOf(CatgaError);
    expect((reason as CatgaError).message).toBe("guard.work timed out after 15 ms");
  });

  it("a signal read after the deadline is already aborted", async () => {
    let late: AbortSignal | undefined;
    const catga = quiet()
      .withTimeout({ ms: 10 })
      .handle(Work, async (_p, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 40));
        late = ctx.signal; // first read, after the budget ran out
        return 1;
      })
      .build();
    const result = await catga.send(Work, { id: 1 });
    expect(result.ok || result.error.code).toBe(ErrorCodes.TIMEOUT);
    await vi.waitFor(() => expect(late).toBeDefined());
    expect(late!.aborted).toBe(true);
    expect(late!.reason).toMatchObject({ code: ErrorCodes.TIMEOUT });
  });
});

describe("retry guards", () => {
  afterEach(() => vi.useRealTimers());

  it("a random source outside [0, 1) takes the full delay", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const base = { maxAttempts: 2, baseDelayMs: 40, jitter: "full" as const };
      expect(await retryTime({ ...base, random: () => 5 })).toBe(40);
      expect(await retryTime({ ...base, random: () => -1 })).toBe(40);
      expect(await retryTime({ ...base, random: () => Number.NaN })).toBe(40);
      expect(await retryTime({ ...base, random: () => 0.5 })).toBe(20);
      expect(
        await retryTime({
          ...base,
          random: () => {
            throw new Error("no entropy");
          },
        }),
      ).toBe(40);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain("no entropy");
    } finally {
      warn.mockRestore();
    }
  });

  it("delays grow by the factor and stop at maxDelayMs", async () => {
    vi.useFakeTimers();
    const times: number[] = [];
    const started = Date.now();
    const catga = quiet()
      .withRetry({ maxAttempts: 4, baseDelayMs: 10, factor: 3, maxDelayMs: 50, jitter: "none" })
      .handle(Work, () => {
        times.push(Date.now() - started);
        throw new Error("always");
      })
      .build();
    const sent = catga.send(Work, { id: 1 });
    await vi.advanceTimersByTimeAsync(200);
    const result = await sent;
    expect(result.ok || result.error.code).toBe(ErrorCodes.HANDLER_FAILED);
    // Attempts at 0, +10, +30, then +50 (90 capped to 50).
    expect(times).toEqual([0, 10, 40, 90]);
  });

  it("retries only the codes in retryOn", async () => {
    let calls = 0;
    const catga = quiet()
      .withRetry({ maxAttempts: 3, baseDelayMs: 0, retryOn: ["ORDERS_BUSY"] })
      .handle(Work, ({ id }) => {
        calls++;
        throw new CatgaError(id === 1 ? "ORDERS_BUSY" : "ORDERS_GONE", "no");
      })
      .build();
    await catga.send(Work, { id: 1 });
    expect(calls).toBe(3);
    calls = 0;
    await catga.send(Work, { id: 2 });
    expect(calls).toBe(1);
  });

  it("stops retrying once the caller's signal aborts", async () => {
    const controller = new AbortController();
    let calls = 0;
    const catga = quiet()
      .withRetry({ maxAttempts: 5, baseDelayMs: 0 })
      .handle(Work, () => {
        calls++;
        controller.abort();
        throw new Error("failing");
      })
      .build();
    await catga.send(Work, { id: 1 }, { signal: controller.signal });
    expect(calls).toBe(1);
  });

  it("an abort during the backoff ends the wait and runs no further attempt", async () => {
    const controller = new AbortController();
    let calls = 0;
    const catga = quiet()
      .withRetry({ maxAttempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000, jitter: "none" })
      .handle(Work, () => {
        calls++;
        throw new Error("failing");
      })
      .build();
    const sent = catga.send(Work, { id: 1 }, { signal: controller.signal });
    await vi.waitFor(() => expect(calls).toBe(1));
    controller.abort();
    const result = await sent;
    expect(result.ok || result.error.code).toBe(ErrorCodes.HANDLER_FAILED);
    expect(calls).toBe(1);
  });
});

describe("logging guards", () => {
  function captureLogger() {
    const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const at =
      (level: string) =>
      (message: string, fields?: Record<string, unknown>): void => {
        lines.push({ level, message, fields: fields ?? {} });
      };
    const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
    return { logger, lines };
  }

  it("writes every field of an entry, the payload only when asked", async () => {
    const { logger, lines } = captureLogger();
    const catga = createCatga({ logger })
      .withLogging({ logPayload: true })
      .handle(Work, async ({ id }) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return id;
      })
      .build();
    await catga.send(Work, { id: 7 }, { messageId: "m-7", correlationId: "c-7", causationId: "k-7" });
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line!.level).toBe("debug"); // the default success level
    expect(line!.message).toBe("command guard.work ok");
    expect(line!.fields).toMatchObject({
      type: "guard.work",
      kind: "command",
      messageId: "m-7",
      correlationId: "c-7",
      causationId: "k-7",
      handler: undefined,
      payload: { id: 7 },
    });
    const duration = line!.fields.durationMs as number;
    expect(duration).toBeGreaterThanOrEqual(4);
    expect(duration).toBeLessThan(10_000);
    expect(Math.round(duration * 1000)).toBe(duration * 1000); // µs precision, no more
  });

  it("names the handler of an event and logs nothing for a success at 'off'", async () => {
    const Seen = defineEvent("guard.seen").payload<{ id: number }>();
    const { logger, lines } = captureLogger();
    const catga = createCatga({ logger })
      .withLogging({ successLevel: "off" })
      .handle(Seen, function audit({ id }) {
        if (id < 0) throw new CatgaError("AUDIT_REFUSED", "negative");
      })
      .build();
    await catga.publish(Seen, { id: 1 });
    expect(lines).toEqual([]);
    await catga.publish(Seen, { id: -1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "warn",
      message: "event guard.seen failed",
      fields: { kind: "event", handler: "audit", code: "AUDIT_REFUSED", error: "negative" },
    });
    expect(lines[0]!.fields.payload).toBeUndefined();
  });

  it("at 'off', times a failure from when its handler went asynchronous, and a synchronous one as 0", async () => {
    const { logger, lines } = captureLogger();
    const catga = createCatga({ logger })
      .withLogging({ successLevel: "off" })
      .handle(Work, ({ id }) => {
        if (id === 0) return err("ORDERS_REFUSED", "at once");
        return new Promise<never>((_, reject) =>
          setTimeout(() => reject(new CatgaError("ORDERS_GONE", "later")), 5),
        );
      })
      .build();
    await catga.send(Work, { id: 0 });
    await catga.send(Work, { id: 1 });
    expect(lines.map((l) => [l.fields.code, l.fields.messageId !== undefined])).toEqual([
      ["ORDERS_REFUSED", true],
      ["ORDERS_GONE", true],
    ]);
    expect(lines[0]!.fields.durationMs).toBe(0);
    const late = lines[1]!.fields.durationMs as number;
    expect(late).toBeGreaterThanOrEqual(4);
    expect(late).toBeLessThan(10_000);
  });

  it("logs an asynchronous handler's failure with its code and message", async () => {
    const { logger, lines } = captureLogger();
    const catga = createCatga({ logger })
      .withLogging({ successLevel: "info", failureLevel: "error" })
      .handle(Work, async () => {
        throw new CatgaError("ORDERS_GONE", "gone");
      })
      .build();
    await catga.send(Work, { id: 1 });
    expect(lines).toMatchObject([
      {
        level: "error",
        message: "command guard.work failed",
        fields: { code: "ORDERS_GONE", error: "gone" },
      },
    ]);
  });
});

describe("guards from the second mutation pass (messages, option checks, warnings)", () => {
  afterEach(() => vi.useRealTimers());

  const quietWarnings = () => vi.spyOn(process, "emitWarning").mockImplementation(() => {});

  it("retry 'equal' jitter: half the delay plus random × half (random 0.5 → 30 of 40 ms)", async () => {
    expect(await retryTime({ maxAttempts: 2, baseDelayMs: 40, jitter: "equal", random: () => 0.5 })).toBe(30);
  });

  it("retry: a random source that is not a number takes the full delay, and warnings name the source", async () => {
    vi.useFakeTimers();
    const warn = quietWarnings();
    try {
      expect(
        await retryTime({ maxAttempts: 2, baseDelayMs: 40, random: () => "0.5" as unknown as number }),
      ).toBe(40);
      const throwing = quiet()
        .withRetry({
          maxAttempts: 2,
          baseDelayMs: 1,
          random: () => {
            throw new Error("no entropy");
          },
        })
        .handle(Work, () => {
          throw new Error("always");
        })
        .build();
      const failing = throwing.send(Work, { id: 2 });
      await vi.advanceTimersByTimeAsync(10);
      await failing;
      expect(String(warn.mock.calls[0]![0])).toContain("retry random()");
    } finally {
      warn.mockRestore();
    }
  });

  it("retry: maxDelayMs alone, or baseDelayMs alone within the default cap, builds", () => {
    expect(() =>
      quiet()
        .withRetry({ maxDelayMs: 10 })
        .handle(Work, ({ id }) => id)
        .build(),
    ).not.toThrow();
    expect(() =>
      quiet()
        .withRetry({ baseDelayMs: 5 })
        .handle(Work, ({ id }) => id)
        .build(),
    ).not.toThrow();
  });

  it("timeout: the aborted answer and the timeout reason carry their message and details", async () => {
    const controller = new AbortController();
    const catga = quiet()
      .withTimeout({ ms: 1000 })
      .handle(Work, () => new Promise<number>(() => undefined))
      .build();
    const pending = catga.send(Work, { id: 1 }, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const aborted = await pending;
    expect(aborted.ok || aborted.error.message).toBe("The operation was aborted");

    let reason: unknown;
    const timing = quiet()
      .withTimeout({ ms: 10 })
      .handle(
        Work,
        (_p, ctx) =>
          new Promise<number>(() => {
            ctx.signal.addEventListener("abort", () => {
              reason = ctx.signal.reason;
            });
          }),
      )
      .build();
    await timing.send(Work, { id: 2 });
    expect(reason).toBeInstanceOf(CatgaError);
    expect((reason as CatgaError).details).toEqual({ timeoutMs: 10 });
  });

  it("timeout: a synchronous answer also removes its listener from the caller's signal", async () => {
    const controller = new AbortController();
    const catga = quiet()
      .withTimeout({ ms: 1000 })
      .handle(Work, ({ id }) => id)
      .build();
    for (let i = 0; i < 3; i++) await catga.send(Work, { id: i }, { signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("timeout: a perType that is not an object is one issue, not one per character", () => {
    try {
      quiet()
        .withTimeout({ perType: "abc" as never })
        .handle(Work, ({ id }) => id)
        .build();
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CatgaConfigError);
      const paths = (error as CatgaConfigError).issues.map((i) => i.path);
      expect(paths).toEqual(["timeout.perType"]);
    }
  });

  it("circuit breaker: the open answer names the circuit; a throwing onStateChange is reported by name", async () => {
    const warn = quietWarnings();
    try {
      const catga = quiet()
        .withCircuitBreaker({
          failureThreshold: 1,
          resetTimeoutMs: 60_000,
          onStateChange: () => {
            throw new Error("observer down");
          },
        })
        .handle(Work, () => {
          throw new Error("down");
        })
        .build();
      await catga.send(Work, { id: 1 });
      const open = await catga.send(Work, { id: 2 });
      expect(open.ok || open.error.message).toBe("Circuit for guard.work is open");
      expect(String(warn.mock.calls[0]![0])).toContain("circuitBreaker.onStateChange");
    } finally {
      warn.mockRestore();
    }
  });

  it("circuit breaker without onStateChange changes state without warnings", async () => {
    const warn = quietWarnings();
    try {
      const catga = quiet()
        .withCircuitBreaker({ failureThreshold: 1, resetTimeoutMs: 60_000 })
        .handle(Work, () => {
          throw new Error("down");
        })
        .build();
      await catga.send(Work, { id: 1 });
      await catga.send(Work, { id: 2 });
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it("rate limiting: the refusal names what was limited", async () => {
    const catga = quiet()
      .withRateLimiting({ capacity: 1, refillPerSecond: 0.001 })
      .handle(Work, ({ id }) => id)
      .build();
    await catga.send(Work, { id: 1 });
    const refused = await catga.send(Work, { id: 2 });
    expect(refused.ok || refused.error.message).toBe("Rate limit exceeded for guard.work");
  });

  it("logging: failureLevel 'warn' can be set explicitly, and 'off' writes no success entry or warning", async () => {
    const warn = quietWarnings();
    try {
      const lines: string[] = [];
      const at = (level: string) => (message: string) => {
        lines.push(`${level} ${message}`);
      };
      const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
      const catga = createCatga({ logger })
        .withLogging({ successLevel: "off", failureLevel: "warn" })
        .handle(Work, ({ id }) => {
          if (id < 0) throw new CatgaError("GUARD_REFUSED", "negative");
          return id;
        })
        .build();
      await catga.send(Work, { id: 1 });
      await catga.send(Work, { id: -1 });
      expect(lines).toEqual(["warn command guard.work failed"]);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it("validation: the message lists each issue with its path", async () => {
    const Order = defineCommand(
      "guard.order",
      z.object({ items: z.array(z.object({ qty: z.number() })), note: z.string() }),
    ).returns<number>();
    const catga = quiet()
      .withValidation()
      .handle(Order, () => 1)
      .build();
    const refused = await catga.send(Order, { items: [{ qty: "x" }], note: 5 } as never);
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.message).toMatch(
      /^Invalid payload for guard\.order: items\.0\.qty: [^;]+; note: [^;]+$/,
    );
    const NoPath = defineCommand("guard.nopath", z.number()).returns<number>();
    const bare = quiet()
      .withValidation()
      .handle(NoPath, (n) => n)
      .build();
    const top = await bare.send(NoPath, "x" as never);
    // No path: the schema's message alone (zod's own text starts "Invalid input").
    expect(top.ok || top.error.message).toMatch(/^Invalid payload for guard\.nopath: Invalid input/);
  });

  it("idempotency: maxEntries with your own store is refused, naming the option", () => {
    try {
      quiet()
        .withIdempotency({ store: new InMemoryIdempotencyStore(10), maxEntries: 5 })
        .handle(Work, ({ id }) => id)
        .build();
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CatgaConfigError);
      expect((error as CatgaConfigError).issues).toContainEqual({
        path: "idempotency.maxEntries",
        message: "only applies to the default in-memory store; size your own store",
      });
    }
  });
});
