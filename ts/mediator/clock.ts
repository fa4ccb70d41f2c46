/**
 * The time an extension (a hosted saga) reads and waits on: the real clock, or the test harness's
 * virtual clock (`TestCatga.useVirtualClock()`), which moves only when a test advances it.
 */
import { CatgaError, ErrorCodes } from "../errors.js";

/** What a saga engine asks of time. */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Calls `callback` after `ms` (not keeping the process alive); returns a cancel function. */
  setTimer(callback: () => void, ms: number): () => void;
  /** Resolves after `ms`. */
  sleep(ms: number): Promise<void>;
}

/** The process's clock (`Date.now`, unref'd timers). */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A clock for tests: `now()` stays put until `advance(ms)`, which fires the timers that come due,
 * in time order, letting the work each one starts settle before the next.
 */
export class VirtualClock implements Clock {
  private current: number;
  private readonly timers: { at: number; seq: number; callback: () => void }[] = [];
  private seq = 0;

  /** @param startMs the clock's first reading (epoch ms). @default Date.now() */
  constructor(startMs: number = Date.now()) {
    if (!Number.isFinite(startMs))
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `startMs must be a finite number (epoch ms), got ${String(startMs)}`,
        {
          details: { field: "startMs" },
        },
      );
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, ms: number): () => void {
    const timer = { at: this.current + Math.max(0, ms), seq: ++this.seq, callback };
    this.timers.push(timer);
    return () => {
      const index = this.timers.indexOf(timer);
      if (index >= 0) this.timers.splice(index, 1);
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, ms));
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing each timer due by then at its own time; after each (and
   * before returning) the work it started runs until it waits again (on I/O, another timer, or
   * nothing). Timers set while advancing fire too when they fall inside the window.
   */
  async advance(ms: number): Promise<void> {
    // Time only moves forward, by a number: NaN or a string would poison every later reading.
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0)
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `advance: ms must be a finite number >= 0, got ${String(ms)}`,
        {
          details: { field: "ms" },
        },
      );
    const until = this.current + ms;
    await settle();
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (next === undefined || next.at > until) break;
      this.timers.shift();
      this.current = Math.max(this.current, next.at);
      next.callback();
      await settle();
    }
    this.current = until;
    await settle();
  }
}

/** Lets promise chains and in-process I/O callbacks started so far run until they wait again. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}
