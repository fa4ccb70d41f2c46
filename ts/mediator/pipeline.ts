import type { IssueList } from "./config.js";
import type { HandlerContext } from "./context.js";
import type { AnyContract, ContractKind } from "./contracts.js";
import { type ErrResult, errFromThrown, errFromThrownIn, ok, type Result } from "./result.js";

/** The context behaviors see: a handler context that can be re-issued with another signal. */
export interface BehaviorContext extends HandlerContext {
  withSignal(signal: AbortSignal): BehaviorContext;
}

/** The rest of the pipeline; may be called more than once (retry) or not at all (breaker open). */
export type Next = (payload: unknown, ctx: BehaviorContext) => Promise<Result<unknown>>;

/** One behavior's step for one target. It must resolve to a Result and never reject. */
export type Middleware = (payload: unknown, ctx: BehaviorContext, next: Next) => Promise<Result<unknown>>;

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
  readonly name: string;
  readonly priority: number;
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
 * Innermost step: call the handler and turn its value or throw into a Result. Written without
 * async/await or per-call closures: this is the whole call path when no behavior is configured.
 */
export function handlerStep(handler: Handler): Next {
  return (payload, ctx) => {
    let out: unknown;
    try {
      out = handler(payload, ctx);
    } catch (thrown) {
      return Promise.resolve(errFromThrownIn(thrown, ctx.signal));
    }
    if (out instanceof Promise) return out.then(ok, onRejected(ctx));
    if (isThenable(out)) return Promise.resolve(out).then(ok, onRejected(ctx));
    return Promise.resolve(ok(out));
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
): Result<unknown> | Promise<Result<unknown>> {
  let out: unknown;
  try {
    out = handler(payload, ctx);
  } catch (thrown) {
    return errFromThrownIn(thrown, ctx.signal);
  }
  if (out instanceof Promise) return out.then(ok, onRejected(ctx));
  if (isThenable(out)) return Promise.resolve(out).then(ok, onRejected(ctx));
  return ok(out);
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
      return middleware(payload, ctx, inner).then(undefined, errFromThrown);
    } catch (thrown) {
      return Promise.resolve(errFromThrown(thrown));
    }
  };
}

/** Composes the pipeline for one target once; with no behaviors it is the terminal step itself. */
export function composePipeline(
  ordered: readonly Behavior[],
  target: PipelineTarget,
  terminal: Next,
): { run: Next; steps: string[] } {
  let run = terminal;
  const steps: string[] = [];
  for (let i = ordered.length - 1; i >= 0; i--) {
    const behavior = ordered[i]!;
    const middleware = behavior.create(target);
    if (middleware === undefined) continue;
    const inner = run;
    run = builtIn.has(behavior)
      ? (payload, ctx) => middleware(payload, ctx, inner)
      : guarded(middleware, inner);
    steps.unshift(behavior.name);
  }
  return { run, steps };
}
