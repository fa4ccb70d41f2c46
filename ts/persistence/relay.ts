import { CatgaError, describeThrown, ErrorCodes } from "../errors.js";
import type { DurableOutcome, DurablePublisher } from "../jetstream/jetstream.js";
import { OptionChecker } from "./option-checker.js";
import { PostgresOutbox } from "./outbox.js";
import { checkout, type PgPool, type PgPoolClient, quoteIdent, STORE_CALL_TIMEOUT_MS, within } from "./pg.js";
import {
  type OutboxRelayOptions,
  RELAY_PUBLISH_TIMEOUT_MS,
  type RelayBatchReport,
  type RelayStats,
} from "./relay-options.js";
import { storeFailed } from "./store-errors.js";

interface ClaimedRow {
  id: string;
  message_id: string;
  subject: string;
  envelope: Buffer;
}

const NAME = "outbox relay";

/**
 * Moves committed outbox rows to a {@link DurablePublisher}. Each batch claims pending rows with
 * `FOR UPDATE SKIP LOCKED` inside a transaction, publishes them, marks the acknowledged ones sent
 * and records failures, then commits — so several relays can run side by side, each row is
 * claimed by one of them at a time, and a relay that dies mid-batch leaves its rows pending for
 * the next one. Delivery is at least once; with a publisher that dedupes by messageId it is
 * effectively once downstream.
 */
export class OutboxRelay {
  readonly stats: RelayStats = { batches: 0, sent: 0, duplicates: 0, failed: 0, errors: 0 };
  /** The most recent error reported to `onError`. */
  lastError: CatgaError | undefined;

  private readonly pool: PgPool;
  private readonly publisher: DurablePublisher;
  private readonly outbox: PostgresOutbox;
  private readonly schema: string | undefined;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly channel: string | undefined;
  private readonly publishTimeoutMs: number;
  private readonly queryTimeoutMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly retentionMs: number;
  private readonly cleanupIntervalMs: number;
  private readonly onError: (error: CatgaError) => void;
  private readonly sql: { claim: string; sent: string; failed: string; cleanup: string };

  private running = false;
  private loopDone: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private listener: PgPoolClient | undefined;
  private listening: Promise<void> | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  private listenFailures = 0;
  private listenerOff: (() => void) | undefined;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private cleaning: Promise<unknown> | undefined;

  /** A relay from the outbox table to `options.publisher`; options checked at once, nothing runs until `start()`. */
  constructor(options: OutboxRelayOptions) {
    const check = new OptionChecker("outboxRelay", options, [
      "pool",
      "publisher",
      "schema",
      "batchSize",
      "pollIntervalMs",
      "channel",
      "publishTimeoutMs",
      "queryTimeoutMs",
      "retryBaseMs",
      "retryMaxMs",
      "cleanupSentOlderThanMs",
      "cleanupIntervalMs",
      "onError",
    ]);
    check.methods("pool", "connect", "query");
    check.methods("publisher", "publish");
    this.schema = check.text("schema", true);
    this.batchSize = check.int("batchSize", 256);
    this.pollIntervalMs = check.int("pollIntervalMs", 1000);
    this.channel = options?.channel === false ? undefined : (check.text("channel", true) ?? "catga_outbox");
    this.publishTimeoutMs = check.number("publishTimeoutMs", RELAY_PUBLISH_TIMEOUT_MS);
    this.queryTimeoutMs = check.number("queryTimeoutMs", STORE_CALL_TIMEOUT_MS, true);
    this.retryBaseMs = check.number("retryBaseMs", 1000);
    this.retryMaxMs = check.number("retryMaxMs", 60_000);
    if (this.retryBaseMs > this.retryMaxMs)
      check.add(
        "outboxRelay.retryBaseMs",
        `must not exceed retryMaxMs (${this.retryMaxMs}), got ${this.retryBaseMs}: every retry would wait the cap`,
      );
    this.retentionMs = check.number("cleanupSentOlderThanMs", 86_400_000, true);
    this.cleanupIntervalMs = check.number("cleanupIntervalMs", 60_000);
    check.function("onError");
    check.done();
    this.pool = options.pool;
    this.publisher = options.publisher;
    this.outbox = new PostgresOutbox(this.schema === undefined ? {} : { schema: this.schema });
    this.onError =
      options.onError ?? ((error) => process.emitWarning(`${error.code}: ${error.message}`, "CatgaWarning"));
    const t = this.outbox.table;
    this.sql = {
      claim: `SELECT id, message_id, subject, envelope FROM ${t}
        WHERE sent_at IS NULL AND next_attempt_at <= statement_timestamp()
        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      sent: `UPDATE ${t} SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])`,
      failed: `UPDATE ${t} AS o SET attempts = o.attempts + 1, last_error = u.error,
        next_attempt_at = clock_timestamp() + least($3::float8 * power(2, least(o.attempts, 40)), $4::float8) * interval '1 millisecond'
        FROM unnest($1::bigint[], $2::text[]) AS u(id, error) WHERE o.id = u.id`,
      cleanup: `DELETE FROM ${t} WHERE id = ANY(ARRAY(
        SELECT id FROM ${t} WHERE sent_at < now() - $1::float8 * interval '1 millisecond' LIMIT 10000))`,
    };
  }

  /** True between `start()` and `stop()`. */
  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Starts relaying in the background. Resolves once LISTEN is in place (or has failed, in which
   * case the relay polls and keeps trying to listen). Idempotent.
   */
  async start(): Promise<void> {
    if (this.running) return this.listening;
    this.running = true;
    this.listening = this.listen();
    this.loopDone = this.loop();
    if (Number.isFinite(this.retentionMs) && this.cleanupIntervalMs > 0) {
      this.cleanupTimer = setInterval(() => {
        this.cleaning ??= this.cleanup()
          .catch((error: unknown) => this.report(error, "cleanup"))
          .finally(() => {
            this.cleaning = undefined;
          });
      }, this.cleanupIntervalMs);
      this.cleanupTimer.unref();
    }
    await this.listening;
  }

  /** Stops: the batch in progress finishes (published rows are marked), then LISTEN is released. */
  async stop(): Promise<void> {
    if (!this.running) return this.loopDone;
    this.running = false;
    if (this.cleanupTimer !== undefined) clearInterval(this.cleanupTimer);
    if (this.listenRetry !== undefined) clearTimeout(this.listenRetry);
    this.cleanupTimer = undefined;
    this.listenRetry = undefined;
    this.wake();
    await this.loopDone;
    await this.listening;
    await this.cleaning;
    await this.unlisten();
  }

  /** Rows waiting to be relayed, for a `catga.outbox.pending` gauge. */
  pending(): Promise<number> {
    return this.outbox.pending(this.pool);
  }

  /** How long the oldest waiting row has waited, in ms (0 when none waits), for `catga.outbox.lag`. */
  async lagMs(): Promise<number> {
    const oldest = await this.outbox.oldestPendingAt(this.pool);
    return oldest === undefined ? 0 : Math.max(0, Date.now() - oldest);
  }

  /** Deletes sent rows older than `cleanupSentOlderThanMs`; resolves with how many. */
  async cleanup(): Promise<number> {
    if (!Number.isFinite(this.retentionMs)) return 0;
    let total = 0;
    for (;;) {
      let deleted: number;
      try {
        deleted =
          (
            await within(
              this.pool.query(this.sql.cleanup, [this.retentionMs]),
              this.queryTimeoutMs,
              "cleanup",
            )
          ).rowCount ?? 0;
      } catch (cause) {
        throw storeFailed(NAME, "cleanup", cause);
      }
      total += deleted;
      if (deleted < 10_000) return total;
    }
  }

  /**
   * Claims, publishes and marks one batch. The background loop calls it; call it yourself to drive
   * a relay by hand (e.g. from a scheduler). Rejects with CATGA_STORE_FAILED when the database
   * fails (the batch's rows stay pending); publish failures are recorded on the rows instead.
   */
  async relayOnce(): Promise<RelayBatchReport> {
    const connection = await checkout(this.pool, NAME, this.queryTimeoutMs);
    const client = connection;
    let broken: Error | undefined;
    let step = "begin";
    try {
      await client.query("BEGIN");
      step = "claim";
      const { rows } = (await client.query(this.sql.claim, [this.batchSize])) as { rows: ClaimedRow[] };
      if (rows.length === 0) {
        step = "commit";
        await client.query("COMMIT");
        return { claimed: 0, sent: 0, duplicates: 0, failed: 0 };
      }
      const results = await this.publish(rows);
      const sentIds: string[] = [];
      const failedIds: string[] = [];
      const errors: string[] = [];
      let duplicates = 0;
      let firstFailure: { code: string; message: string } | undefined;
      for (let i = 0; i < rows.length; i++) {
        const result = results[i];
        if (result?.ok === true) {
          sentIds.push(rows[i]!.id);
          if (result.duplicate) duplicates++;
        } else {
          const failure = result ?? { code: ErrorCodes.TRANSPORT, message: "publisher returned no result" };
          firstFailure ??= failure;
          failedIds.push(rows[i]!.id);
          errors.push(`${failure.code}: ${failure.message}`.slice(0, 2000));
        }
      }
      step = "mark sent";
      if (sentIds.length > 0) await client.query(this.sql.sent, [sentIds]);
      step = "record failures";
      if (failedIds.length > 0) {
        await client.query(this.sql.failed, [failedIds, errors, this.retryBaseMs, this.retryMaxMs]);
      }
      step = "commit";
      await client.query("COMMIT");
      this.stats.batches++;
      this.stats.sent += sentIds.length;
      this.stats.duplicates += duplicates;
      this.stats.failed += failedIds.length;
      if (firstFailure !== undefined) {
        this.report(
          new CatgaError(
            firstFailure.code,
            `${NAME}: ${failedIds.length} of ${rows.length} messages failed to publish (retried later); first: ${firstFailure.message}`,
            { details: { failed: failedIds.length, claimed: rows.length } },
          ),
        );
      }
      return { claimed: rows.length, sent: sentIds.length, duplicates, failed: failedIds.length };
    } catch (cause) {
      broken = cause instanceof Error ? cause : new Error(describeThrown(cause));
      await client.query("ROLLBACK").catch(() => {});
      throw storeFailed(NAME, step, cause);
    } finally {
      connection.release(broken);
    }
  }

  /** Publishes, turning a rejection or a timeout into per-item failures. */
  private async publish(rows: readonly ClaimedRow[]): Promise<readonly (DurableOutcome | undefined)[]> {
    const items = rows.map((row) => ({
      subject: row.subject,
      messageId: row.message_id,
      envelope: row.envelope,
    }));
    let timer: NodeJS.Timeout | undefined;
    try {
      const publishing = this.publisher.publish(items);
      if (this.publishTimeoutMs <= 0) return await publishing;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new CatgaError(ErrorCodes.TIMEOUT, `publish took longer than ${this.publishTimeoutMs} ms`),
            ),
          this.publishTimeoutMs,
        );
      });
      return await Promise.race([publishing, timeout]);
    } catch (error) {
      const code = error instanceof CatgaError ? error.code : ErrorCodes.TRANSPORT;
      const message = error instanceof Error ? error.message : describeThrown(error);
      return rows.map(() => ({ ok: false as const, code, message }));
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  private async loop(): Promise<void> {
    let errorStreak = 0;
    while (this.running) {
      let full = false;
      try {
        const report = await this.relayOnce();
        errorStreak = 0;
        full = report.claimed === this.batchSize && report.failed < report.claimed;
      } catch (error) {
        errorStreak++;
        this.report(error, "relay");
      }
      if (!this.running) break;
      if (full) continue; // more rows are probably waiting
      const delay =
        errorStreak > 0 ? Math.min(100 * 2 ** Math.min(errorStreak, 10), 30_000) : this.pollIntervalMs;
      await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    }).then(() => {
      this.wakeUp = undefined;
      this.woken = false;
    });
  }

  private wake(): void {
    if (this.wakeUp !== undefined) this.wakeUp();
    else this.woken = true;
  }

  private readonly onNotification = (message: { channel?: string; payload?: string }) => {
    if (message.channel !== this.channel) return;
    if (this.schema !== undefined && message.payload && message.payload !== this.schema) return;
    this.wake();
  };

  /** The LISTEN connection died: drop it, report, and LISTEN again later. */
  private listenerDied(client: PgPoolClient, error: unknown): void {
    if (this.listener !== client) return;
    this.listener = undefined;
    client.removeListener("notification", this.onNotification);
    client.release(error instanceof Error ? error : new Error(describeThrown(error)));
    this.report(storeFailed(NAME, "listen", error));
    this.retryListen();
  }

  private async listen(): Promise<void> {
    if (this.channel === undefined || !this.running) return;
    let client: PgPoolClient | undefined;
    try {
      const connected = await this.pool.connect();
      client = connected;
      // Stays attached on a dead connection (it may emit more than once); removed on a clean release.
      const onError = (error: unknown) => this.listenerDied(connected, error);
      connected.on("error", onError);
      this.listenerOff = () => connected.removeListener("error", onError);
      connected.on("notification", this.onNotification);
      this.listener = connected;
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
      this.listenFailures = 0;
      this.wake(); // rows committed before LISTEN took effect
      if (!this.running) await this.unlisten();
    } catch (error) {
      if (client !== undefined && this.listener === client) {
        this.listener = undefined;
        client.removeListener("notification", this.onNotification);
        client.release(error instanceof Error ? error : true);
      }
      this.report(storeFailed(NAME, "listen", error));
      this.retryListen();
    }
  }

  /** LISTEN again after 1 s, doubling per consecutive failure up to 30 s; polling goes on meanwhile. */
  private retryListen(): void {
    if (!this.running || this.listenRetry !== undefined) return;
    const delay = Math.min(1000 * 2 ** Math.min(this.listenFailures++, 5), 30_000);
    this.listenRetry = setTimeout(() => {
      this.listenRetry = undefined;
      this.listening = this.listen();
    }, delay);
    this.listenRetry.unref();
  }

  private async unlisten(): Promise<void> {
    const client = this.listener;
    if (client === undefined) return;
    this.listener = undefined;
    client.removeListener("notification", this.onNotification);
    try {
      await client.query("UNLISTEN *");
      this.listenerOff?.();
      client.release();
    } catch (error) {
      client.release(error instanceof Error ? error : true);
    }
  }

  private report(error: unknown, operation = "relay"): void {
    const coded = error instanceof CatgaError ? error : storeFailed(NAME, operation, error);
    this.lastError = coded;
    this.stats.errors++;
    try {
      this.onError(coded);
    } catch {
      // A throwing error callback must not stop the relay.
    }
  }
}
