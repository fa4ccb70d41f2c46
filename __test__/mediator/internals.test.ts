import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InMemoryIdempotencyStore } from "../../ts/index.js";
import { type Deadline, DeadlineQueue } from "../../ts/mediator/behaviors/deadlines.js";
import { Later } from "../../ts/mediator/later.js";
import { ok, type Result } from "../../ts/mediator/result.js";

const entry = (onExpire: () => void = () => {}): Deadline => ({ deadline: 0, done: false, expire: onExpire });

describe("DeadlineQueue (timeout bookkeeping)", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("expires entries in order under a single timer", () => {
    const queue = new DeadlineQueue(100);
    const expired: number[] = [];
    for (let i = 0; i < 3; i++) {
      queue.add(entry(() => expired.push(i)));
      vi.advanceTimersByTime(10);
    }
    expect(vi.getTimerCount()).toBe(1);
    // Ticks of 5 ms: each entry expires 100–110 ms after it was added.
    vi.advanceTimersByTime(69);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(11);
    expect(expired).toEqual([0]);
    vi.advanceTimersByTime(20);
    expect(expired).toEqual([0, 1, 2]);
    // Stopped after a budget with nothing in flight.
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("settled entries never expire, are compacted away, and the timer stops when idle", () => {
    const queue = new DeadlineQueue(1000);
    const expired: Deadline[] = [];
    const entries = Array.from({ length: 5000 }, () => {
      const e = entry(() => expired.push(e));
      queue.add(e);
      return e;
    });
    const survivor = entries[4000]!;
    for (const e of entries) if (e !== survivor) queue.settle(e);
    expect(vi.getTimerCount()).toBe(1);
    // Internals: compaction keeps the backlog proportional to live entries.
    expect((queue as unknown as { entries: unknown[] }).entries.length).toBeLessThan(2100);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual([]); // not before its budget
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([survivor]);
    vi.advanceTimersByTime(1000);
    expect(vi.getTimerCount()).toBe(0);
    queue.add(entry());
    queue.settle(entries[0]!); // settling twice is a no-op
    expect(vi.getTimerCount()).toBe(1);
  });

  it("keeps one timer across sequential traffic instead of one per entry", () => {
    const queue = new DeadlineQueue(500);
    const expired: number[] = [];
    const armed = vi.spyOn(globalThis, "setInterval");
    for (let i = 0; i < 1000; i++) {
      const e = entry(() => expired.push(i));
      queue.add(e);
      queue.settle(e);
      // The deadline timer, and the check for going idle at the end of the task.
      expect(vi.getTimerCount()).toBeLessThanOrEqual(2);
      vi.advanceTimersByTime(1);
    }
    // One timer for the whole run, not one per entry.
    expect(armed.mock.calls.length).toBe(1);
    armed.mockRestore();
    const late = entry(() => expired.push(-1));
    queue.add(late);
    vi.advanceTimersByTime(499);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(51); // at most two 25 ms ticks late
    expect(expired).toEqual([-1]);
  });
});

describe("InMemoryIdempotencyStore", () => {
  it("stays within the cap under churn and keeps the newest value of a re-set key", () => {
    const store = new InMemoryIdempotencyStore(100);
    for (let i = 0; i < 50_000; i++) store.set(`k${i % 300}`, { value: i }, 60_000);
    expect(store.size).toBe(100);
    expect(store.get("k199")).toEqual({ value: 49_999 });
    expect(store.get("k100")).toEqual({ value: 49_900 });
    expect(store.get("k99")).toBeUndefined();
    expect(store.get("k0")).toBeUndefined();
    const order = (store as unknown as { order: unknown[] }).order;
    expect(order.length).toBeLessThan(5000);
  });
});

describe("Later (the built-in behaviors' after-steps, fused)", () => {
  const value = (n: number) => ok(n) as Result<unknown>;
  const read = (result: Result<unknown>) => (result.ok ? result.value : result.error.code);

  it("runs every queued step, innermost first, in the one reaction to the handler's promise", async () => {
    let release!: (n: number) => void;
    const handler = new Promise<number>((resolve) => {
      release = resolve;
    });
    const order: string[] = [];
    const later = Later.of(handler.then(value));
    const noting = (name: string, next: (r: Result<unknown>) => Result<unknown>) => (r: Result<unknown>) => {
      order.push(`${name} ${read(r)}`);
      return next(r);
    };
    later.map(noting("timeout", (r) => r));
    later.map(noting("retry", (r) => ok((r as { value: number }).value + 1)));
    later.map(noting("logging", (r) => r));
    const outcome = later.promise();
    release(1);
    // One hop for the handler's then, one for Later.of's: then everything ran together.
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual(["timeout 1", "retry 1", "logging 2"]);
    expect(read(await outcome)).toBe(2);
  });

  it("pauses at a step that answers later (a retry's next attempt) and goes on with its Result", async () => {
    const later = new Later();
    later.map(() => new Promise<Result<unknown>>((resolve) => setTimeout(() => resolve(value(7)), 5)));
    later.map((r) => ok((r as { value: number }).value * 2));
    later.arrive(value(1));
    expect(read(await later.promise())).toBe(14);
  });

  it("runs a step queued after the Result arrived at once", async () => {
    const later = new Later();
    later.arrive(value(3));
    let seen: unknown;
    later.map((r) => {
      seen = read(r);
      return r;
    });
    expect(seen).toBe(3);
    expect(read(await later)).toBe(3);
  });

  it("gives every reader its own promise of the final Result", async () => {
    const later = new Later();
    const first = later.promise();
    const second = later.then((r) => read(r));
    later.arrive(value(5));
    expect(read(await first)).toBe(5);
    expect(await second).toBe(5);
  });

  it("never rejects: a throwing step or a rejected wait becomes an error Result", async () => {
    const later = new Later();
    later.map(() => {
      throw new Error("a bug in a step");
    });
    later.arrive(value(1));
    const thrown = await later.promise();
    expect(thrown.ok).toBe(false);

    const rejected = Later.of(Promise.reject(new Error("gone")) as Promise<Result<unknown>>);
    expect((await rejected.promise()).ok).toBe(false);
  });
});
