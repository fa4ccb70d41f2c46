/** Something that expires unless settled first. */
export interface Deadline {
  /** The queue's tick at which `expire` runs (set by the queue). */
  deadline: number;
  /** True once settled or expired; the queue then skips it. */
  done: boolean;
  expire(): void;
}

/** Ticks per budget: an entry expires at most two ticks (a tenth of its budget) late. */
const TICKS_PER_BUDGET = 20;

/**
 * All deadlines of one duration, in one queue, under one repeating timer. Because every entry
 * has the same duration, deadlines arrive in order, so adding is a push and expiring pops from
 * the front: no `setTimeout`/`clearTimeout` per message (each costs about a microsecond).
 *
 * Time is counted in ticks of that timer, not read from the clock: `Date.now()` was ~10 % of a
 * send through the production preset on this VM (benches/RESULTS.md, "Session 15"). An entry
 * added during tick `t` expires at tick `t + ticks + 2`: at least `ticks` whole periods after it
 * was added, since Node's repeating timers never fire early (the extra tick covers an add made
 * in the same timers phase, just before the tick), and at most two periods (~10 %) late.
 *
 * Settled entries are compacted away so memory follows the number of messages in flight. When
 * nothing is in flight the timer is unref'd (it no longer keeps the process alive) and re-ref'd
 * on the next add; a whole budget without any add stops it (sequential traffic keeps one timer).
 */
export class DeadlineQueue {
  private entries: (Deadline | undefined)[] = [];
  private head = 0;
  private live = 0;
  private settled = 0;
  /** Ticks of the timer so far; it only counts while the timer runs. */
  private tick = 0;
  /** Timer period in ms, and how many of them make one budget. */
  private readonly period: number;
  private readonly ticks: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The timer no longer keeps the process alive (nothing in flight). */
  private unreferenced = false;
  private idleCheckScheduled = false;
  /** Ticks in a row with nothing in flight and no add. */
  private idleTicks = 0;

  constructor(ms: number) {
    this.period = Math.max(1, Math.floor(ms / TICKS_PER_BUDGET));
    this.ticks = Math.ceil(ms / this.period);
  }

  add(entry: Deadline): void {
    entry.deadline = this.tick + this.ticks + 2;
    this.entries.push(entry);
    this.idleTicks = 0;
    if (this.timer === undefined) {
      this.timer = setInterval(this.onTick, this.period);
      this.unreferenced = false;
    } else if (this.unreferenced) {
      this.timer.ref();
      this.unreferenced = false;
    }
    this.live++;
  }

  /** Marks an entry settled before its deadline. */
  settle(entry: Deadline): void {
    if (entry.done) return;
    entry.done = true;
    this.live--;
    this.settled++;
    // Going idle is checked once the current task is over, not at every settle: sequential
    // sends go busy → idle → busy once per call, and toggling the timer's ref each time (a
    // native call both ways) cost ~150 ns per send (benches/RESULTS.md, "Session 12").
    if (this.live === 0 && !this.idleCheckScheduled) {
      this.idleCheckScheduled = true;
      setImmediate(this.idleCheck);
    }
    const pending = this.entries.length - this.head;
    if (this.settled > 1024 && this.settled * 2 > pending) this.compact();
  }

  private readonly idleCheck = (): void => {
    this.idleCheckScheduled = false;
    if (this.live === 0) this.idle();
  };

  /** One period passed: expire what is due; stop the timer after a budget with nothing to do. */
  private readonly onTick = (): void => {
    const now = ++this.tick;
    const entries = this.entries;
    while (this.head < entries.length) {
      const entry = entries[this.head]!;
      if (!entry.done && entry.deadline > now) break;
      entries[this.head++] = undefined;
      if (entry.done) {
        this.settled--;
        continue;
      }
      entry.done = true;
      this.live--;
      entry.expire();
    }
    if (this.live > 0) return;
    if (!this.unreferenced) this.idle();
    if (++this.idleTicks >= this.ticks) this.stop();
  };

  private compact(): void {
    const kept: Deadline[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (!entry.done) kept.push(entry);
    }
    this.entries = kept;
    this.head = 0;
    this.settled = 0;
  }

  /** Nothing in flight: forget settled entries and let the process exit if it wants to. */
  private idle(): void {
    this.entries.length = 0;
    this.head = 0;
    this.settled = 0;
    if (this.timer !== undefined) {
      this.timer.unref();
      this.unreferenced = true;
    }
  }

  /** Idle for a whole budget: no timer at all until the next add. */
  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unreferenced = false;
  }
}
