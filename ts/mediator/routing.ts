/**
 * How remote sends of a contract pick an instance (docs/architecture/cluster.md, "Load balancing"): declared
 * per contract with `.route(Contract, options)` on the builder, carried out by the router that
 * `cluster()` plugs into a NATS transport. Data and checks only; no I/O here.
 */
import { boolean, type FieldCheck, func, integer, oneOf } from "../checks.js";
import type { PayloadOf } from "./contracts.js";

/** The ways a remote send can pick an instance. */
export const BALANCE_STRATEGIES = [
  "queue-group",
  "round-robin",
  "least-outstanding",
  "weighted-random",
  "consistent-hash",
  "adaptive",
] as const;

/**
 * `queue-group`: NATS picks (no cluster needed). `round-robin`: each live instance in turn.
 * `least-outstanding`: the one with the fewest of this process's requests in flight.
 * `weighted-random`: at random, in proportion to each instance's `weight`. `consistent-hash`: the
 * same `hashBy` key to the same instance while membership holds. `adaptive`: the better of two
 * random instances by latency and error rate (moving averages).
 */
export type BalanceStrategy = (typeof BALANCE_STRATEGIES)[number];

/** Options of `.route(contract, options)`, for a contract declared `.remote()`. */
export interface RouteOptions<C> {
  /**
   * How to pick the instance that handles each send.
   * @default "queue-group"
   */
  readonly balance?: BalanceStrategy;
  /** The key of a send, for `consistent-hash` (required there): a string. */
  readonly hashBy?: (payload: PayloadOf<C>) => string;
  /**
   * Whether a send may run twice: when the picked instance does not answer within
   * {@link RouteOptions.attemptTimeoutMs}, an idempotent send is retried on another instance
   * within the caller's deadline; a non-idempotent one gets its one attempt.
   * @default true for queries, false for commands
   */
  readonly idempotent?: boolean;
  /**
   * How long one attempt of an idempotent send waits before trying another instance (ms).
   * @default 1000
   */
  readonly attemptTimeoutMs?: number;
}

/** A contract's route as the transport's router reads it. */
export interface RouteSpec {
  /** How an instance is picked for each send. */
  readonly balance: BalanceStrategy;
  /** The key a `consistent-hash` route hashes (from the payload); undefined for other strategies. */
  readonly hashBy: ((payload: unknown) => unknown) | undefined;
  /** Whether a send may be retried on another instance when one does not answer. */
  readonly idempotent: boolean;
  /** How long one instance may take before the next is tried (ms). */
  readonly attemptTimeoutMs: number;
}

export const ROUTE_DEFAULTS = { balance: "queue-group", attemptTimeoutMs: 1000 } as const;

export const routeFields: Record<string, FieldCheck> = {
  balance: oneOf(BALANCE_STRATEGIES),
  hashBy: func,
  idempotent: boolean,
  attemptTimeoutMs: integer(1, 2_147_483_647),
};
