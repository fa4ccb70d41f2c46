/**
 * Membership by heartbeats on core NATS: every instance publishes a small envelope on
 * `<prefix>.cluster.members.<service>` every `heartbeatMs` and listens on
 * `<prefix>.cluster.members.>`; an instance not heard from for 1.5 of its own intervals is gone
 * (checked every quarter interval, so within 2 intervals), one that says goodbye is gone at once.
 *
 * Why heartbeats and not KV entries: liveness is exactly "has it spoken lately", which a
 * heartbeat answers with one fan-out message and no storage, and everyone learns of a death at
 * the same time without polling. KV entries would need a per-key TTL (not in nats-server 2.9),
 * key listing and a watch to tell joins and leaves, and every renewal would be a replicated
 * write. Membership needs no agreement: each instance's view converges within an interval, and
 * anything that must be agreed on (a leader, a lock) goes through KV compare-and-set instead.
 */
import { EventEmitter } from "node:events";
import type { NatsConnection } from "../nats/connection.js";
import { EnvelopeCodec } from "../nats/wire.js";
import type { Clock } from "./lease.js";

/** One instance of a service, as last announced. */
export interface Member {
  readonly service: string;
  readonly instanceId: string;
  /** Its version (semver). */
  readonly version: string;
  /** Relative capacity. */
  readonly weight: number;
  /** The load it reported with its last heartbeat. */
  readonly load: number;
  /** When it started, ms since the Unix epoch (its own wall clock). */
  readonly startedAt: number;
  /** Its heartbeat interval: it is dropped when silent for 1.5 of these. */
  readonly heartbeatMs: number;
  /** True for the instance reading the list. */
  readonly self: boolean;
  /** The sharded contract types it handles (docs/architecture/cluster.md, "Sharded handlers"). */
  readonly shards: readonly string[];
  /** The command and query types it serves on its own subject (balanced sends pick among these). */
  readonly serves: readonly string[];
}

/** Why a member left the view. */
export type LeaveReason = "left" | "expired";

/** Events of a membership view: what a `Cluster` emits as instances join and leave. */
export interface MembershipEvents {
  /** An instance was seen for the first time (or again after it left). */
  join: [member: Member];
  /** An instance said goodbye (`left`) or fell silent (`expired`). */
  leave: [member: Member, reason: LeaveReason];
}

/** What a heartbeat carries (MessagePack in a Catga event envelope). */
interface Heartbeat {
  readonly service: string;
  readonly instanceId: string;
  readonly version: string;
  readonly weight: number;
  readonly load: number;
  readonly startedAt: number;
  readonly heartbeatMs: number;
  readonly shards?: readonly string[];
  readonly serves?: readonly string[];
  /** Sent once by an instance shutting down. */
  readonly leaving?: true;
}

const HEARTBEAT_TYPE = "catga.cluster.heartbeat";
/** A member is dropped after this many of its intervals without a heartbeat. */
export const EXPIRY_INTERVALS = 1.5;
/** The expiry sweep runs this many times per own interval (detection ≤ 1.5 + 0.25 intervals). */
const SWEEPS_PER_INTERVAL = 4;

interface Seen {
  member: Member;
  lastSeen: number;
}

export class Membership extends EventEmitter<MembershipEvents> {
  private readonly codec = new EnvelopeCodec();
  private readonly seen = new Map<string, Seen>();
  private readonly subject: string;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private answerTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private load = 0;
  private changes = 0;
  private stopped = false;

  constructor(
    private readonly connection: NatsConnection,
    private readonly prefix: string,
    readonly self: Omit<Member, "load" | "self">,
    private readonly loadOf: (() => number) | undefined,
    private readonly clock: Clock,
  ) {
    super();
    this.subject = `${prefix}.cluster.members.${self.service}`;
  }

  /** Subscribes, then announces itself (others answer with their own heartbeat at once). */
  async start(): Promise<void> {
    this.unsubscribe = await this.connection.subscribe(heartbeatSubjects(this.prefix), {}, async (batch) => {
      for (const bytes of batch.envelopes) this.receive(bytes);
    });
    this.beat();
    this.sweepTimer = setInterval(() => this.sweep(), this.self.heartbeatMs / SWEEPS_PER_INTERVAL);
    this.sweepTimer.unref();
  }

  /** Sets the load reported from the next heartbeat on. */
  setLoad(load: number): void {
    this.load = load;
  }

  /**
   * Bumped whenever an instance joins, leaves, or announces another weight or other types: a list
   * derived from `members()` that ignores `load` stays valid while this holds (the balancer keeps
   * its candidates per type so, instead of rebuilding them per send).
   */
  get version(): number {
    return this.changes;
  }

  /** Every instance in view, this one first; none once stopped (this one left, the view is no longer kept). */
  members(): Member[] {
    if (this.stopped) return [];
    return [this.selfMember(), ...[...this.seen.values()].map((s) => s.member)];
  }

  private selfMember(): Member {
    return { ...this.self, load: this.currentLoad(), self: true };
  }

  private currentLoad(): number {
    if (this.loadOf === undefined) return this.load;
    try {
      const load = this.loadOf();
      return typeof load === "number" && Number.isFinite(load) && load >= 0 ? load : this.load;
    } catch {
      return this.load; // a failing load callback must not stop heartbeats
    }
  }

  private beat(): void {
    clearTimeout(this.heartbeatTimer);
    this.publish(false);
    this.heartbeatTimer = setTimeout(() => this.beat(), this.self.heartbeatMs);
  }

  private publish(leaving: boolean): Promise<void> {
    const { service, instanceId, version, weight, startedAt, heartbeatMs, shards, serves } = this.self;
    const heartbeat: Heartbeat = {
      service,
      instanceId,
      version,
      weight,
      load: this.currentLoad(),
      startedAt,
      heartbeatMs,
      shards,
      serves,
      ...(leaving ? { leaving: true as const } : {}),
    };
    const bytes = this.codec.encodeNew("event", HEARTBEAT_TYPE, {}, heartbeat);
    // A heartbeat that cannot be sent (disconnected, closing) is simply missed: the next one counts.
    return this.connection.publish(this.subject, bytes).catch(() => undefined);
  }

  private receive(bytes: Buffer): void {
    const heard = readHeartbeat(this.codec, bytes);
    if (heard === undefined || heard.member.instanceId === this.self.instanceId) return;
    const { member, leaving } = heard;
    const known = this.seen.get(member.instanceId);
    if (leaving) {
      if (known !== undefined) {
        this.seen.delete(member.instanceId);
        this.changes++;
        this.emit("leave", known.member, "left");
      }
      return;
    }
    this.seen.set(member.instanceId, { member, lastSeen: this.clock() });
    if (known === undefined || !sameRole(known.member, member)) this.changes++;
    if (known === undefined) {
      this.emit("join", member);
      this.answerSoon();
    }
  }

  /** A newcomer learns of everyone within a round trip, not an interval: answer it (coalesced). */
  private answerSoon(): void {
    if (this.answerTimer !== undefined || this.heartbeatTimer === undefined) return;
    this.answerTimer = setTimeout(() => {
      this.answerTimer = undefined;
      if (this.heartbeatTimer !== undefined) this.beat();
    }, 10);
  }

  private sweep(): void {
    const now = this.clock();
    for (const [id, { member, lastSeen }] of this.seen) {
      if (now - lastSeen > member.heartbeatMs * EXPIRY_INTERVALS) {
        this.seen.delete(id);
        this.changes++;
        this.emit("leave", member, "expired");
      }
    }
  }

  /** Says goodbye (others drop this instance at once) and stops listening. */
  async stop(): Promise<void> {
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.answerTimer);
    clearInterval(this.sweepTimer);
    this.heartbeatTimer = undefined;
    await this.publish(true);
    await this.unsubscribe?.();
    // Nothing updates the view from here on: a stale list would name instances long gone.
    this.stopped = true;
    this.seen.clear();
    this.changes++;
  }
}

/** The subject every heartbeat of a prefix is published under (`>`: any service). */
export function heartbeatSubjects(prefix: string): string {
  return `${prefix}.cluster.members.>`;
}

/**
 * The member a heartbeat announces (as seen by another instance: `self` false), and whether it
 * is saying goodbye; undefined for anything else published under the prefix.
 */
export function readHeartbeat(
  codec: EnvelopeCodec,
  bytes: Buffer,
): { member: Member; leaving: boolean } | undefined {
  let heartbeat: unknown;
  try {
    const envelope = codec.decodeMessage(bytes);
    if (envelope.type !== HEARTBEAT_TYPE) return undefined;
    heartbeat = envelope.payload;
  } catch {
    return undefined; // not ours: something else publishes under the prefix
  }
  if (!isHeartbeat(heartbeat)) return undefined;
  const member: Member = {
    service: heartbeat.service,
    instanceId: heartbeat.instanceId,
    version: heartbeat.version,
    // Another process (another version, a bug) may announce anything: a weight that is not one counts as 1.
    weight:
      typeof heartbeat.weight === "number" && heartbeat.weight > 0 && Number.isFinite(heartbeat.weight)
        ? heartbeat.weight
        : 1,
    load: heartbeat.load,
    startedAt: heartbeat.startedAt,
    heartbeatMs: heartbeat.heartbeatMs,
    self: false,
    shards: strings(heartbeat.shards),
    serves: strings(heartbeat.serves),
  };
  return { member, leaving: heartbeat.leaving === true };
}

function isHeartbeat(value: unknown): value is Heartbeat {
  const h = value as Partial<Heartbeat> | null;
  return (
    typeof h === "object" &&
    h !== null &&
    typeof h.service === "string" &&
    typeof h.instanceId === "string" &&
    h.instanceId.length > 0 &&
    typeof h.heartbeatMs === "number" &&
    h.heartbeatMs > 0
  );
}

/** Same weight and same types: what balancing and sharding read of a member besides its id. */
function sameRole(a: Member, b: Member): boolean {
  return a.weight === b.weight && sameList(a.serves, b.serves) && sameList(a.shards, b.shards);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((t): t is string => typeof t === "string") : [];
}
