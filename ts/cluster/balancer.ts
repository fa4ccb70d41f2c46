/**
 * Load balancing and failover for remote sends (docs/architecture/cluster.md, "Load balancing"): for a contract
 * given `.route(C, { balance })`, picks one live instance that serves the type (from membership)
 * and sends to its own subject. An instance that does not answer is skipped for a while; an
 * idempotent send then tries another instance within the caller's deadline.
 */
import { ErrorCodes } from "../errors.js";
import { err, type Result } from "../mediator/result.js";
import type { RouteSpec } from "../mediator/routing.js";
import { shardKeyOf } from "../mediator/sharding.js";
import type { Envelope } from "../mediator/transport.js";
import type { NatsTransport } from "../transport/nats-transport.js";
import { CachedRing } from "./cached-ring.js";
import type { Clock } from "./lease.js";
import type { Member, Membership } from "./membership.js";

/** How long an instance that did not answer is skipped before it is tried again (ms). */
const SKIP_MS = 2000;
/** Weight of the newest sample in the latency and error moving averages. */
const EWMA_ALPHA = 0.2;
/** Codes that say "this instance did not answer": worth another instance. */
const UNANSWERED = new Set<string>([ErrorCodes.TIMEOUT, ErrorCodes.NO_HANDLER, ErrorCodes.NOT_CONNECTED]);

interface InstanceHealth {
  outstanding: number;
  latencyMs: number | undefined;
  errorRate: number;
  skipUntil: number;
}

export class Balancer {
  private readonly health = new Map<string, InstanceHealth>();
  private readonly turns = new Map<string, number>();
  private readonly rings = new Map<string, { members: readonly Member[]; view: string; ring: CachedRing }>();
  /** Members serving each type, sorted by id, as of a membership version. */
  private readonly serving = new Map<string, { version: number; members: readonly Member[] }>();

  constructor(
    private readonly transport: NatsTransport,
    private readonly membership: Membership,
    private readonly routes: ReadonlyMap<string, RouteSpec>,
    private readonly clock: Clock,
  ) {}

  /** Sends `envelope` to a picked instance, or returns undefined: the queue group takes it. */
  route(envelope: Envelope, signal: AbortSignal): Promise<Result<unknown>> | undefined {
    const spec = this.routes.get(envelope.type);
    if (spec === undefined || spec.balance === "queue-group") return undefined;
    let key: string | undefined;
    if (spec.balance === "consistent-hash" && spec.hashBy !== undefined) {
      const picked = shardKeyOf(envelope.type, spec.hashBy, envelope.payload, "hashBy");
      if (typeof picked !== "string") return Promise.resolve(picked);
      key = picked;
    }
    return this.send(spec, envelope, key, signal);
  }

  private async send(
    spec: RouteSpec,
    envelope: Envelope,
    key: string | undefined,
    signal: AbortSignal,
  ): Promise<Result<unknown>> {
    const deadline = this.clock() + this.transport.requestTimeoutMs;
    let tried: Set<string> | undefined; // only after a failed attempt
    for (;;) {
      const left = Math.floor(deadline - this.clock());
      const candidates = this.candidates(envelope.type, tried);
      // Nobody known (a cluster still forming, or every one tried): NATS picks.
      if (candidates.length === 0 || left <= 0)
        return left <= 0
          ? err(ErrorCodes.TIMEOUT, `no instance of "${envelope.type}" answered in time`, {
              timeoutMs: this.transport.requestTimeoutMs,
            })
          : this.transport.requestAt(this.transport.subjectFor(envelope), envelope, left);
      const instance = this.pick(spec, envelope.type, candidates, key);
      const health = this.healthOf(instance);
      const timeoutMs = spec.idempotent ? Math.min(left, spec.attemptTimeoutMs) : left;
      const started = this.clock();
      health.outstanding++;
      const result = await this.transport.requestAt(
        this.transport.instanceSubject(envelope.type, instance),
        envelope,
        timeoutMs,
      );
      health.outstanding--;
      const unanswered = !result.ok && UNANSWERED.has(result.error.code);
      const elapsed = this.clock() - started;
      health.latencyMs = health.latencyMs === undefined ? elapsed : ewma(health.latencyMs, elapsed);
      health.errorRate = ewma(health.errorRate, unanswered ? 1 : 0);
      if (!unanswered) return result;
      health.skipUntil = this.clock() + SKIP_MS;
      if (!spec.idempotent || signal.aborted) return result;
      tried ??= new Set();
      tried.add(instance);
    }
  }

  /**
   * Live instances serving `type`, healthy ones only unless none is. Kept per membership version
   * and returned as is while no instance is skipped: rebuilding it per send (a members() copy, a
   * filter and a sort) cost ~5 % of a sender's CPU (benches/RESULTS.md, "Cluster: sharded send").
   */
  private candidates(type: string, tried: ReadonlySet<string> | undefined): readonly Member[] {
    const all = this.servingOf(type);
    const serving = tried === undefined ? all : all.filter((m) => !tried.has(m.instanceId));
    const now = this.clock();
    const skipped = (m: Member) => (this.health.get(m.instanceId)?.skipUntil ?? 0) > now;
    if (!serving.some(skipped)) return serving;
    const healthy = serving.filter((m) => !skipped(m));
    return healthy.length > 0 ? healthy : serving;
  }

  private servingOf(type: string): readonly Member[] {
    const version = this.membership.version;
    const known = this.serving.get(type);
    if (known !== undefined && known.version === version) return known.members;
    const members = this.membership
      .members()
      .filter((m) => m.serves.includes(type))
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    this.serving.set(type, { version, members });
    return members;
  }

  private pick(
    spec: RouteSpec,
    type: string,
    candidates: readonly Member[],
    key: string | undefined,
  ): string {
    switch (spec.balance) {
      case "round-robin": {
        const turn = this.turns.get(type) ?? 0;
        this.turns.set(type, turn + 1);
        return candidates[turn % candidates.length]!.instanceId;
      }
      case "least-outstanding": {
        let best = candidates[0]!;
        for (const m of candidates)
          if (this.healthOf(m.instanceId).outstanding < this.healthOf(best.instanceId).outstanding) best = m;
        return best.instanceId;
      }
      case "weighted-random": {
        const total = candidates.reduce((sum, m) => sum + m.weight, 0);
        let point = Math.random() * total;
        for (const m of candidates) {
          point -= m.weight;
          if (point < 0) return m.instanceId;
        }
        return candidates[candidates.length - 1]!.instanceId;
      }
      case "consistent-hash":
        return this.ringOf(type, candidates).lookup(key ?? "") ?? candidates[0]!.instanceId;
      default: {
        // adaptive: the better of two at random (power of two choices), by latency × errors;
        // an instance never measured goes first, so every one gets measured.
        const a = candidates[Math.floor(Math.random() * candidates.length)]!;
        const b = candidates[Math.floor(Math.random() * candidates.length)]!;
        return this.score(a.instanceId) <= this.score(b.instanceId) ? a.instanceId : b.instanceId;
      }
    }
  }

  private score(instance: string): number {
    const h = this.healthOf(instance);
    if (h.latencyMs === undefined) return -1;
    return h.latencyMs * (1 + 10 * h.errorRate) * (1 + h.outstanding);
  }

  private ringOf(type: string, candidates: readonly Member[]): CachedRing {
    const known = this.rings.get(type);
    // The same list (no instance skipped, membership unchanged): the same ring, no view string.
    if (known !== undefined && known.members === candidates) return known.ring;
    const view = candidates.map((m) => `${m.instanceId}:${m.weight}`).join(",");
    if (known !== undefined && known.view === view) {
      known.members = candidates;
      return known.ring;
    }
    const ring = CachedRing.of(candidates);
    this.rings.set(type, { members: candidates, view, ring });
    return ring;
  }

  private healthOf(instance: string): InstanceHealth {
    let health = this.health.get(instance);
    if (health === undefined) {
      health = { outstanding: 0, latencyMs: undefined, errorRate: 0, skipUntil: 0 };
      this.health.set(instance, health);
    }
    return health;
  }
}

function ewma(average: number, sample: number): number {
  return average + EWMA_ALPHA * (sample - average);
}
