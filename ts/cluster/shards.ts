/**
 * Sharded handlers over membership (docs/architecture/cluster.md, "Sharded handlers"): for each sharded type,
 * a HashRing over the live instances that handle it (weights honoured) names each key's owner;
 * requests go to the owner's own subject, and the owner runs one message per key at a time.
 *
 * Hand-off without overlap: an instance handles keys only while its view of a type is *settled*:
 * after every other instance in that view has confirmed, for the same view, that it has finished
 * the keys it no longer owns. Views are compared by their exact member list, so two settled
 * instances always agree on every owner. While a view is unsettled the type's messages are
 * refused with a retryable error, which the sender's router retries within its deadline.
 */
import { ErrorCodes } from "../errors.js";
import { isPending } from "../mediator/pipeline.js";
import { err, type Result } from "../mediator/result.js";
import { isShardRefusal, SHARD_ROUTE_HEADER, shardKeyOf } from "../mediator/sharding.js";
import type { Envelope, ShardGate } from "../mediator/transport.js";
import { EnvelopeCodec } from "../nats/wire.js";
import type { NatsTransport, RequestRouter } from "../transport/nats-transport.js";
import type { Balancer } from "./balancer.js";
import { CachedRing } from "./cached-ring.js";
import type { Clock } from "./lease.js";
import { EXPIRY_INTERVALS, type Member, type Membership } from "./membership.js";

const CLAIM_TYPE = "catga.cluster.shard-claim";
/** Pause between retries of a refused request or an unconfirmed claim (ms). */
const RETRY_MS = 15;
const CLAIM_TIMEOUT_MS = 1000;

/** Counters read by observability. */
export interface ShardStats {
  /** View changes of sharded types (a member joined or left). */
  readonly rebalances: number;
  /** Keys this instance had handled that moved to another owner at a view change. */
  readonly moves: number;
}

/** One sharded type as this instance sees it. */
class ShardTable {
  ring = CachedRing.of([]);
  view = "";
  members: Member[] = [];
  settled = false;
  leaving = false;
  readonly tails = new Map<string, Promise<void>>();
  /** Messages queued or running, per key: a hand-off waits for the keys that moved. */
  readonly busy = new Map<string, number>();
  /** Keys handled here recently (bounded), to count moves. */
  readonly handled = new Set<string>();
  /**
   * Keys whose message is in its handler's synchronous part right now, and what a message of the
   * same key sent from inside it waits on (made only when one is).
   */
  readonly inline = new Map<string, Inline>();

  constructor(readonly type: string) {}

  owns(key: string, self: string): boolean {
    return !this.leaving && this.ring.lookup(key) === self;
  }

  /** True when nothing queued or running here belongs to another instance. */
  drained(self: string): boolean {
    for (const key of this.busy.keys()) if (!this.owns(key, self)) return false;
    return true;
  }
}

export class ShardRouter implements RequestRouter, ShardGate {
  private readonly tables = new Map<string, ShardTable>();
  private readonly codec = new EnvelopeCodec();
  private readonly warmUntil: number;
  private readonly aloneUntil: number;
  private rebalances = 0;
  private moves = 0;
  private stopServing: (() => Promise<void>) | undefined;
  private stopClaims: (() => Promise<void>) | undefined;
  private closed = false;
  private leaving = false;

  constructor(
    private readonly transport: NatsTransport,
    private readonly membership: Membership,
    private readonly self: string,
    private readonly keyFunctions: ReadonlyMap<string, (payload: unknown) => unknown>,
    private readonly balancer: Balancer,
    private readonly clock: Clock,
    heartbeatMs: number,
  ) {
    // A newcomer hears every live member within an interval (usually a round trip: they answer
    // its first heartbeat); it owns nothing before, or its view of one would claim every key.
    this.warmUntil = clock() + heartbeatMs;
    // A view of this instance alone is confirmed by nobody: only silence backs it. A member paused
    // (GC, SIGSTOP, a starved event loop) since before this instance subscribed stays in everyone's
    // view, perhaps inside a handler, until 1.5 of its intervals after its last heartbeat; so a
    // view alone settles only once such a member would have expired (members of a service are
    // assumed to share the interval; handoff.test.ts, "hears no one").
    this.aloneUntil = clock() + heartbeatMs * EXPIRY_INTERVALS;
    for (const type of keyFunctions.keys()) this.tables.set(type, new ShardTable(type));
  }

  get gate(): ShardGate {
    return this;
  }

  async start(): Promise<void> {
    const connection = this.transport.connection;
    this.stopClaims = await connection.subscribe(this.claimSubject(this.self), {}, async (batch) =>
      Promise.all(
        batch.envelopes.map(async (bytes, i) => {
          const replyTo = batch.replies[i];
          if (replyTo == null) return;
          const answer = await this.answerClaim(bytes);
          await connection.reply(replyTo, this.codec.encodeNew("event", CLAIM_TYPE, {}, answer));
        }),
      ).then(() => undefined),
    );
    // Views first: the transport routes this instance's sends through this router as soon as
    // `route` begins (before its subscriptions are live), and a send needs a ring to pick an owner.
    const refresh = () => this.refresh();
    this.membership.on("join", refresh);
    this.membership.on("leave", refresh);
    this.refresh();
    this.stopServing = await this.transport.route(this, this.self);
  }

  stats(): ShardStats {
    return { rebalances: this.rebalances, moves: this.moves };
  }

  private claimSubject(instanceId: string): string {
    return `${this.transport.prefix}.cluster.shards.@${instanceId}`;
  }

  /** Rebuilds each type's view from membership; a changed view starts a hand-off. */
  private refresh(): void {
    if (this.closed) return;
    const all = this.membership.members();
    for (const table of this.tables.values()) {
      // A leaving instance routes as if already gone: what reaches it goes to the next owners.
      const members = all
        .filter((m) => m.shards.includes(table.type) && !(this.leaving && m.self))
        .sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
      const view = members.map((m) => `${m.instanceId}:${m.weight}`).join(",");
      if (view === table.view) continue;
      const ring = CachedRing.of(members);
      if (table.view !== "") {
        this.rebalances++;
        for (const key of table.handled) if (ring.lookup(key) !== this.self) this.moves++;
        table.handled.clear();
      }
      table.ring = ring;
      table.view = view;
      table.members = members;
      table.settled = false;
      void this.settle(table, view);
    }
  }

  /** Asks every other member of `view` to confirm it; settles the table when all have. */
  private async settle(table: ShardTable, view: string): Promise<void> {
    const current = () => table.view === view && !this.closed;
    const others = table.members.filter((m) => m.instanceId !== this.self);
    // Not before the warm-up ends (a timer may fire a little early: loop until it has).
    const notBefore = others.length === 0 ? this.aloneUntil : this.warmUntil;
    while (this.clock() < notBefore && current()) await sleep(notBefore - this.clock() + 1);
    await Promise.all(
      others.map(async (member) => {
        while (current()) {
          if (await this.claim(member.instanceId, table.type, view)) return;
          await sleep(RETRY_MS);
        }
      }),
    );
    if (current()) table.settled = true;
  }

  private async claim(instanceId: string, type: string, view: string): Promise<boolean> {
    try {
      const bytes = this.codec.encodeNew("event", CLAIM_TYPE, {}, { type, view });
      const reply = await this.transport.connection.request(
        this.claimSubject(instanceId),
        bytes,
        CLAIM_TIMEOUT_MS,
      );
      return (this.codec.decodeMessage(reply).payload as { ok?: unknown }).ok === true;
    } catch {
      return false; // no answer: asked again until it answers or leaves the view
    }
  }

  /** Confirms a claim once this instance sees the same view and has finished the keys it lost. */
  private async answerClaim(bytes: Buffer): Promise<{ ok: boolean }> {
    let claim: { type?: unknown; view?: unknown };
    try {
      claim = this.codec.decodeMessage(bytes).payload as typeof claim;
    } catch {
      return { ok: false };
    }
    const table = typeof claim.type === "string" ? this.tables.get(claim.type) : undefined;
    if (table === undefined) return { ok: false };
    const deadline = this.clock() + CLAIM_TIMEOUT_MS / 2;
    while (table.view === claim.view && !table.drained(this.self) && this.clock() < deadline) await sleep(2);
    return { ok: table.view === claim.view && table.drained(this.self) };
  }

  run(
    type: string,
    key: string,
    routedHere: boolean,
    work: () => Result<unknown> | Promise<Result<unknown>>,
  ): Result<unknown> | Promise<Result<unknown>> | undefined {
    const table = this.tables.get(type);
    if (table === undefined) return undefined;
    if (!table.settled || !table.owns(key, this.self)) return routedHere ? refusal(table, key) : undefined;
    if (table.handled.size < 100_000) table.handled.add(key);
    let previous = table.tails.get(key);
    if (previous === undefined) {
      const inside = table.inline.get(key);
      if (inside === undefined) return this.runNow(table, key, work);
      // Sent by a handler of this key from its synchronous part: it runs after that message.
      inside.wait ??= new Promise<void>((open) => {
        inside.open = open;
      });
      previous = inside.wait;
    }
    const running = previous.then(() =>
      // Ownership may have moved while it waited: check again before it runs.
      table.settled && table.owns(key, this.self) ? work() : refusal(table, key),
    );
    return this.queue(table, key, running);
  }

  /**
   * Nothing of this key queued or running: runs it now. A synchronous handler is done before any
   * other message can start, so its Result goes back synchronously; one that returns a promise
   * holds the key until it settles. Messages of the key its handler sends meanwhile wait for it.
   */
  private runNow(
    table: ShardTable,
    key: string,
    work: () => Result<unknown> | Promise<Result<unknown>>,
  ): Result<unknown> | Promise<Result<unknown>> {
    const mine: Inline = {};
    table.inline.set(key, mine);
    let now: Result<unknown> | PromiseLike<Result<unknown>>;
    try {
      now = work();
    } catch (thrown) {
      table.inline.delete(key);
      mine.open?.();
      throw thrown;
    }
    table.inline.delete(key);
    if (!isPending(now)) {
      mine.open?.();
      return now;
    }
    const running = Promise.resolve(now);
    // A message its handler sent is queued behind it already, as the key's newest: it stays so.
    this.queue(table, key, running, mine.open === undefined);
    if (mine.open !== undefined) running.then(mine.open, mine.open);
    return running;
  }

  /** Holds `key` until `running` settles: later messages of the key wait for it, a hand-off too. */
  private queue(
    table: ShardTable,
    key: string,
    running: Promise<Result<unknown>>,
    newest = true,
  ): Promise<Result<unknown>> {
    table.busy.set(key, (table.busy.get(key) ?? 0) + 1);
    const tail: Promise<void> = running.then(
      () => this.finished(table, key, tail),
      () => this.finished(table, key, tail),
    );
    if (newest) table.tails.set(key, tail);
    return running;
  }

  private finished(table: ShardTable, key: string, tail: Promise<void>): void {
    const count = (table.busy.get(key) ?? 1) - 1;
    if (count === 0) table.busy.delete(key);
    else table.busy.set(key, count);
    if (table.tails.get(key) === tail) table.tails.delete(key);
  }

  /**
   * Sends a request of a sharded type handled here to its key's owner, retrying refusals (the key
   * is being handed over) until the transport's request timeout or the signal ends it.
   */
  route(envelope: Envelope, signal: AbortSignal): Promise<Result<unknown>> | undefined {
    const shardBy = this.keyFunctions.get(envelope.type);
    const table = this.tables.get(envelope.type);
    if (shardBy === undefined || table === undefined) return this.balancer.route(envelope, signal);
    const key = shardKeyOf(envelope.type, shardBy, envelope.payload, "shardBy");
    if (typeof key !== "string") return Promise.resolve(key);
    return this.sendToOwner(table, key, envelope, signal);
  }

  private async sendToOwner(
    table: ShardTable,
    key: string,
    envelope: Envelope,
    signal: AbortSignal,
  ): Promise<Result<unknown>> {
    const timeoutMs = this.transport.requestTimeoutMs;
    const deadline = this.clock() + timeoutMs;
    const headers = { ...envelope.headers };
    for (;;) {
      const owner = table.ring.lookup(key);
      const left = Math.floor(deadline - this.clock());
      if (owner === undefined || left <= 0)
        return err(
          ErrorCodes.TIMEOUT,
          `no owner answered for key "${key}" of "${table.type}" in ${timeoutMs} ms`,
          {
            timeoutMs,
          },
        );
      headers[SHARD_ROUTE_HEADER] = `${owner} ${envelope.messageId}`;
      const result = await this.transport.requestAt(
        this.transport.instanceSubject(table.type, owner),
        { ...envelope, headers },
        left,
      );
      if (!isShardRefusal(result) && !(result.ok === false && result.error.code === ErrorCodes.NO_HANDLER))
        return result;
      if (signal.aborted) return err(ErrorCodes.ABORTED, "The operation was aborted");
      await sleep(RETRY_MS);
    }
  }

  /** Stops owning anything, waits for the keys in hand, then stops serving (before the goodbye). */
  async leave(): Promise<void> {
    for (const table of this.tables.values()) table.leaving = true;
    this.leaving = true;
    this.refresh();
    const deadline = this.clock() + this.transport.requestTimeoutMs;
    while ([...this.tables.values()].some((t) => t.busy.size > 0) && this.clock() < deadline) await sleep(5);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stopServing?.();
    await this.stopClaims?.();
  }
}

/** A message of a key in its handler's synchronous part; `wait` opens when that part is done (or its promise settles). */
interface Inline {
  wait?: Promise<void>;
  open?: () => void;
}

/** The retryable answer of an instance that does not own `key` now. */
function refusal(table: ShardTable, key: string): Result<never> {
  return err(ErrorCodes.TRANSPORT, `key "${key}" of "${table.type}" is not owned here now: retry`, {
    shard: { type: table.type, key, retryable: true },
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
