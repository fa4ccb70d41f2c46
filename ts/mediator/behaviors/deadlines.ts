/** Something that expires unless settled first. */
export interface Deadline {
  /** Epoch ms at which `expire` runs. */
  deadline: number;
  /** True once settled or expired; the queue then skips it. */
  done: boolean;
  expire(): void;
}

/**
 * All deadlines of one duration, in one queue, under one timer. Because every entry has the same
 * duration, deadlines arrive in order, so adding is a push and expiring pops from the front: no
 * `setTimeout`/`clearTimeout` per message (each costs about a microsecond). Settled entries are
 * compacted away so memory follows the number of messages in flight. When nothing is in flight
 * the timer stays armed but unref'd (it no longer keeps the process alive) and is re-ref'd on the
 * next add — toggling a flag instead of creating a timer per message in sequential traffic.
 */
export class DeadlineQueue {
  private entries: (Deadline | undefined)[] = [];
  private head = 0;
  private live = 0;
  private settled = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The timer no longer keeps the process alive (nothing in flight). */
  private unreferenced = false;
  private idleCheckScheduled = false;

  constructor(private readonly ms: number) {}

  add(entry: Deadline): void {
    entry.deadline = Date.now() + this.ms;
    this.entries.push(entry);
    if (this.timer === undefined) this.arm(entry.deadline);
    else if (this.unreferenced) {
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

  private arm(at: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - Date.now()));
    this.unreferenced = false;
  }

  /** Runs at the armed time; entries added since may not be due yet (then it re-arms). */
  private fire(): void {
    this.timer = undefined;
    const now = Date.now();
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
    if (this.live === 0) this.idle();
    else this.arm(entries[this.head]!.deadline);
  }

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
}
