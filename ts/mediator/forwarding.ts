import type { Messaging } from "./context.js";
import type { AnyContract } from "./contracts.js";
import type { Result } from "./result.js";

/** Where a forwarded call goes: a mediator, or the failure to answer instead. */
export type ForwardTarget = Messaging<AnyContract> | Promise<Result<never>>;

// The class's instance type is `Messaging<Handled>` (declared once, in context.ts) plus what the
// class adds; the calls themselves are set on the prototype below with untyped signatures.
export interface MessagingForwarder<Handled extends AnyContract = AnyContract> extends Messaging<Handled> {}

/**
 * A stand-in for a mediator that forwards `send`/`query`/`publish` to the one {@link forwardTo}
 * picks per call (the test harness's current build, the NestJS module's mediator once built).
 * Extending it keeps the overloads in one place, `Messaging`, instead of repeating them per class.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above
// biome-ignore lint/correctness/noUnusedVariables: `Handled` is used by the merged interface
export abstract class MessagingForwarder<Handled extends AnyContract = AnyContract> {
  /** @internal the mediator this call goes to, or the failure it resolves with instead */
  protected abstract forwardTo(contract: AnyContract): ForwardTarget;
}

type Call = (contract: AnyContract, payload: unknown, options?: unknown) => Promise<Result<unknown>>;
type Loose = Record<"send" | "query" | "publish", Call> & { forwardTo(contract: AnyContract): ForwardTarget };

function forward(method: "send" | "query" | "publish"): Call {
  return function (this: Loose, contract, payload, options) {
    const target = this.forwardTo(contract);
    if (target instanceof Promise) return target;
    return (target as unknown as Loose)[method](contract, payload, options);
  };
}

const prototype = MessagingForwarder.prototype as unknown as Loose;
prototype.send = forward("send");
prototype.query = forward("query");
prototype.publish = forward("publish");
