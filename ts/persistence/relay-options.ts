// The relay's options, report and counter types, and its default publish bound.
import type { CatgaError } from "../errors.js";
import type { DurablePublisher } from "../jetstream/jetstream.js";
import type { PgPool } from "./pg.js";

/** Options of `OutboxRelay`. */
export interface OutboxRelayOptions {
  /** Pool the relay claims rows with (one connection per batch, plus one held for LISTEN). Required. */
  readonly pool: PgPool;
  /** Where rows go: `JetStream` from this package, or anything with the same `publish(items)`. Required. */
  readonly publisher: DurablePublisher;
  /**
   * Schema holding `catga_outbox`.
   * @default the connection's search_path
   */
  readonly schema?: string;
  /**
   * Rows claimed and published per batch; a full batch is followed by the next at once.
   * @default 256
   */
  readonly batchSize?: number;
  /**
   * Fallback poll period in ms when no notification arrives on {@link OutboxRelayOptions.channel}.
   * @default 1000
   */
  readonly pollIntervalMs?: number;
  /**
   * LISTEN channel (the migration's trigger notifies `catga_outbox`); `false` polls only, every
   * `pollIntervalMs`.
   * @default "catga_outbox"
   */
  readonly channel?: string | false;
  /**
   * A publish that takes longer than this many ms counts as failed for the whole batch (its rows
   * are retried later, see `retryBaseMs`); 0 = no limit. A backstop for a publisher that hangs:
   * keep it above the publisher's own deadline (`JetStream`: the connection's
   * `durablePublishTimeoutMs`, 15000 by default, after which it answers per item), or acked rows
   * are recorded as failed and published again. The claim transaction stays open while the relay
   * waits.
   * @default 20000
   */
  readonly publishTimeoutMs?: number;
  /**
   * Bound in ms on each database call of a batch (connect, claim, mark, commit): one that gets no
   * answer (a stalled connection holds bytes without an error) fails the batch with
   * CATGA_STORE_FAILED naming the step, the connection is discarded and the rows stay pending.
   * Keep it above your slowest claim query. Infinity = no bound.
   * @default 10000
   */
  readonly queryTimeoutMs?: number;
  /**
   * Wait in ms before a failed row's next try: `retryBaseMs × 2^(attempts-1)`, at most
   * {@link OutboxRelayOptions.retryMaxMs}.
   * @default 1000
   */
  readonly retryBaseMs?: number;
  /**
   * Longest wait in ms before a failed row's next try; see `retryBaseMs`.
   * @default 60000
   */
  readonly retryMaxMs?: number;
  /**
   * Sent rows older than this many ms are deleted by the cleanup; `Infinity` keeps them.
   * @default 86400000 (24 h)
   */
  readonly cleanupSentOlderThanMs?: number;
  /**
   * How often the cleanup runs while started, in ms; 0 turns the timer off (call `cleanup()`
   * yourself). Off as well when {@link OutboxRelayOptions.cleanupSentOlderThanMs} is `Infinity`.
   * @default 60000
   */
  readonly cleanupIntervalMs?: number;
  /**
   * Called with every coded failure (store down, publish failed); also kept in `lastError`.
   * @default a process warning (`CatgaWarning`)
   */
  readonly onError?: (error: CatgaError) => void;
}

/** What one batch did. */
export interface RelayBatchReport {
  readonly claimed: number;
  readonly sent: number;
  /** Of `sent`: the publisher had the messageId already (a re-publish after a crash or failure). */
  readonly duplicates: number;
  readonly failed: number;
}

/** A relay's running totals since it was made (`OutboxRelay.stats`); read by `observeRelay`. */
export interface RelayStats {
  /** Batches claimed and published. */
  batches: number;
  /** Rows published and marked sent. */
  sent: number;
  /** Of `sent`: the publisher had the messageId already. */
  duplicates: number;
  /** Rows whose publish failed; they are tried again after a backoff. */
  failed: number;
  /** Coded failures reported to `onError` (store down, publish failed). */
  errors: number;
}

/**
 * Default `publishTimeoutMs`: JetStream's default publish deadline (`durablePublishTimeoutMs`,
 * 15 s, long enough to ride out a stream-leader election) plus 5 s, so such a publish answers per
 * item before it fires, while a publisher that hangs stalls the relay for 20 s rather than the
 * 30 s of old (issue 21).
 */
export const RELAY_PUBLISH_TIMEOUT_MS = 20_000;
