import type { NatsClient, RepliesJs } from "../native/binding.generated.js";
import { fromNativeError } from "../native/errors.js";
import { indexSubjects, packBytes, viewAt } from "./pack.js";
import { failureOn } from "./permissions.js";

interface Pending {
  readonly subject: string;
  resolve(reply: Buffer): void;
  reject(error: unknown): void;
}

interface Queued {
  readonly id: number;
  readonly subject: string;
  readonly envelope: Uint8Array;
}

/**
 * Batches requests both ways: those made in the same tick start in one `requestBatch` call, and
 * the engine reports finished ones in groups through one callback (`onReplies`), matched here by
 * id. The correlation of NATS replies to requests stays in Rust; this map only holds promises.
 * Every started request reports exactly once (the engine bounds each by its timeout), so no
 * promise is left hanging.
 */
export class RequestBatcher {
  private readonly pending = new Map<number, Pending>();
  /** Queued per timeout, since one native call carries one timeout. */
  private readonly queued = new Map<number | undefined, Queued[]>();
  private nextId = 1;
  private scheduled = false;
  // The engine's callback does not hold the event loop open; this timer does while requests wait.
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(private readonly client: NatsClient) {
    client.onReplies((replies) => this.settle(replies));
  }

  add(subject: string, envelope: Uint8Array, timeoutMs: number | undefined): Promise<Buffer> {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    const promise = new Promise<Buffer>((resolve, reject) =>
      this.pending.set(id, { subject, resolve, reject }),
    );
    let list = this.queued.get(timeoutMs);
    if (!list) {
      list = [];
      this.queued.set(timeoutMs, list);
    }
    list.push({ id, subject, envelope });
    if (!this.scheduled) {
      this.scheduled = true;
      // A lone request goes at the end of this tick. With others in flight, their replies arrive
      // as many callbacks in one event-loop turn (one per reply frame): the requests they trigger
      // wait for the end of that turn and start together, framed per subject. Flushed per tick,
      // sends to several subjects (a sharded type's owners) split into ever smaller frames until
      // each went alone, one native call each (benches/RESULTS.md, "Cluster: sharded send").
      if (this.pending.size === 1) queueMicrotask(this.flushNow);
      else setImmediate(this.flushNow);
    }
    this.keepAlive ??= setInterval(() => undefined, 1 << 30);
    return promise;
  }

  private readonly flushNow = (): void => this.flush();

  private flush(): void {
    this.scheduled = false;
    for (const [timeoutMs, list] of this.queued) {
      this.queued.delete(timeoutMs);
      this.start(list, timeoutMs);
    }
  }

  private start(list: readonly Queued[], timeoutMs: number | undefined): void {
    // A plain loop: `Uint32Array.from` with a map function costs ~100 ns per element here.
    const ids = new Uint32Array(list.length);
    for (let i = 0; i < list.length; i++) ids[i] = list[i]!.id;
    const { subjects, subjectIndex } = indexSubjects(list.map((r) => r.subject));
    const { data, offsets } = packBytes(list.map((r) => r.envelope));
    try {
      this.client.requestBatch(ids, subjects, subjectIndex, data, offsets, timeoutMs);
    } catch (error) {
      const failure = fromNativeError(error);
      for (const request of list) this.take(request.id)?.reject(failure);
    }
  }

  private take(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0 && this.keepAlive !== undefined) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
    return pending;
  }

  private settle(replies: RepliesJs): void {
    for (let i = 0; i < replies.ids.length; i++) {
      const pending = this.take(replies.ids[i]!);
      if (!pending) continue;
      const code = replies.codes[i];
      if (code) {
        pending.reject(failureOn(pending.subject, code, replies.messages[i] ?? "request failed"));
      } else {
        pending.resolve(viewAt(replies.data, replies.offsets[2 * i]!, replies.offsets[2 * i + 1]!));
      }
    }
  }
}
