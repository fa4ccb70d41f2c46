/**
 * A lease on one JetStream KV key, taken and renewed by compare-and-set on the key's revision:
 * the primitive under leader election and locks. No consensus of our own: JetStream orders the
 * writes, and a write lands only if the key is still at the revision its writer read.
 *
 * Time is judged with each process's monotonic clock, never a wall clock, and never compared
 * across machines:
 * - the holder counts its lease from the moment it *sent* the write that took or renewed it;
 * - any other instance counts from when it *observed* that revision (its read came back), which
 *   is later than the write landed, which is later than the holder sent it.
 * So the holder's lease always ends before anyone may take over (clock rates allowing, hence
 * {@link CLOCK_RATE_MARGIN}), and a holder paused past its lease (SIGSTOP, a long GC) finds
 * `current()` empty the moment it runs again, before it acts: validity is computed from the
 * clock when asked, not a flag a timer clears.
 *
 * The fencing token of a term is the revision of the write that began it: renewals keep it, a new
 * term (another holder, or this one after its lease ran out) gets a larger one. Stores that
 * refuse tokens lower than the highest they accepted turn "at most one leader believes it leads"
 * into "at most one leader's writes land" (docs/architecture/cluster.md, "Fencing").
 */
import { randomUUID } from "node:crypto";
import type { NatsKv } from "../native/binding.generated.js";

/** The two KV calls a lease makes. */
export type LeaseStore = Pick<NatsKv, "entry" | "swap">;

/**
 * The holder ends its lease this fraction of the TTL early, so a clock running up to 2 % slow on
 * the holder (or fast on a follower) still ends the holder's lease first. Real clock rates differ
 * by parts per million; the margin is for VMs whose clocks are slewed.
 */
export const CLOCK_RATE_MARGIN = 0.02;

/** The monotonic clock leases are judged by (ms). */
export type Clock = () => number;
export const monotonic: Clock = () => performance.now();

/** One term of a lease held by this process. */
export interface LeaseTerm {
  /** The fencing token: the KV revision of the write that began this term. */
  readonly token: number;
}

interface Held extends LeaseTerm {
  /** Revision of the latest write of this term (the next renewal swaps against it). */
  readonly revision: number;
  /** Clock reading just before that write was sent. */
  readonly sentAt: number;
}

interface Observed {
  readonly revision: number;
  readonly instance: string;
  readonly ttlMs: number;
  /** Clock reading when this revision was first seen. */
  readonly seenAt: number;
}

/** What a lease key holds (JSON, readable with `nats kv get`); released = empty value. */
interface LeaseValue {
  /** The holding instance. */
  readonly instance: string;
  /** This lease object (an instance may hold several, or restart with the same id). */
  readonly holder: string;
  readonly ttlMs: number;
}

const RELEASED = Buffer.alloc(0);

export class Lease {
  private held: Held | undefined;
  private observed: Observed | undefined;
  private readonly value: Buffer;
  private readonly leaseMs: number;

  constructor(
    private readonly kv: LeaseStore,
    readonly key: string,
    readonly instance: string,
    readonly ttlMs: number,
    private readonly clock: Clock = monotonic,
  ) {
    const value: LeaseValue = { instance, holder: `${instance}/${randomUUID()}`, ttlMs };
    this.value = Buffer.from(JSON.stringify(value));
    this.leaseMs = ttlMs * (1 - CLOCK_RATE_MARGIN);
  }

  /** The term held right now by the clock, or undefined (never held, lost, or ran out). */
  current(now = this.clock()): LeaseTerm | undefined {
    const held = this.held;
    return held !== undefined && now < held.sentAt + this.leaseMs ? held : undefined;
  }

  /** Clock reading at which the held lease runs out unless renewed; undefined when none is held. */
  expiresAt(): number | undefined {
    return this.held === undefined ? undefined : this.held.sentAt + this.leaseMs;
  }

  /** Clock reading when the latest write of the held term was sent; undefined when none is held. */
  lastWriteAt(): number | undefined {
    return this.held?.sentAt;
  }

  /** When the holder seen last may be replaced (clock ms); undefined when none is seen. */
  takeoverAt(): number | undefined {
    return this.observed === undefined ? undefined : this.observed.seenAt + this.observed.ttlMs;
  }

  /** The instance holding the lease as far as this process knows (itself included). */
  holder(): string | undefined {
    if (this.current() !== undefined) return this.instance;
    return this.observed?.instance;
  }

  /**
   * One step: renews the lease when this process holds it, else reads the key and takes it when
   * it is free, released, or its holder's revision has been seen unchanged for that holder's
   * TTL. Resolves with the term held afterwards. Transport failures reject; a write whose answer
   * was lost is then treated as another holder's (waited out), never assumed to be ours.
   */
  async step(): Promise<LeaseTerm | undefined> {
    const held = this.held;
    if (held !== undefined) {
      const sentAt = this.clock();
      const revision = await this.kv.swap(this.key, this.value, held.revision);
      if (revision !== null) {
        // A renewal sent after the lease ran out begins a new term: work done in the gap (there
        // should be none, `current()` was empty) must not share a token with what follows.
        const continuing = sentAt < held.sentAt + this.leaseMs;
        this.held = { token: continuing ? held.token : revision, revision, sentAt };
        return this.current();
      }
      this.held = undefined;
    }
    const entry = await this.kv.entry(this.key);
    const seenAt = this.clock();
    if (entry === null) return this.take(0);
    const seen = parse(entry.value, this.ttlMs);
    if (seen === undefined) return this.take(entry.revision);
    if (this.observed?.revision !== entry.revision) {
      this.observed = { revision: entry.revision, instance: seen.instance, ttlMs: seen.ttlMs, seenAt };
      return undefined;
    }
    if (seenAt - this.observed.seenAt >= this.observed.ttlMs) return this.take(entry.revision);
    return undefined;
  }

  /**
   * Writes this holder over `revision`, then writes it once more over its own write before it
   * counts as held: the new term, or undefined when another write came first. Why twice: a
   * replicated KV bucket on nats-server 2.9 was seen accepting two compare-and-set writes against
   * one revision when its stream leader moved (docs/architecture/cluster.md, "Failure model"); of
   * two such winners only the later one's confirmation lands, so at most one announces itself.
   */
  private async take(revision: number): Promise<LeaseTerm | undefined> {
    const sentAt = this.clock();
    const written = await this.kv.swap(this.key, this.value, revision);
    if (written === null) return undefined;
    const confirmed = await this.kv.swap(this.key, this.value, written);
    if (confirmed === null) return undefined; // another holder wrote over ours: theirs, not ours
    this.held = { token: written, revision: confirmed, sentAt };
    this.observed = undefined;
    return this.current();
  }

  /**
   * Gives the lease up: clears the key if this process's last write is still the latest (else
   * someone took it already and there is nothing to give). Safe to call when not holding.
   */
  async release(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) await this.kv.swap(this.key, RELEASED, held.revision);
  }
}

/**
 * A lease value, or undefined when the key was released. A value that does not parse (written by
 * something else) counts as held, for `fallbackTtlMs`: waiting it out is the safe reading.
 */
function parse(value: Buffer, fallbackTtlMs: number): LeaseValue | undefined {
  if (value.length === 0) return undefined;
  try {
    const parsed = JSON.parse(value.toString("utf8")) as Partial<LeaseValue>;
    const ttlMs = typeof parsed.ttlMs === "number" && parsed.ttlMs > 0 ? parsed.ttlMs : fallbackTtlMs;
    const instance = typeof parsed.instance === "string" ? parsed.instance : "unknown";
    return { instance, holder: String(parsed.holder), ttlMs };
  } catch {
    return { instance: "unknown", holder: "unknown", ttlMs: fallbackTtlMs };
  }
}
