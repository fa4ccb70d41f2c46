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
 * compacted away so memory follows the number of messages in flight, and the timer is cleared
 * when nothing is in flight, so an idle process can exit.
 */
export class DeadlineQueue {
  private entries: (Deadline | undefined)[] = [];
  private head = 0;
  private live = 0;
  private settled = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = 0;

  constructor(private readonly ms: number) {}

  add(entry: Deadline): void {
    entry.deadline = Date.now() + this.ms;
    this.entries.push(entry);
    this.live++;
    if (this.timer === undefined) this.arm(entry.deadline);
  }

  /** Marks an entry settled before its deadline. */
  settle(entry: Deadline): void {
    if (entry.done) return;
    entry.done = true;
    this.live--;
    if (this.live === 0) {
      this.clear();
      return;
    }
    this.settled++;
    const pending = this.entries.length - this.head;
    if (this.settled > 1024 && this.settled * 2 > pending) this.compact();
  }

  private arm(at: number): void {
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - Date.now()));
  }

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
    if (this.live === 0) this.clear();
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
    // The head may have changed; the armed timer still fires no later than the new head's deadline.
    if (this.timer !== undefined && kept.length > 0 && kept[0]!.deadline > this.timerAt) {
      clearTimeout(this.timer);
      this.arm(kept[0]!.deadline);
    }
  }

  private clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.entries = [];
    this.head = 0;
    this.settled = 0;
  }
}
