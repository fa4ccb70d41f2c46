/**
 * The bound on one subscription's requests whose handlers are still running
 * (`maxConcurrentRequests`). A request answered synchronously never takes a slot; one whose
 * handler returned a promise holds its slot until that settles. Who finds the slots full waits
 * for one to free up: the batch being served, and so the engine's next batch, whose messages
 * meanwhile wait in the byte-bounded subscription buffer (`subscriptionBufferBytes`).
 */
export class RequestSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {}

  /** Whether every slot is taken. */
  get full(): boolean {
    return this.running >= this.max;
  }

  /** A request started running (its handler returned a promise). */
  take(): void {
    this.running++;
  }

  /** A running request settled: the first waiter (if any) gets the slot it left. */
  give(): void {
    this.running--;
    if (this.waiting.length > 0 && this.running < this.max) this.waiting.shift()!(); // length checked
  }

  /** Resolves once a slot is free (at once when one is). */
  whenFree(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }
}
