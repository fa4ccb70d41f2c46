/**
 * Counts the mediator calls routes have started and not yet seen settle, so that closing the
 * server can wait for them before it closes the mediator under them.
 */
export class InFlight {
  private count = 0;
  private idle: (() => void)[] = [];

  /** How many calls are running now. */
  get size(): number {
    return this.count;
  }

  /** Counts `call` until it settles; the promise is returned as it is (Results never reject). */
  track<T>(call: Promise<T>): Promise<T> {
    this.count++;
    // Not `finally`: its derived promise would reject unhandled if `call` ever rejected.
    call.then(this.settled, this.settled);
    return call;
  }

  private readonly settled = (): void => {
    if (--this.count > 0) return;
    const waiters = this.idle;
    this.idle = [];
    for (const wake of waiters) wake();
  };

  /** Resolves true once nothing runs, or false when `timeoutMs` passed first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idle = this.idle.filter((wake) => wake !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idle.push(done);
    });
  }
}
