import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InMemoryIdempotencyStore } from "../../ts/index.js";
import { type Deadline, DeadlineQueue } from "../../ts/mediator/behaviors/deadlines.js";

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
    vi.advanceTimersByTime(75);
    expect(expired).toEqual([0]);
    vi.advanceTimersByTime(20);
    expect(expired).toEqual([0, 1, 2]);
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
    expect(expired).toEqual([survivor]);
    expect(vi.getTimerCount()).toBe(0);
    queue.add(entry());
    queue.settle(entries[0]!); // settling twice is a no-op
    expect(vi.getTimerCount()).toBe(1);
  });

  it("keeps one timer across sequential traffic instead of one per entry", () => {
    const queue = new DeadlineQueue(500);
    const expired: number[] = [];
    const armed = vi.spyOn(globalThis, "setTimeout");
    for (let i = 0; i < 1000; i++) {
      const e = entry(() => expired.push(i));
      queue.add(e);
      queue.settle(e);
      // The deadline timer, and the check for going idle at the end of the task.
      expect(vi.getTimerCount()).toBeLessThanOrEqual(2);
      vi.advanceTimersByTime(1);
    }
    // One timer per 500 ms period, not one per entry.
    expect(armed.mock.calls.length).toBeLessThanOrEqual(3);
    armed.mockRestore();
    const late = entry(() => expired.push(-1));
    queue.add(late);
    vi.advanceTimersByTime(499);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
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
