import type { DurableMessage } from "./jetstream.js";

/**
 * The fate of one delivered message, as the engine applies it. `hold` keeps it unsettled (the
 * engine sends in-progress acks so the server does not redeliver it) until it is settled later.
 */
export interface Decision {
  action: "ack" | "nak" | "dlq" | "hold";
  delayMs?: number;
  subject?: string;
  code?: string;
  message?: string;
  /** Attempts made, for a dead letter's `Catga-Deliveries` (default: the server's count). */
  deliveries?: number;
}

/** A durable consumer's position on the server, in stream sequences. */
export interface ConsumerState {
  /** Every message up to this one is acked. */
  readonly ackFloor: number;
  /** The highest one delivered. */
  readonly delivered: number;
  /** Delivered and not acked yet, by any instance. */
  readonly ackPending: number;
}

export interface KeyedOrderOptions {
  /** Runs the handler as attempt `attempt` (1-based); `nak` means "retry after `delayMs`". */
  readonly attempt: (message: DurableMessage, attempt: number) => Promise<Decision>;
  /** The message's key (`undefined`: no order with any other message); may throw. */
  readonly keyOf: (message: DurableMessage) => string | undefined;
  /** The decision for a message whose key could not be computed. */
  readonly keyFailed: (message: DurableMessage, error: unknown) => Decision;
  /** Settles held messages by stream sequence (one engine call). */
  readonly settle: (sequences: number[], decisions: Decision[]) => Promise<void>;
  /** The consumer's state now, from the server. */
  readonly state: () => Promise<ConsumerState>;
  /** The consumer's state before this process fetched anything. */
  readonly start: ConsumerState;
  /** The consumer's ack wait: by this long after start, the crashed holder's messages are all back. */
  readonly ackWaitMs: number;
}

const HOLD: Decision = { action: "hold" };

/** How often a consumer that started behind unacked messages asks the server whether they are done. */
const BARRIER_POLL_MS = 100;
/** Past the ack wait, what a redelivery may still take (the server's expiry check, one fetch). */
const BARRIER_SLACK_MS = 1000;

/** A held message and the attempt its next handler call is. */
interface Entry {
  readonly message: DurableMessage;
  next: number;
  /** Wait this long before the next attempt (a retry's backoff). */
  delayMs: number;
}

/** A key with messages held: they run one after another, outside any fetched batch. */
interface Lane {
  readonly key: string | number;
  readonly queue: Entry[];
  readonly sequences: Set<number>;
}

/**
 * Per-key order for a durable consumer (`orderBy`). Messages of one key run one after another in
 * the order fetched. A failure is retried in place with the backoff while the key's later
 * messages wait behind it ("held": unsettled, kept alive by in-progress acks), up to
 * `maxDeliver`, then dead-lettered, and the key moves on; other keys keep flowing. A consumer
 * that starts while messages delivered earlier are still unacked (a crashed instance's) runs
 * nothing until those are acked elsewhere or all back in its hands (their keys are unknown until
 * they arrive, and they arrive in ack-wait order, not stream order); then it runs what it parked
 * per key in stream order.
 */
export class KeyedOrder {
  private readonly lanes = new Map<string | number, Lane>();
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  /** Messages fetched while the start-up backlog is out (its redeliveries and newer ones). */
  private parked: DurableMessage[] = [];
  private readonly parkedSequences = new Set<number>();
  /** The start-up backlog is out: every fetched message is parked until it is lifted. */
  private holding = false;
  /** A batch is being decided: its keys may be running outside `lanes`. */
  private inBatch = false;
  /** The start-up backlog is acked; parked messages go to their lanes after the batch in hand. */
  private liftAfterBatch = false;
  private stopping = false;
  private pendingSequences: number[] = [];
  private pendingDecisions: Decision[] = [];
  private flushing: Promise<void> | undefined;

  constructor(private readonly options: KeyedOrderOptions) {
    const start = options.start;
    if (start.ackPending > 0 && start.ackFloor < start.delivered) {
      this.holding = true;
      this.track(this.waitForBacklog(start));
    }
  }

  /** Decides one fetched batch; messages of held keys (and parked ones) come back `hold`. */
  async onBatch(messages: readonly (DurableMessage | undefined)[], decisions: Decision[]): Promise<void> {
    this.inBatch = true;
    try {
      await this.decideBatch(messages, decisions);
    } finally {
      this.inBatch = false;
      if (this.liftAfterBatch) this.lift();
    }
  }

  private async decideBatch(
    messages: readonly (DurableMessage | undefined)[],
    decisions: Decision[],
  ): Promise<void> {
    const local = new Map<string | number, number[]>();
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if (!m) continue;
      const sequence = m.streamSequence;
      // While the start-up backlog is out, nothing runs: its redeliveries arrive in the order their
      // ack waits ran out on the server (an older message kept alive longer by the dead process
      // comes back after a newer one), so they wait here until all of it is in hand (see
      // `waitForBacklog`) and then run per key in stream order, ahead of anything newer.
      if (this.holding) {
        if (!this.parkedSequences.has(sequence)) {
          this.parkedSequences.add(sequence);
          this.parked.push(m);
        }
        decisions[i] = HOLD;
        continue;
      }
      let key: string | number;
      try {
        key = this.options.keyOf(m) ?? sequence;
      } catch (error) {
        decisions[i] = this.options.keyFailed(m, error);
        continue;
      }
      const lane = this.lanes.get(key);
      if (lane) {
        // A redelivery of a message already held is not queued twice (the engine keeps the newer).
        if (!lane.sequences.has(sequence)) push(lane, { message: m, next: m.deliveryCount, delayMs: 0 });
        decisions[i] = HOLD;
        continue;
      }
      const indices = local.get(key);
      if (indices) indices.push(i);
      else local.set(key, [i]);
    }
    await Promise.all(
      [...local].map(async ([key, indices]) => {
        for (let j = 0; j < indices.length; j++) {
          const i = indices[j]!;
          const m = messages[i]!;
          const decision = await this.options.attempt(m, m.deliveryCount);
          if (decision.action !== "nak") {
            decisions[i] = decision;
            continue;
          }
          // Retry in place: this message and the key's later ones are held until it is done.
          const lane: Lane = { key, queue: [], sequences: new Set() };
          push(lane, { message: m, next: m.deliveryCount + 1, delayMs: decision.delayMs ?? 0 });
          decisions[i] = HOLD;
          for (const later of indices.slice(j + 1)) {
            push(lane, { message: messages[later]!, next: messages[later]!.deliveryCount, delayMs: 0 });
            decisions[later] = HOLD;
          }
          this.open(lane);
          return;
        }
      }),
    );
  }

  /** Stops retrying and starting held messages; resolves once running handler calls are done. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const { timer, wake } of this.timers) {
      clearTimeout(timer);
      wake();
    }
    while (this.running.size > 0) await Promise.all(this.running);
    await this.flush();
  }

  private open(lane: Lane): void {
    this.lanes.set(lane.key, lane);
    this.track(this.run(lane));
  }

  private track(work: Promise<void>): void {
    const done = work.finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Runs a held key's messages in order, retrying the head in place, then frees the key. */
  private async run(lane: Lane): Promise<void> {
    let lastSettle: Promise<void> | undefined;
    while (lane.queue.length > 0 && !this.stopping) {
      const head = lane.queue[0]!;
      if (head.delayMs > 0) {
        await this.sleep(head.delayMs);
        head.delayMs = 0;
        if (this.stopping) return;
      }
      const decision = await this.options.attempt(head.message, head.next);
      if (decision.action === "nak") {
        head.next++;
        head.delayMs = decision.delayMs ?? 0;
        continue;
      }
      lane.queue.shift();
      lane.sequences.delete(head.message.streamSequence);
      lastSettle = this.settle(head.message.streamSequence, decision);
      // Free the key only once its last message is settled on the server, so a newer message
      // of the key cannot be acked before it. Messages queued meanwhile keep the lane going.
      if (lane.queue.length === 0) await lastSettle;
    }
    if (!this.stopping) this.lanes.delete(lane.key);
  }

  /** Parks everything fetched until the start-up backlog is acked elsewhere or all parked here. */
  private async waitForBacklog(start: ConsumerState): Promise<void> {
    // A live instance on the same durable keeps messages in flight, so the pending count may not
    // come down to ours for a while; but once the ack wait has passed since this start, every
    // message a crashed instance held has expired and been redelivered, and those sent here are
    // parked: nothing older can arrive any more.
    const allBackAt = Date.now() + this.options.ackWaitMs + BARRIER_SLACK_MS;
    while (!this.stopping) {
      await this.sleep(BARRIER_POLL_MS);
      if (this.stopping) return;
      let now: ConsumerState;
      try {
        now = await this.options.state();
      } catch {
        continue; // the server is unreachable: ask again
      }
      // Done when the backlog is acked (by other instances), or when every message still pending
      // on the server is one this process holds parked: nothing older can arrive any more.
      if (now.ackPending === 0 || now.ackFloor >= start.delivered || now.ackPending <= this.parked.length)
        break;
      if (Date.now() >= allBackAt) break;
    }
    if (this.stopping) return;
    // A key of the batch in hand may be running outside `lanes`: lift once that batch is decided.
    if (this.inBatch) this.liftAfterBatch = true;
    else this.lift();
  }

  /** Ends the start-up hold: parked messages join their keys' lanes, in stream order. */
  private lift(): void {
    this.liftAfterBatch = false;
    this.holding = false;
    const parked = this.parked.sort((a, b) => a.streamSequence - b.streamSequence);
    this.parked = [];
    this.parkedSequences.clear();
    for (const m of parked) {
      let key: string | number;
      try {
        key = this.options.keyOf(m) ?? m.streamSequence;
      } catch (error) {
        void this.settle(m.streamSequence, this.options.keyFailed(m, error));
        continue;
      }
      const entry = { message: m, next: m.deliveryCount, delayMs: 0 };
      const lane = this.lanes.get(key);
      if (lane) {
        if (!lane.sequences.has(m.streamSequence)) push(lane, entry);
        continue;
      }
      const opened: Lane = { key, queue: [], sequences: new Set() };
      push(opened, entry);
      this.open(opened);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = {
        timer: setTimeout(() => {
          this.timers.delete(handle);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.timers.add(handle);
    });
  }

  /** Settles one held message; the settles of one tick go to the engine together. */
  private settle(sequence: number, decision: Decision): Promise<void> {
    this.pendingSequences.push(sequence);
    this.pendingDecisions.push(decision);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    return this.flushing;
  }

  private async flush(): Promise<void> {
    const sequences = this.pendingSequences;
    const decisions = this.pendingDecisions;
    this.pendingSequences = [];
    this.pendingDecisions = [];
    this.flushing = undefined;
    if (sequences.length === 0) return;
    // A failed settle leaves the messages to the server: redelivered after their ack wait.
    await this.options.settle(sequences, decisions).catch(() => undefined);
  }
}

function push(lane: Lane, entry: Entry): void {
  lane.queue.push(entry);
  lane.sequences.add(entry.message.streamSequence);
}
