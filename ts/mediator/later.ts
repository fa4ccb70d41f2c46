import { errFromThrown, type Result } from "./result.js";

/** What a built-in behavior does once the Result of the steps inside it is known. */
export type After = (result: Result<unknown>) => Result<unknown> | PromiseLike<Result<unknown>>;

/**
 * A Result still to come, with the after-steps of the built-in behaviors queued on it. When the
 * handler's promise settles, every queued step runs in that same reaction, innermost first,
 * instead of one promise (and one microtask) per behavior layer: a send through the production
 * preset with an async handler then costs the two reactions of a bare send (benches/RESULTS.md,
 * "Session 14").
 *
 * Internal to the pipeline: built-ins queue with {@link after}; anyone else gets a native promise
 * from `then` (a fresh one per call, so several readers never see each other's steps). It never
 * rejects: an after-step that throws becomes an error Result, as a settled promise would.
 */
export class Later implements PromiseLike<Result<unknown>> {
  /** Made on the first queued step: a call that settles at once (a synchronous handler) never queues one. */
  private steps: After[] | undefined = undefined;
  /** Index of the next step to run once the Result is known. */
  private next = 0;
  /** The Result after every step so far; undefined while a step (or the handler) is still running. */
  private value: Result<unknown> | undefined = undefined;

  /** The Result as far as it got: undefined while anything is still running. */
  protected get current(): Result<unknown> | undefined {
    return this.value;
  }

  /** A Later that takes the Result of any promise (or thenable) of one. */
  static of(pending: PromiseLike<Result<unknown>>): Later {
    if (pending instanceof Later) return pending;
    const later = new Later();
    pending.then(
      (result) => later.arrive(result),
      (thrown: unknown) => later.arrive(errFromThrown(thrown)),
    );
    return later;
  }

  /** The Result is here: run the queued steps, pausing at any that answers later. */
  arrive(result: Result<unknown>): void {
    let value = result;
    const steps = this.steps;
    while (steps !== undefined && this.next < steps.length) {
      const step = steps[this.next++]!;
      let out: Result<unknown> | PromiseLike<Result<unknown>>;
      try {
        out = step(value);
      } catch (thrown) {
        out = errFromThrown(thrown);
      }
      if (isThenable(out)) {
        // A step that goes asynchronous (a retry's next attempt): the rest waits for it.
        out.then(
          (settled) => this.arrive(settled),
          (thrown: unknown) => this.arrive(errFromThrown(thrown)),
        );
        return;
      }
      value = out;
    }
    this.value = value;
  }

  /** Queues a step; runs it at once if the Result is already here. */
  map(step: After): Later {
    const value = this.value;
    if (this.steps === undefined) this.steps = [step];
    else this.steps.push(step);
    if (value === undefined) return this;
    this.value = undefined;
    this.arrive(value);
    return this;
  }

  /** The final Result as a native promise (for callers outside the built-in steps). */
  promise(): Promise<Result<unknown>> {
    return new Promise((resolve) => {
      this.map((result) => {
        resolve(result);
        return result;
      });
    });
  }

  // biome-ignore lint/suspicious/noThenProperty: a Later is a PromiseLike on purpose (await, Promise.resolve)
  then<A = Result<unknown>, B = never>(
    onFulfilled?: ((result: Result<unknown>) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.promise().then(onFulfilled, onRejected);
  }
}

/**
 * Runs `step` once `outcome` settles. Behind another built-in's step the outcome is already a
 * Later and this only queues; otherwise it wraps the promise once.
 */
export function after(outcome: PromiseLike<Result<unknown>>, step: After): Later {
  return Later.of(outcome).map(step);
}

function isThenable(value: unknown): value is PromiseLike<Result<unknown>> {
  return value != null && typeof (value as { then?: unknown }).then === "function";
}
