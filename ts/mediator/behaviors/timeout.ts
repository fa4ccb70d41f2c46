import {
  type FieldCheck,
  type IssueList,
  isRecord,
  MAX_DELAY_MS,
  number,
  perTypeNumber,
} from "../../checks.js";
import { CatgaError, ErrorCodes } from "../../errors.js";
import { MessageContext, NEVER_ABORTED, type SignalSource } from "../context.js";
import { after, Later } from "../later.js";
import {
  addTypeCheck,
  type Behavior,
  type BehaviorContext,
  builtInStep,
  isPending,
  type StepMiddleware,
} from "../pipeline.js";
import { err, errFrom, type Result } from "../result.js";
import { type Deadline, DeadlineQueue } from "./deadlines.js";

/** Options of `withTimeout`: a time budget per handler attempt. */
export interface TimeoutOptions {
  /**
   * Budget per attempt in ms (≥ 1); past it the handler's `ctx.signal` aborts and the call
   * returns CATGA_TIMEOUT. It runs from the moment the handler returns its promise: JavaScript
   * cannot interrupt a synchronous stretch, so none is timed. Retry sits outside, so each
   * attempt gets a fresh budget. The deadline is never early and at most 10 % of `ms` or 2 ms
   * (whichever is more) late: it is counted in ticks of one timer, not read from the clock.
   * @default 10000
   */
  readonly ms?: number;
  /**
   * Budgets in ms per message type, overriding {@link TimeoutOptions.ms}, e.g.
   * `{ "reports.build": 60_000 }`; each type must have a handler or remote contract.
   * @default none: every type gets `ms`
   */
  readonly perType?: Readonly<Record<string, number>>;
  /**
   * Place in the pipeline: higher runs first (outermost). Below retry (800) and the circuit
   * breaker (700), so a timeout is one failed attempt.
   * @default 500 (`TIMEOUT_PRIORITY`)
   */
  readonly priority?: number;
}

/** The timeout behavior's default priority: innermost of the built-in behaviors (higher runs first). */
export const TIMEOUT_PRIORITY = 500;

const fields: Record<string, FieldCheck> = {
  ms: number(1, MAX_DELAY_MS), // as perType: a budget under 1 ms is no budget setTimeout keeps
  perType: perTypeNumber(1, MAX_DELAY_MS),
  priority: number(Number.NEGATIVE_INFINITY),
};

/**
 * One attempt under a time budget, and the Later its outer behaviors wait on once the handler
 * went asynchronous (the handler's answer or the deadline, whichever comes first, arrives there).
 * Its AbortController is made only if the handler reads `ctx.signal` (or the caller passed a
 * signal to forward), so handlers that ignore cancellation pay for neither the controller nor a
 * timer of their own.
 */
class TimedCall extends Later implements Deadline {
  deadline = 0;
  done = false;
  /** In the deadline queue: the handler went asynchronous. */
  private queued = false;
  private controller: AbortController | undefined = undefined;
  private reason: CatgaError | undefined = undefined;
  private parent: AbortSignal = NEVER_ABORTED;
  private onParentAbort: (() => void) | undefined = undefined;

  constructor(
    private readonly queue: DeadlineQueue,
    private readonly type: string,
    private readonly ms: number,
  ) {
    super();
  }

  /**
   * The handler went asynchronous: its budget starts now. A synchronous stretch cannot be cut
   * short (the deadline timer only runs between tasks), so a handler that answers at once pays
   * for no clock read and no queue entry.
   */
  wait(outcome: PromiseLike<Result<unknown>>): Later {
    if (!this.done) {
      this.queue.add(this);
      this.queued = true;
    }
    after(outcome, (result) => {
      this.complete(result);
      return result;
    });
    return this;
  }

  /** The handler answered at once: that answer, unless a caller's abort answered first. */
  completeNow(result: Result<unknown>): Result<unknown> {
    if (this.finish()) return result;
    return this.current ?? result;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Forwards a caller's cancellation: abort the handler and answer CATGA_ABORTED at once. */
  follow(parent: AbortSignal): void {
    this.parent = parent;
    // Made here, not as a field initializer: most calls have no caller signal and skip this.
    this.onParentAbort = () => {
      if (!this.finish()) return;
      const cause: unknown = parent.reason;
      if (this.controller === undefined) this.controller = new AbortController();
      this.controller.abort(cause);
      this.arrive(err(ErrorCodes.ABORTED, "The operation was aborted", undefined, cause));
    };
    parent.addEventListener("abort", this.onParentAbort, { once: true });
  }

  /** The handler finished in time. */
  complete(result: Result<unknown>): void {
    if (this.finish()) this.arrive(result);
  }

  /** Called by the queue at the deadline (the queue has marked it done). */
  expire(): void {
    const message = `${this.type} timed out after ${this.ms} ms`;
    this.reason = new CatgaError(ErrorCodes.TIMEOUT, message, { details: { timeoutMs: this.ms } });
    this.controller?.abort(this.reason);
    this.unfollow();
    this.arrive(
      errFrom({ code: ErrorCodes.TIMEOUT, message, details: { timeoutMs: this.ms }, cause: this.reason }),
    );
  }

  /** Marks the call answered; false if something else answered it first. */
  private finish(): boolean {
    if (this.done) return false;
    if (this.queued) this.queue.settle(this);
    else this.done = true;
    this.unfollow();
    return true;
  }

  private unfollow(): void {
    if (this.onParentAbort !== undefined) this.parent.removeEventListener("abort", this.onParentAbort);
  }
}

/**
 * The signal source of one target's attempts without a caller signal: an attempt's TimedCall is
 * made only when it is needed — its handler reads `ctx.signal`, or answers with a promise — and
 * kept in the context copy the handler got. A handler that answers at once without reading its
 * signal (a synchronous one) then costs no TimedCall: nothing can time it out anyway.
 */
class TimedCalls implements SignalSource {
  constructor(
    private readonly queue: DeadlineQueue,
    private readonly type: string,
    private readonly ms: number,
  ) {}

  signalOf(context: MessageContext): AbortSignal {
    return this.of(context).signal;
  }

  /** The attempt's call, made now if the handler has not read its signal. */
  of(context: MessageContext): TimedCall {
    let call = context.slot as TimedCall | undefined;
    if (call === undefined) {
      call = new TimedCall(this.queue, this.type, this.ms);
      context.slot = call;
    }
    return call;
  }
}

/**
 * Answers CATGA_TIMEOUT when the budget runs out, even if the handler ignores its signal, and
 * aborts `ctx.signal` so handlers that honor it stop work. A caller's abort is forwarded and
 * answered with CATGA_ABORTED.
 */
export function timeoutBehavior(options: TimeoutOptions | undefined, issues: IssueList): Behavior {
  issues.checkObject("timeout", options, fields);
  const defaultMs = options?.ms ?? 10_000;
  const perType = options?.perType ?? {};
  const queues = new Map<number, DeadlineQueue>();
  // A misspelt type would silently get the default budget: every key must name a built pipeline.
  const checkTypes = (types: ReadonlySet<string>, found: IssueList): void => {
    if (!isRecord(perType)) return; // already reported as invalid
    for (const type of Object.keys(perType)) {
      if (!types.has(type))
        found.add(`timeout.perType.${type}`, "no handler or remote contract has this type");
    }
  };
  const behavior = builtInStep("timeout", options?.priority ?? TIMEOUT_PRIORITY, (target) => {
    const type = target.contract.type;
    const ms = perType[type] ?? defaultMs;
    let queue = queues.get(ms);
    if (queue === undefined) {
      queue = new DeadlineQueue(ms);
      queues.set(ms, queue);
    }
    const deadlines = queue;
    const calls = new TimedCalls(deadlines, type, ms);
    const step: StepMiddleware = (payload, ctx, next) => {
      const parent = ctx.signal;
      if (parent === NEVER_ABORTED && ctx instanceof MessageContext) {
        const inner = ctx.withSignalSource(calls);
        const outcome = next(payload, inner);
        const made = inner.slot as TimedCall | undefined;
        if (!isPending(outcome)) return made === undefined ? outcome : made.completeNow(outcome);
        return calls.of(inner).wait(outcome);
      }
      if (parent.aborted) return err(ErrorCodes.ABORTED, "The operation was aborted");
      // A caller's signal to forward, or a context of another kind: the call is made up front.
      const call = new TimedCall(deadlines, type, ms);
      if (parent !== NEVER_ABORTED) call.follow(parent);
      let inner: BehaviorContext;
      if (ctx instanceof MessageContext) {
        const copy = ctx.withSignalSource(calls);
        copy.slot = call;
        inner = copy;
      } else inner = ctx.withSignal(call.signal);
      const outcome = next(payload, inner);
      // A handler that answered at once needs no promise and leaves no deadline behind.
      if (!isPending(outcome)) return call.completeNow(outcome);
      return call.wait(outcome);
    };
    return step;
  });
  addTypeCheck(behavior, checkTypes);
  return behavior;
}
