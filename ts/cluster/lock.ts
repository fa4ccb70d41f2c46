/**
 * `withLock`: run a function while holding a lease on a key (lease.ts), renewing it as the
 * function runs and releasing it however the function ends. The lock is fenced like leadership:
 * `lock.token` grows with every new holder, and `lock.signal` aborts when the lease is lost.
 */
import { CatgaError, ErrorCodes } from "../errors.js";
import { pollMs, RENEWALS_PER_TTL } from "./leader.js";
import { type Clock, Lease, type LeaseStore } from "./lease.js";

/** What `fn` gets while it holds the lock. */
export interface HeldLock {
  /** The locked key. */
  readonly key: string;
  /** The fencing token of this hold: pass it to stores that refuse stale tokens. */
  readonly token: number;
  /**
   * Aborted when the lock is lost before `fn` ends (renewals failed until the lease ran out, or
   * the process was paused past it), and when the caller's `signal` aborts.
   */
  readonly signal: AbortSignal;
  /** Whether the lock is still held, judged by the monotonic clock when asked. */
  readonly isHeld: boolean;
}

/** Everything `acquireAndRun` needs, resolved and checked by the cluster. */
export interface LockRun<T> {
  readonly kv: LeaseStore;
  readonly key: string;
  readonly instance: string;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock;
  readonly fn: (lock: HeldLock) => T | Promise<T>;
}

/** Takes the lock (waiting up to `waitMs`), runs `fn`, releases. */
export async function acquireAndRun<T>(run: LockRun<T>): Promise<T> {
  const { kv, key, instance, ttlMs, waitMs, signal, clock } = run;
  const lease = new Lease(kv, `lock.${key}`, instance, ttlMs, clock);
  const deadline = clock() + waitMs;
  for (;;) {
    if (signal?.aborted)
      throw new CatgaError(ErrorCodes.ABORTED, `waiting for lock "${key}" was aborted`, {
        cause: signal.reason,
      });
    const term = await lease.step();
    if (term !== undefined) break;
    const now = clock();
    if (now >= deadline)
      throw new CatgaError(
        ErrorCodes.TIMEOUT,
        `lock "${key}" is held by ${lease.holder() ?? "another instance"}: not acquired within ${waitMs} ms`,
        { details: { timeoutMs: waitMs } },
      );
    const takeover = lease.takeoverAt();
    const wait = Math.min(
      pollMs(ttlMs),
      deadline - now,
      takeover === undefined ? Infinity : takeover - now + 1,
    );
    await sleep(Math.max(0, wait), signal);
  }
  return runHolding(lease, run);
}

async function runHolding<T>(lease: Lease, run: LockRun<T>): Promise<T> {
  const { key, ttlMs, clock, signal } = run;
  const token = lease.current()?.token ?? 0;
  const lost = new AbortController();
  const loseWith = (why: string) => {
    if (!lost.signal.aborted)
      lost.abort(new CatgaError(ErrorCodes.ABORTED, `lock "${key}" was lost: ${why}`));
  };
  let renewing: Promise<unknown> | undefined;
  let renewTimer: NodeJS.Timeout | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  let done = false;
  // Noticing the lease run out has its own timer, so it fires even while a renewal hangs on NATS
  // (or the process was paused past it).
  const watchExpiry = (): void => {
    clearTimeout(expiryTimer);
    const expires = lease.expiresAt() ?? clock();
    expiryTimer = setTimeout(
      () => {
        if (lease.current()?.token !== token) loseWith("its lease ran out");
      },
      Math.max(0, expires - clock()) + 1,
    );
  };
  const scheduleRenewal = (delayMs: number): void => {
    if (!done && !lost.signal.aborted) renewTimer = setTimeout(renew, Math.max(0, delayMs));
  };
  const renew = (): void => {
    renewing = lease.step().then(
      (term) => {
        // A different token is a new term (the old one lapsed): `fn`'s token is stale either way.
        if (term?.token !== token) return loseWith("another instance took it, or its lease ran out");
        watchExpiry();
        scheduleRenewal((lease.lastWriteAt() ?? clock()) + ttlMs / RENEWALS_PER_TTL - clock());
      },
      () => scheduleRenewal(pollMs(ttlMs)), // NATS failed: try again; the expiry watch stands
    );
  };
  watchExpiry();
  scheduleRenewal((lease.lastWriteAt() ?? clock()) + ttlMs / RENEWALS_PER_TTL - clock());
  const held: HeldLock = {
    key,
    token,
    signal: signal === undefined ? lost.signal : AbortSignal.any([lost.signal, signal]),
    get isHeld() {
      return lease.current()?.token === token;
    },
  };
  try {
    return await run.fn(held);
  } finally {
    done = true;
    clearTimeout(renewTimer);
    clearTimeout(expiryTimer);
    await renewing;
    // Released on success and on error alike; a failed release only delays the next holder by the TTL.
    await lease.release().catch(() => undefined);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }, ms);
    const aborted = () => {
      clearTimeout(timer);
      reject(
        new CatgaError(ErrorCodes.ABORTED, "waiting for the lock was aborted", { cause: signal?.reason }),
      );
    };
    signal?.addEventListener("abort", aborted, { once: true });
  });
}
