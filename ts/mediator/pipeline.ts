import type { IssueList } from "../checks.js";
import { CatgaConfigError, describeThrown } from "../errors.js";
import type { HandlerContext } from "./context.js";
import type { AnyContract, ContractKind } from "./contracts.js";
import { Later } from "./later.js";
import { type ErrResult, errFromThrown, errFromThrownIn, type Result, returned } from "./result.js";

/** The context behaviors see: a handler context that can be re-issued with another signal. */
export interface BehaviorContext extends HandlerContext {
  /**
   * A copy of this context whose `signal` is `signal` (e.g. one that also aborts on a deadline);
   * ids, headers and time stay those of this message. Pass it to `next`.
   */
  withSignal(signal: AbortSignal): BehaviorContext;
}

/** The rest of the pipeline; may be called more than once (retry) or not at all (breaker open). */
export type Next = (payload: unknown, ctx: BehaviorContext) => Promise<Result<unknown>>;

/** One behavior's step for one target. It must resolve to a Result and never reject. */
export type Middleware = (payload: unknown, ctx: BehaviorContext, next: Next) => Promise<Result<unknown>>;

/**
 * Internal: a pipeline step that may answer at once. A synchronous handler's Result travels back
 * through the built-in behaviors without a promise per layer; the pipeline makes one promise at
 * its outer end. Measured (benches/RESULTS.md, "Session 12"): each promise-returning layer cost
 * ~200–300 ns per send on the session-12 VM.
 */
export type Step = (payload: unknown, ctx: BehaviorContext) => Result<unknown> | PromiseLike<Result<unknown>>;

/** Internal: a built-in behavior's step; `next` may answer at once and so may it. Never throws. */
export type StepMiddleware = (
  payload: unknown,
  ctx: BehaviorContext,
  next: Step,
) => Result<unknown> | PromiseLike<Result<unknown>>;

/**
 * Whether a step's answer is still to come. Any thenable counts, not only `instanceof Promise`:
 * a custom behavior or transport may hand back another realm's or a library's promise (and a
 * replaced global `Promise` is not the class of native async functions' promises). A Result
 * never has a `then`.
 */
export function isPending(
  outcome: Result<unknown> | PromiseLike<Result<unknown>>,
): outcome is PromiseLike<Result<unknown>> {
  return outcome != null && typeof (outcome as { then?: unknown }).then === "function";
}

/** A Result or a promise of one (of any kind, a {@link Later} included), as a native promise. */
export function settle(result: Result<unknown> | PromiseLike<Result<unknown>>): Promise<Result<unknown>> {
  if (result instanceof Promise) return result;
  // Not Promise.resolve: for a thenable it adds a microtask and a promise per layer of `then`.
  if (result instanceof Later) return result.promise();
  return Promise.resolve(result);
}

/** What a pipeline is built for: a command/query contract, or one handler of an event. */
export interface PipelineTarget {
  readonly contract: AnyContract;
  readonly kind: ContractKind;
  /** Unique per pipeline: the type, or `type#n` for the n-th handler of an event. Keys per-target state. */
  readonly key: string;
  /** Handler function name (or `handler#n`, or `remote:<transport>`), for logs. */
  readonly handlerName: string;
  /** True when the handler runs in another process and this pipeline ends in `transport.request`. */
  readonly remote: boolean;
}

/**
 * A pipeline step. `create` runs once per target when the mediator is built, so per-contract
 * state (a breaker, a token bucket) lives in its closure and the call path allocates nothing extra.
 * Higher priority runs first (outermost); equal priorities keep registration order.
 */
export interface Behavior {
  /** Unique per builder: `use` replaces a behavior of the same name (e.g. a preset's). Shown by `describe()`. */
  readonly name: string;
  /** Higher runs first (outermost); the built-in ones are 500 (timeout) to 1000 (logging). */
  readonly priority: number;
  /** The step for one pipeline, or undefined to leave that pipeline alone; runs once per target at `build()`. */
  create(target: PipelineTarget): Middleware | undefined;
}

/** Declares a custom behavior; `create` may return undefined to skip a target (e.g. events). */
export function defineBehavior(behavior: Behavior): Behavior {
  return Object.freeze({ ...behavior });
}

/** A registered handler with its payload type erased (handlers are typed where they are registered). */
// biome-ignore lint/suspicious/noExplicitAny: any typed handler must be storable here
export type Handler = (payload: any, ctx: HandlerContext) => unknown;

/**
 * Innermost step: call the handler and turn its value or throw into a Result, synchronously when
 * the handler returns a plain value (see {@link runBare}).
 */
export function handlerStep(handler: Handler): Step {
  return (payload, ctx) => runBare(handler, payload, ctx);
}

/**
 * {@link handlerStep} as a promise, written without async/await or per-call closures: the whole
 * call path of a send when no behavior is configured.
 */
export function handlerRun(handler: Handler): Next {
  return (payload, ctx) => {
    let out: unknown;
    try {
      out = handler(payload, ctx);
    } catch (thrown) {
      return Promise.resolve(errFromThrownIn(thrown, ctx.signal));
    }
    if (out instanceof Promise) return out.then(returned, onRejected(ctx));
    if (isThenable(out)) return Promise.resolve(out).then(returned, onRejected(ctx));
    return Promise.resolve(returned(out));
  };
}

/**
 * `handlerStep` for a caller that can take a Result synchronously (a transport serving a batch of
 * requests): a handler that returns a plain value costs no promise.
 */
export function runBare(
  handler: Handler,
  payload: unknown,
  ctx: BehaviorContext,
): Result<unknown> | PromiseLike<Result<unknown>> {
  let out: unknown;
  try {
    out = handler(payload, ctx);
  } catch (thrown) {
    return errFromThrownIn(thrown, ctx.signal);
  }
  if (out instanceof Promise) return resultLater(out, ctx);
  if (isThenable(out)) return resultLater(Promise.resolve(out), ctx);
  return returned(out);
}

/**
 * The Result of a handler that answered with a promise, as a {@link Later}: the behaviors around
 * it queue their after-steps there and all run in the one reaction to the handler's promise.
 */
function resultLater(out: Promise<unknown>, ctx: BehaviorContext): Later {
  const later = new Later();
  out.then(
    (value) => later.arrive(returned(value)),
    (thrown: unknown) => later.arrive(errFromThrownIn(thrown, ctx.signal)),
  );
  return later;
}

// A message that cannot be cancelled (no caller signal, no timeout: the fast path) keeps the shared
// rejection handler and allocates no closure; the others tell a cancellation from a failure.
function onRejected(ctx: BehaviorContext): (thrown: unknown) => ErrResult {
  if ((ctx as { readonly cancellable?: boolean }).cancellable === false) return errFromThrown;
  return (thrown) => errFromThrownIn(thrown, ctx.signal);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  // Primitives (most sync results) never are; checking the type first skips a prototype lookup.
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  return typeof (value as { then?: unknown }).then === "function";
}

/** Sorts by priority (descending, stable), so the order is the same on every build. */
export function orderBehaviors(behaviors: readonly Behavior[]): Behavior[] {
  return behaviors
    .map((behavior, index) => ({ behavior, index }))
    .sort((a, b) => b.behavior.priority - a.behavior.priority || a.index - b.index)
    .map((entry) => entry.behavior);
}

// Built-in behaviors are known to resolve to a Result; custom ones get a guard so a throw or a
// rejection becomes a Result too, keeping the "never rejects" promise of send/query/publish.
const builtIn = new WeakSet<Behavior>();
/** Built-ins that can answer at once: their step factory (see {@link Step}). */
const stepFactories = new WeakMap<Behavior, (target: PipelineTarget) => StepMiddleware | undefined>();

/**
 * Marks a built-in behavior whose step may answer synchronously; its public `create` is derived
 * from `createStep` (always a promise), for anyone who calls it directly.
 */
export function builtInStep(
  name: string,
  priority: number,
  createStep: (target: PipelineTarget) => StepMiddleware | undefined,
): Behavior {
  const behavior: Behavior = {
    name,
    priority,
    create(target) {
      const step = createStep(target);
      if (step === undefined) return undefined;
      return (payload, ctx, next) => settle(step(payload, ctx, next));
    },
  };
  builtIn.add(behavior);
  stepFactories.set(behavior, createStep);
  return behavior;
}

/** Checks options that name message types against the types that got a pipeline at `build()`. */
export type TypeCheck = (types: ReadonlySet<string>, issues: IssueList) => void;
const typeChecks = new WeakMap<Behavior, TypeCheck>();

export function markBuiltIn<B extends Behavior>(behavior: B): B {
  builtIn.add(behavior);
  return behavior;
}

export function addTypeCheck(behavior: Behavior, check: TypeCheck): void {
  typeChecks.set(behavior, check);
}

export function typeCheckOf(behavior: Behavior): TypeCheck | undefined {
  return typeChecks.get(behavior);
}

function guarded(middleware: Middleware, inner: Next): Next {
  return (payload, ctx) => {
    try {
      // Promise.resolve: a custom behavior may answer with any thenable (even one whose `then`
      // returns nothing); the steps around it get a native promise.
      return Promise.resolve(middleware(payload, ctx, inner)).then(undefined, errFromThrown);
    } catch (thrown) {
      return Promise.resolve(errFromThrown(thrown));
    }
  };
}

/**
 * Composes the pipeline for one target once; with no behaviors it is the terminal step itself.
 * `step` may answer at once (for callers that take a Result synchronously); `run` is the same as
 * a promise.
 */
/** A custom behavior's `create`: a throw there is a configuration mistake, reported as one at build. */
function createMiddleware(behavior: Behavior, target: PipelineTarget): ReturnType<Behavior["create"]> {
  try {
    return behavior.create(target);
  } catch (thrown) {
    throw new CatgaConfigError([
      {
        path: `behaviors.${behavior.name}`,
        message: `create() threw for ${target.kind} ${target.key}: ${describeThrown(thrown)}`,
      },
    ]);
  }
}

export function composePipeline(
  ordered: readonly Behavior[],
  target: PipelineTarget,
  terminal: Step,
  terminalRun?: Next,
): { run: Next; step: Step; steps: string[] } {
  let step = terminal;
  const steps: string[] = [];
  for (let i = ordered.length - 1; i >= 0; i--) {
    const behavior = ordered[i]!;
    const inner = step;
    const createStep = stepFactories.get(behavior);
    if (createStep !== undefined) {
      const middleware = createStep(target);
      if (middleware === undefined) continue;
      step = (payload, ctx) => middleware(payload, ctx, inner);
    } else {
      const middleware = createMiddleware(behavior, target);
      if (middleware === undefined) continue;
      // Behaviors written against the public `Next` get promises from the steps inside them.
      const next: Next = (payload, ctx) => settle(inner(payload, ctx));
      step = builtIn.has(behavior)
        ? (payload, ctx) => middleware(payload, ctx, next)
        : guarded(middleware, next);
    }
    steps.unshift(behavior.name);
  }
  const composed = step;
  if (steps.length === 0 && terminalRun !== undefined) return { run: terminalRun, step: composed, steps };
  return { run: (payload, ctx) => settle(composed(payload, ctx)), step: composed, steps };
}
