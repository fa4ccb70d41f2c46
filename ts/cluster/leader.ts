/**
 * Leader election: every instance that asks for leadership of a name campaigns on one lease
 * (lease.ts); the holder is the leader. The handle's `isLeader` and `token` are read from the
 * monotonic clock at the moment they are asked, so a leader that was paused past its TTL sees
 * `isLeader === false` before it can act on a stale belief; the events only report changes.
 */
import { EventEmitter } from "node:events";
import type { Clock, Lease, LeaseTerm } from "./lease.js";

/** A renewal is sent every third of the TTL: two can fail before the lease runs out. */
export const RENEWALS_PER_TTL = 3;

/**
 * How often an instance that does not hold a lease reads it: a tenth of the TTL, between 20 ms
 * and 1 s. Takeover is also tried exactly when the holder's lease is due to end, so the poll
 * bounds only how late a death is first noticed.
 */
export function pollMs(ttlMs: number): number {
  return Math.min(1000, Math.max(20, ttlMs / 10));
}

/** Events of a {@link Leadership}, with their listener arguments. */
export interface LeadershipEvents {
  /** This instance became leader; `term.token` is the fencing token its work must carry. */
  elected: [term: LeaseTerm];
  /** This instance is no longer leader of the term it was elected for (lost, ran out, resigned). */
  revoked: [term: LeaseTerm];
}

/**
 * Leadership of one name, as seen by this instance. Campaigns from creation until `resign()`
 * (or the cluster's `close()`).
 */
export class Leadership extends EventEmitter<LeadershipEvents> {
  private announced: LeaseTerm | undefined;
  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private stepping: Promise<void> | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private failure: unknown;

  /** @internal Made by `Cluster.leader`. */
  constructor(
    /** The name leadership is held for. */
    readonly name: string,
    private readonly lease: Lease,
    private readonly onElected: (name: string) => void,
    private readonly clock: Clock,
  ) {
    super();
    this.schedule(0);
  }

  /** Whether this instance leads right now, judged by its monotonic clock when asked. */
  get isLeader(): boolean {
    return this.lease.current() !== undefined;
  }

  /**
   * The fencing token of the current term, or undefined when not leader. Pass it with every write
   * made as leader; the store refuses it once a later leader's token was accepted.
   */
  get token(): number | undefined {
    return this.lease.current()?.token;
  }

  /** The instance id of the leader as last seen (this one included); undefined when none is known. */
  get leader(): string | undefined {
    return this.lease.holder();
  }

  /** The last failure talking to NATS (a CatgaError), cleared by the next step that succeeds. */
  get lastError(): unknown {
    return this.failure;
  }

  /** The TTL this instance campaigns with. */
  get ttlMs(): number {
    return this.lease.ttlMs;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.stepping = this.step().finally(() => {
          this.stepping = undefined;
        });
      },
      Math.max(0, delayMs),
    );
  }

  private async step(): Promise<void> {
    try {
      await this.lease.step();
      this.failure = undefined;
    } catch (error) {
      this.failure = error;
    }
    if (this.stopped) return;
    this.announce();
    this.schedule(this.nextStepIn());
  }

  /** Renew a third of the TTL after the last write; otherwise poll, or try takeover when due. */
  private nextStepIn(): number {
    const now = this.clock();
    const sentAt = this.lease.lastWriteAt();
    if (this.lease.current(now) !== undefined && sentAt !== undefined)
      return sentAt + this.lease.ttlMs / RENEWALS_PER_TTL - now;
    const poll = pollMs(this.lease.ttlMs);
    const takeover = this.lease.takeoverAt();
    return takeover === undefined ? poll : Math.min(poll, takeover - now + 1);
  }

  /** Emits `revoked`/`elected` for what changed since the last announcement. */
  private announce(): void {
    const term = this.lease.current();
    const last = this.announced;
    if (last !== undefined && last.token !== term?.token) {
      this.announced = undefined;
      clearTimeout(this.expiryTimer);
      this.emit("revoked", last);
    }
    if (term !== undefined && this.announced === undefined) {
      this.announced = term;
      this.onElected(this.name);
      this.emit("elected", term);
    }
    if (term !== undefined) {
      // Reports the lease running out even when no step runs (a renewal hanging on NATS).
      clearTimeout(this.expiryTimer);
      const expires = this.lease.expiresAt() ?? 0;
      this.expiryTimer = setTimeout(() => this.announce(), Math.max(0, expires - this.clock()) + 1);
    }
  }

  /**
   * Stops campaigning and gives leadership up if held (the key is cleared, so another instance
   * takes over at its next poll instead of after the TTL). Emits `revoked` if this instance led.
   * Idempotent.
   */
  resign(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      clearTimeout(this.timer);
      await this.stepping;
      await this.lease.release().catch((error: unknown) => {
        this.failure = error;
      });
      this.announce();
      clearTimeout(this.expiryTimer);
    })();
    return this.stopping;
  }
}
