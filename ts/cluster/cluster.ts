/**
 * The cluster API on a NATS transport: membership (heartbeats on core NATS), leader election and
 * locks (leases on JetStream KV, fenced by revision), and NATS service discovery. Built on what
 * NATS already agrees on; Catga runs no consensus of its own (docs/architecture/cluster.md).
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { CatgaConfigError, CatgaError, ErrorCodes } from "../errors.js";
import type { Transport } from "../mediator/transport.js";
import type { NatsDiscovery } from "../native/binding.generated.js";
import { fromNativeError } from "../native/errors.js";
import { NatsTransport } from "../transport/nats-transport.js";
import { Balancer } from "./balancer.js";
import { Leadership } from "./leader.js";
import { type Clock, Lease, type LeaseStore, monotonic } from "./lease.js";
import { acquireAndRun, type HeldLock } from "./lock.js";
import { type Member, Membership, type MembershipEvents } from "./membership.js";
import {
  assertClusterOptions,
  assertLeaderOptions,
  assertLeaseName,
  assertLoad,
  assertLockOptions,
  CLUSTER_DEFAULTS,
  type ClusterOptions,
  type LeaderOptions,
  type LockOptions,
} from "./options.js";
import { ShardRouter } from "./shards.js";

/** What `cluster()` runs on: a NATS transport, or a built Catga whose transport is one. */
export type ClusterTarget = NatsTransport | { readonly transport: Transport | undefined };

/** Counters of this instance, read by observability. */
export interface ClusterStats {
  /** Elections this instance won, by leadership name. */
  readonly elections: ReadonlyMap<string, number>;
  /** View changes of the sharded types handled here (members joined or left). */
  readonly rebalances: number;
  /** Keys this instance had handled that moved to another owner at a view change. */
  readonly shardMoves: number;
}

/**
 * One instance's membership of a cluster. Make it with `await cluster(transport, options)`;
 * `close()` it before closing the transport. Events: `join` and `leave` (see {@link MembershipEvents}).
 */
export class Cluster extends EventEmitter<MembershipEvents> {
  private readonly leaderships = new Map<string, Leadership>();
  private readonly electionCounts = new Map<string, number>();
  private closing: Promise<void> | undefined;
  /** Aborted by `close()`: waiting `withLock` calls stop, running ones see `lock.signal` abort. */
  private readonly closed = new AbortController();
  /** `withLock` calls under way, waited for by `close()` (a holder's lease is renewed until it returns). */
  private readonly lockCalls = new Set<Promise<unknown>>();

  private constructor(
    /** The service this instance belongs to. */
    readonly service: string,
    /** This instance's id. */
    readonly instanceId: string,
    private readonly transport: NatsTransport,
    private readonly membership: Membership,
    private readonly kv: LeaseStore,
    private readonly discovery: NatsDiscovery | undefined,
    private readonly clock: Clock,
    private readonly shards: ShardRouter,
  ) {
    super();
    membership.on("join", (member) => this.emit("join", member));
    membership.on("leave", (member, reason) => this.emit("leave", member, reason));
  }

  /** @internal Use `cluster()`. */
  static async start(target: ClusterTarget, options: ClusterOptions = {}): Promise<Cluster> {
    assertClusterOptions(options);
    const transport = natsTransportOf(target);
    // Claimed before the first await, so two concurrent calls cannot both pass.
    transport.claimCluster();
    try {
      const started = await Cluster.open(transport, options);
      transport.closesCluster(() => started.close());
      return started;
    } catch (error) {
      transport.releaseCluster();
      throw error;
    }
  }

  private static async open(transport: NatsTransport, options: ClusterOptions): Promise<Cluster> {
    const service = options.service ?? transport.service;
    if (!/^[A-Za-z0-9_-]+$/.test(service))
      throw new CatgaConfigError([
        {
          path: "cluster.service",
          message: `the transport's service "${service}" is not a NATS micro name (letters, digits, - or _): pass cluster({ service })`,
        },
      ]);
    const instanceId = options.instanceId ?? `${service}-${randomUUID()}`;
    const version = options.version ?? CLUSTER_DEFAULTS.version;
    const heartbeatMs = options.heartbeatMs ?? CLUSTER_DEFAULTS.heartbeatMs;
    const weight = options.weight ?? CLUSTER_DEFAULTS.weight;
    const connection = transport.connection;
    connection.assertOpen();
    const native = connection.native;
    const bucket = options.bucket ?? CLUSTER_DEFAULTS.bucket;
    const kv = await native.keyValue(bucket, 0, false).catch((error: unknown) => {
      throw fromNativeError(error);
    });
    // Errors from the engine become coded CatgaErrors for every lease step.
    const store: LeaseStore = {
      entry: (key) => kv.entry(key).catch(rethrowNative),
      swap: (key, value, revision) => kv.swap(key, value, revision).catch(rethrowNative),
    };
    const clock = monotonic;
    const membership = new Membership(
      connection,
      transport.prefix,
      {
        service,
        instanceId,
        version,
        weight,
        startedAt: Date.now(),
        heartbeatMs,
        shards: [...(transport.inbound?.shardKeys?.keys() ?? [])],
        serves: servedTypes(transport),
      },
      options.load,
      clock,
    );
    let discovery: NatsDiscovery | undefined;
    try {
      if (options.discovery ?? CLUSTER_DEFAULTS.discovery) {
        discovery = await native
          .startDiscovery(service, version, `Catga service ${service}`, {
            "catga.instance": instanceId,
            "catga.weight": String(weight),
          })
          .catch(rethrowNative);
      }
      await membership.start();
    } catch (error) {
      await discovery?.stop().catch(() => undefined);
      throw error;
    }
    // Every member serves its own subjects (balanced senders pick it there) and routes its sends.
    const shards = new ShardRouter(
      transport,
      membership,
      instanceId,
      transport.inbound?.shardKeys ?? new Map(),
      new Balancer(transport, membership, transport.inbound?.routes ?? new Map(), clock),
      clock,
      heartbeatMs,
    );
    try {
      await shards.start();
    } catch (error) {
      // Nothing of a cluster that did not start may stay behind: no heartbeats, no subscriptions.
      await shards.close().catch(() => undefined);
      await membership.stop().catch(() => undefined);
      await discovery?.stop().catch(() => undefined);
      throw error;
    }
    return new Cluster(service, instanceId, transport, membership, store, discovery, clock, shards);
  }

  /** Every instance in view (this one included, first), optionally of one service. */
  members(service?: string): Member[] {
    const all = this.membership.members();
    return service === undefined ? all : all.filter((m) => m.service === service);
  }

  /** Sets the load this instance reports from its next heartbeat on (a finite number ≥ 0). */
  setLoad(load: number): void {
    assertLoad(load);
    this.assertOpen();
    this.membership.setLoad(load);
  }

  /**
   * Campaigns for leadership of `name` (one handle per name: asking again returns the same one;
   * asking again with another `ttlMs` is CATGA_INVALID_ARGUMENT).
   * See {@link Leadership}: `isLeader`, `token`, `elected`/`revoked`, `resign()`.
   */
  leader(name: string, options: LeaderOptions = {}): Leadership {
    assertLeaseName("name", name);
    assertLeaderOptions(options);
    this.assertOpen();
    const ttlMs = options.ttlMs ?? CLUSTER_DEFAULTS.leaderTtlMs;
    const known = this.leaderships.get(name);
    if (known !== undefined && options.ttlMs !== undefined && options.ttlMs !== known.ttlMs)
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `leader "${name}" already campaigns here with ttlMs ${known.ttlMs}, not ${options.ttlMs}: one handle per name`,
        { details: { field: "ttlMs" } },
      );
    if (known !== undefined) return known;
    const lease = new Lease(this.kv, `leader.${name}`, this.instanceId, ttlMs, this.clock);
    const handle = new Leadership(name, lease, this.countElection, this.clock);
    this.leaderships.set(name, handle);
    return handle;
  }

  private readonly countElection = (name: string): void => {
    this.electionCounts.set(name, (this.electionCounts.get(name) ?? 0) + 1);
  };

  /**
   * Runs `fn` holding the cluster-wide lock `key`, renewed while it runs and released when it
   * settles (resolves or throws). Waits up to `waitMs` for the lock (CATGA_TIMEOUT after).
   * `fn` gets the lock's fencing `token` and a `signal` aborted if the lock is lost meanwhile.
   */
  async withLock<T>(
    key: string,
    fn: (lock: HeldLock) => T | Promise<T>,
    options: LockOptions = {},
  ): Promise<T> {
    assertLeaseName("key", key);
    assertLockOptions(fn, options);
    this.assertOpen();
    const closed = this.closed.signal;
    const call = acquireAndRun({
      kv: this.kv,
      key,
      instance: this.instanceId,
      ttlMs: options.ttlMs ?? CLUSTER_DEFAULTS.lockTtlMs,
      waitMs: options.waitMs ?? CLUSTER_DEFAULTS.lockWaitMs,
      signal: options.signal === undefined ? closed : AbortSignal.any([options.signal, closed]),
      clock: this.clock,
      fn,
    }).catch((error: unknown) => {
      // Stopped by close(), not by the caller's own signal: say so.
      if (closed.aborted && !options.signal?.aborted && (error as CatgaError)?.code === ErrorCodes.ABORTED)
        throw new CatgaError(ErrorCodes.CLOSED, `the cluster closed while lock "${key}" was wanted`, {
          cause: error,
        });
      throw error;
    });
    const tracked = call.then(
      () => undefined,
      () => undefined,
    );
    this.lockCalls.add(tracked);
    void tracked.then(() => this.lockCalls.delete(tracked));
    return call;
  }

  /** Counters for observability (`observability.observeCluster`). */
  stats(): ClusterStats {
    const shards = this.shards.stats();
    return {
      elections: new Map(this.electionCounts),
      rebalances: shards.rebalances,
      shardMoves: shards.moves,
    };
  }

  /**
   * Health as the observability layer reads it: up while open and connected; details list the
   * members in view and, per leadership, who leads.
   */
  health(): { status: "up" | "down"; details: unknown } {
    const connected = this.transport.connection.connected;
    const leaders: Record<string, { leader: string | null; isLeader: boolean }> = {};
    for (const [name, handle] of this.leaderships)
      leaders[name] = { leader: handle.leader ?? null, isLeader: handle.isLeader };
    return {
      status: connected && this.closing === undefined ? "up" : "down",
      details: {
        service: this.service,
        instanceId: this.instanceId,
        members: this.membership.members().length,
        leaders,
      },
    };
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new CatgaError(ErrorCodes.CLOSED, "the cluster is closed");
  }

  /**
   * Leaves: stops `withLock` calls (waiting ones fail CATGA_CLOSED; running ones see `lock.signal`
   * abort and are waited for, their lock held until they return), resigns every leadership (others
   * take over at once), says goodbye (others drop this instance at once) and stops answering
   * discovery. Close it before the transport. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Waiting lock calls fail CATGA_CLOSED; running ones see lock.signal abort, and their lease is
      // kept (renewed) until their function returns, so no other instance runs under that key meanwhile.
      this.closed.abort(new CatgaError(ErrorCodes.CLOSED, "the cluster is closed"));
      await Promise.all([...this.lockCalls]);
      await Promise.all([...this.leaderships.values()].map((handle) => handle.resign()));
      // Hand the keys over before the goodbye: others take them only once this one let go.
      await this.shards.leave();
      await this.membership.stop().catch(() => undefined);
      await this.shards.close();
      await this.discovery?.stop().catch(() => undefined);
      // A round trip: the server has the unsubscribes before close resolves, so a discovery
      // request right after gets "no responders" rather than a subscription nobody answers.
      if (this.transport.connection.connected) await this.transport.connection.flush().catch(() => undefined);
    })();
    return this.closing;
  }
}

/**
 * Joins the cluster of `target`'s NATS connection: starts heartbeats and discovery, and returns
 * the handle for membership, leader election and locks.
 *
 * ```ts
 * const transport = await natsTransport({ servers, service: "billing" });
 * const members = await cluster(transport, { version: "1.4.0" });
 * const leader = members.leader("invoice-run", { ttlMs: 5000 });
 * ```
 */
export function cluster(target: ClusterTarget, options: ClusterOptions = {}): Promise<Cluster> {
  return Cluster.start(target, options);
}

function natsTransportOf(target: ClusterTarget): NatsTransport {
  if (target instanceof NatsTransport) return target;
  const transport = (target as { transport?: unknown } | null | undefined)?.transport;
  if (transport instanceof NatsTransport) return transport;
  throw new CatgaConfigError([
    {
      path: "cluster.transport",
      message: "needs a NATS transport (natsTransport(...)) or a Catga built with one",
    },
  ]);
}

/** The command and query types the mediator attached serves by request (durable ones excepted). */
function servedTypes(transport: NatsTransport): string[] {
  const inbound = transport.inbound;
  if (inbound === undefined) return [];
  const durable = new Set(inbound.durableCommands ?? []);
  return [...inbound.commands, ...inbound.queries].filter((type) => !durable.has(type));
}

function rethrowNative(error: unknown): never {
  throw fromNativeError(error);
}
