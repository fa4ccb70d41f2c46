/**
 * Sharded handlers (docs/architecture/cluster.md, "Sharded handlers"): the handler of a contract registered with
 * `shardBy` runs only on the instance that owns the message's key, one message per key at a time.
 * The mediator computes and checks the key; who owns it is the transport's `shards` gate, installed
 * by `cluster()`. Without a gate (in process) this process owns every key; the NATS transport
 * serves a sharded type only once `cluster()` has installed its gate.
 */
import { describeThrown, ErrorCodes } from "../errors.js";
import type { HandlerContext } from "./context.js";
import { type Handler, isPending } from "./pipeline.js";
import { err, errFromThrownIn, type Result, returned } from "./result.js";
import { requestRemote, type Transport } from "./transport.js";

/** Picks the shard key of a payload: the same key, the same owner. Must return a string. */
export type ShardBy<Payload> = (payload: Payload) => string;

/**
 * Header a router sets on a request it sends to the key's owner: `<ownerId> <messageId>`. An
 * instance that gets a request so marked and does not own the key refuses it (retryable) instead
 * of forwarding it again, so a message hops at most once. The message id binds the mark to this
 * message: a child message that inherits its cause's headers is not taken as routed.
 */
export const SHARD_ROUTE_HEADER = "catga-shard-route";

/**
 * The key of `payload`, or a CATGA_INVALID_ARGUMENT Result naming `field` (the option that picked
 * it: `shardBy`, or a consistent-hash route's `hashBy`) when it throws or returns no string.
 */
export function shardKeyOf(
  type: string,
  keyOf: (payload: unknown) => unknown,
  payload: unknown,
  field: "shardBy" | "hashBy",
): string | Result<never> {
  let key: unknown;
  try {
    key = keyOf(payload);
  } catch (thrown) {
    return err(ErrorCodes.INVALID_ARGUMENT, `${field} of "${type}" threw: ${describeThrown(thrown)}`, {
      field,
    });
  }
  if (typeof key !== "string")
    return err(
      ErrorCodes.INVALID_ARGUMENT,
      `${field} of "${type}" must return a string key, got ${key === null ? "null" : typeof key}`,
      { field },
    );
  return key;
}

/**
 * Wraps a sharded contract's handler: computes the key, then runs the handler here when the
 * transport's gate says this instance owns it (queued behind the key's earlier messages), or
 * forwards the message to the owner through the transport.
 */
export function shardedHandler(
  type: string,
  shardBy: (payload: unknown) => unknown,
  handler: Handler,
  transport: Transport | undefined,
): Handler {
  return (payload: unknown, ctx: HandlerContext) => {
    const key = shardKeyOf(type, shardBy, payload, "shardBy");
    if (typeof key !== "string") return key;
    const gate = transport?.shards;
    if (gate === undefined) return handler(payload, ctx);
    const route = ctx.headers[SHARD_ROUTE_HEADER];
    const routedHere = typeof route === "string" && route.endsWith(` ${ctx.messageId}`);
    // Synchronous when the handler is: its reply then travels with the batch it came in
    // (benches/RESULTS.md, "Session 21").
    const work = (): Result<unknown> | Promise<Result<unknown>> => {
      let value: unknown;
      try {
        value = handler(payload, ctx);
      } catch (thrown) {
        return errFromThrownIn(thrown, ctx.signal);
      }
      // A handler returns a value or a promise of one; isPending only asks for a `then`.
      if (!isPending(value as Result<unknown>)) return returned(value);
      return Promise.resolve(value).then(returned, (thrown: unknown) => errFromThrownIn(thrown, ctx.signal));
    };
    // Not ours (or no longer, once its turn came): the transport routes it to the owner, and
    // retries while ownership moves.
    const forward = () => requestRemote(transport!, ctx, payload).then(unwrapResult); // gate set ⇒ transport set
    const outcome = (result: Result<unknown>) =>
      !routedHere && isShardRefusal(result) ? forward() : unwrapResult(result);
    const running = gate.run(type, key, routedHere, work);
    if (running === undefined) return forward();
    // Any thenable a gate returns (not only a native promise) is awaited.
    return isPending(running) ? Promise.resolve(running).then(outcome) : outcome(running);
  };
}

/** The retryable refusal of an instance that does not own a key now (`details.shard.retryable`). */
export function isShardRefusal(result: Result<unknown>): boolean {
  if (result.ok || result.error.code !== ErrorCodes.TRANSPORT) return false;
  const details = result.error.details as { shard?: { retryable?: unknown } } | undefined;
  return details?.shard?.retryable === true;
}

/** Back to what a handler returns: the value, or the Err itself (the pipeline keeps it as the failure). */
function unwrapResult(result: Result<unknown>): unknown {
  return result.ok ? result.value : result;
}
