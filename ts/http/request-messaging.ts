/**
 * `request.catga`: the mediator's `send`/`query`/`publish` as seen from one HTTP request — its
 * W3C trace context goes into the message headers, and the call is counted until it settles so
 * that a graceful close can wait for it.
 */
import type { Headers, Messaging, PublishOptions } from "../mediator/context.js";
import type { AnyContract } from "../mediator/contracts.js";
import type { Result } from "../mediator/result.js";
import type { InFlight } from "./in-flight.js";

/** The calls a route makes; the same overloads as the mediator's (typed per contract). */
export type RequestMessaging<Handled extends AnyContract = AnyContract> = Messaging<Handled>;

/** The mediator calls the request wrapper needs, untyped (typed by {@link Messaging}). */
interface Calls {
  send(contract: unknown, payload: unknown, options?: unknown): Promise<Result<unknown>>;
  query(contract: unknown, payload: unknown, options?: unknown): Promise<Result<unknown>>;
  publish(contract: unknown, payload: unknown, options?: unknown): Promise<Result<unknown>>;
}

/** The caller's options with the request's trace headers; the caller's own headers win. */
function traced(trace: Headers | undefined, options: PublishOptions | undefined): PublishOptions | undefined {
  if (trace === undefined) return options;
  if (options === undefined) return { headers: trace };
  return { ...options, headers: options.headers === undefined ? trace : { ...trace, ...options.headers } };
}

class BoundMessaging {
  constructor(
    private readonly catga: Calls,
    private readonly trace: Headers | undefined,
    private readonly inFlight: InFlight,
  ) {}

  send(contract: unknown, payload: unknown, options?: PublishOptions): Promise<Result<unknown>> {
    return this.inFlight.track(this.catga.send(contract, payload, traced(this.trace, options)));
  }

  query(contract: unknown, payload: unknown, options?: PublishOptions): Promise<Result<unknown>> {
    return this.inFlight.track(this.catga.query(contract, payload, traced(this.trace, options)));
  }

  publish(contract: unknown, payload: unknown, options?: PublishOptions): Promise<Result<unknown>> {
    return this.inFlight.track(this.catga.publish(contract, payload, traced(this.trace, options)));
  }
}

/** The request-bound calls over `catga`. */
export function requestMessaging<Handled extends AnyContract>(
  catga: Messaging<Handled>,
  trace: Headers | undefined,
  inFlight: InFlight,
): RequestMessaging<Handled> {
  // Overloaded signatures do not unify with one implementation signature; both sides are the same calls.
  const calls = catga as unknown as Calls; // the mediator's send/query/publish, typed per contract by Messaging
  return new BoundMessaging(calls, trace, inFlight) as unknown as RequestMessaging<Handled>; // same three calls, typed by the overloads
}
