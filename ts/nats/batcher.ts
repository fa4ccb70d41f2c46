import { CatgaError, ErrorCodes } from "../errors.js";
import { publishDenied } from "./permissions.js";
import { CheckedSubjects } from "./subjects.js";

/**
 * Sends one flushed batch: envelope i is `data[offsets[2i]..][..offsets[2i+1]]` to
 * `subjects[subjectIndex[i]]`. Resolves with the subjects the server refused (NATS permissions),
 * whose envelopes were not delivered, or with nothing.
 */
export type FlushBatch = (
  subjects: string[],
  subjectIndex: Uint32Array,
  data: Buffer,
  offsets: Uint32Array,
) => Promise<readonly string[] | null | undefined>;

export interface BatcherOptions {
  maxMessages: number;
  maxBytes: number;
  /** Bytes queued (open + ready batches) past which `policy` applies. */
  maxQueuedBytes: number;
  policy: "wait" | "reject";
  /** 0 closes the open batch at the end of the current tick (setImmediate); more waits that many ms. */
  maxDelayMs: number;
}

/**
 * `Uint8Array.prototype.set`, called directly. On a Buffer, `buf.set` and `buf.byteLength` are
 * looked up through Buffer.prototype, which V8 (Node 20) keeps in dictionary mode: optimized code
 * cannot inline those loads and calls the generic LoadIC each time (~25 ns of the ~66 ns the
 * batcher spent per envelope). `length` is inlined for every typed array, so it is used instead
 * of `byteLength` (equal for the Uint8Arrays and Buffers taken here).
 */
const copyInto: (target: Uint8Array, source: Uint8Array, offset: number) => void =
  Function.prototype.call.bind(Uint8Array.prototype.set) as never;

/** Buffer sets kept for reuse per batcher (one is filled while another is in flight). */
const SPARE_BUFFER_SETS = 2;

/**
 * Where one batch is written: envelope bytes, (start, length) pairs and subject indexes. Sets
 * are pooled and reused once the engine has read a batch, so a busy publisher allocates nothing
 * per batch (a fresh 1 MiB buffer cost an mmap, page faults and an munmap each time) and each
 * envelope is copied once, at `add`, instead of kept in arrays and concatenated later.
 */
interface BatchBuffers {
  readonly data: Buffer;
  readonly offsets: Uint32Array;
  readonly subjectIndex: Uint32Array;
}

/** An envelope waiting for room under the wait policy; its bytes are the batcher's own copy. */
interface Waiting {
  readonly subject: string;
  readonly envelope: Uint8Array;
  resolve(sent: Promise<void>): void;
  reject(error: unknown): void;
}

/** What the senders of one subject's envelopes in a batch hold. */
class Outcome {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A caller may drop its promise; an unobserved rejection must not crash the process.
    this.promise.catch(() => undefined);
  }
}

/**
 * Envelopes collected for one N-API call, and the promise their senders hold: one per subject,
 * since the server may refuse one subject of a batch (NATS permissions) and deliver the others.
 */
class Batch {
  count = 0;
  bytes = 0;
  readonly subjects = new Map<string, number>();
  private readonly outcomes: Outcome[] = [];
  private lastSubject: string | undefined;
  private lastIndex = 0;
  /** Resolves (never rejects) once every sender's promise has settled. */
  readonly done: Promise<void>;
  private finished!: () => void;

  constructor(readonly buffers: BatchBuffers) {
    this.done = new Promise<void>((resolve) => {
      this.finished = resolve;
    });
  }

  /** Settles each subject's senders: rejected with CATGA_PERMISSION_DENIED for a refused subject. */
  settle(refused: readonly string[] | null | undefined): void {
    if (refused && refused.length > 0) {
      for (const [subject, index] of this.subjects) {
        const outcome = this.outcomes[index]!;
        if (refused.includes(subject)) outcome.reject(publishDenied(subject));
        else outcome.resolve();
      }
    } else {
      for (const outcome of this.outcomes) outcome.resolve();
    }
    this.finished();
  }

  fail(error: unknown): void {
    for (const outcome of this.outcomes) outcome.reject(error);
    this.finished();
  }

  /** Whether one more envelope of `length` bytes fits in this batch's buffers. */
  fits(length: number): boolean {
    return this.count < this.buffers.subjectIndex.length && this.bytes + length <= this.buffers.data.length;
  }

  /** Adds an envelope; returns the promise of its subject's senders. */
  add(subject: string, envelope: Uint8Array, length: number): Promise<void> {
    // Batches are mostly runs of one subject: skip the Map when it repeats.
    let index = subject === this.lastSubject ? this.lastIndex : this.subjects.get(subject);
    if (index === undefined) {
      index = this.subjects.size;
      this.subjects.set(subject, index);
      this.outcomes.push(new Outcome());
    }
    this.lastSubject = subject;
    this.lastIndex = index;
    const { data, offsets, subjectIndex } = this.buffers;
    copyInto(data, envelope, this.bytes);
    offsets[2 * this.count] = this.bytes;
    offsets[2 * this.count + 1] = length;
    subjectIndex[this.count] = index;
    this.count++;
    this.bytes += length;
    return this.outcomes[index]!.promise;
  }

  send(flush: FlushBatch): Promise<readonly string[] | null | undefined> {
    const { data, offsets, subjectIndex } = this.buffers;
    return flush(
      [...this.subjects.keys()],
      subjectIndex.subarray(0, this.count),
      data.subarray(0, this.bytes),
      offsets.subarray(0, 2 * this.count),
    );
  }
}

/**
 * Collects outbound envelopes and hands them to the engine in one N-API call per batch. A batch
 * closes at `maxMessages`/`maxBytes` or when the delay expires; batches are sent one at a time,
 * in order, so publish order is kept, and whatever arrives while one is in flight (or while the
 * connection is down) joins the next, up to the batch limits: batches grow with load on their
 * own. Every sender's promise settles with its batch: an accepted message is either published or
 * its promise rejects (CATGA_PERMISSION_DENIED when the server refused its subject).
 */
export class OutboundBatcher {
  private open: Batch | undefined;
  private readonly ready: Batch[] = [];
  private sending: Promise<void> | undefined;
  private queuedBytes = 0;
  /** Wait policy: envelopes waiting for room, first in first out (none is taken past one waiting). */
  private readonly waiting: Waiting[] = [];
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** The open batch's delay ran out while another batch was in flight: it goes next. */
  private overdue = false;
  /** Held while the connection is down (see `pause`). */
  private paused = false;
  /** A `flush` while paused: batches up to this one go to the engine anyway. */
  private flushingThrough: Batch | undefined;
  private closed = false;
  /** The last subject that passed the subject check. */
  private lastSubject: string | undefined;
  private readonly checkedSubjects = new CheckedSubjects();
  /** Buffer sets of sent batches, ready for new ones (a few: batches are sent one at a time). */
  private readonly spare: BatchBuffers[] = [];

  constructor(
    private readonly flushBatch: FlushBatch,
    private readonly options: BatcherOptions,
  ) {}

  /**
   * Publishes refused (`reject` policy) or made to wait (`wait` policy) here because
   * `maxQueuedBytes` was reached: counted per envelope, added to the engine's own backpressure
   * counts by `NatsConnection.stats()`.
   */
  rejections = 0;
  waits = 0;

  /** Envelopes accepted and not yet handed to the engine. */
  get queued(): number {
    return (this.open?.count ?? 0) + this.ready.reduce((n, b) => n + b.count, 0);
  }

  add(subject: string, envelope: Uint8Array): Promise<void> {
    if (this.closed)
      return Promise.reject(new CatgaError(ErrorCodes.CLOSED, "the NATS connection is closed"));
    // A string or ArrayBuffer would copy as nothing and its missing `length` would poison the byte count.
    if (!(envelope instanceof Uint8Array))
      return Promise.reject(
        new CatgaError(ErrorCodes.INVALID_ARGUMENT, "envelope must be a Uint8Array or Buffer"),
      );
    // Runs of one subject skip even the set lookup.
    if (subject !== this.lastSubject) {
      if (!this.checkedSubjects.check(subject))
        return Promise.reject(
          new CatgaError(
            ErrorCodes.INVALID_ARGUMENT,
            `subject ${JSON.stringify(subject)} is not a valid NATS subject`,
          ),
        );
      this.lastSubject = subject;
    }
    const length = envelope.length;
    if (this.waiting.length > 0 || !this.hasRoom(length)) {
      if (this.options.policy === "reject") {
        this.rejections++;
        return Promise.reject(
          new CatgaError(
            ErrorCodes.BACKPRESSURE,
            `${this.queuedBytes} bytes are already queued for publishing (maxPendingBytes ${this.options.maxQueuedBytes})`,
          ),
        );
      }
      // Wait policy: queue behind earlier waiters, so publish order holds. The bytes are copied
      // now, since the caller may reuse its buffer as soon as publish returns.
      this.waits++;
      return new Promise<void>((resolve, reject) =>
        this.waiting.push({ subject, envelope: new Uint8Array(envelope), resolve, reject }),
      );
    }
    return this.accept(subject, envelope, length);
  }

  private hasRoom(length: number): boolean {
    return this.queuedBytes === 0 || this.queuedBytes + length <= this.options.maxQueuedBytes;
  }

  private accept(subject: string, envelope: Uint8Array, length: number): Promise<void> {
    this.queuedBytes += length;
    // Close a batch before this envelope would carry it past maxBytes, not after.
    if (this.open && !this.open.fits(length)) {
      this.closeOpen();
      this.pump();
    }
    this.open ??= new Batch(this.buffersFor(length));
    const batch = this.open;
    const sent = batch.add(subject, envelope, length);
    if (batch.count >= this.options.maxMessages || batch.bytes >= this.options.maxBytes) {
      this.closeOpen();
      this.pump();
    } else {
      this.timer ??= this.schedule();
    }
    return sent;
  }

  /** Takes waiting envelopes, in order, while the head one fits under the bound. */
  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.hasRoom(this.waiting[0]!.envelope.length)) {
      const next = this.waiting.shift()!;
      next.resolve(this.accept(next.subject, next.envelope, next.envelope.length));
    }
  }

  /** A buffer set for a new batch whose first envelope has `length` bytes. */
  private buffersFor(length: number): BatchBuffers {
    const { maxBytes, maxMessages } = this.options;
    if (length > maxBytes) {
      // A lone envelope larger than a batch travels alone in buffers of its own size.
      return {
        data: Buffer.allocUnsafeSlow(length),
        offsets: new Uint32Array(2),
        subjectIndex: new Uint32Array(1),
      };
    }
    return (
      this.spare.pop() ?? {
        data: Buffer.allocUnsafeSlow(maxBytes),
        offsets: new Uint32Array(2 * maxMessages),
        subjectIndex: new Uint32Array(maxMessages),
      }
    );
  }

  private schedule(): NodeJS.Immediate | NodeJS.Timeout {
    const run = () => {
      this.timer = undefined;
      // While a batch is in flight (or held up by an outage) the open one keeps growing up to
      // the batch limits and goes when the slot frees: closing one per tick would send a burst
      // of one-envelope messages after a reconnect (issue 14, item 10).
      if (this.sending || this.paused) {
        this.overdue = true;
        return;
      }
      this.closeOpen();
      this.pump();
    };
    return this.options.maxDelayMs === 0 ? setImmediate(run) : setTimeout(run, this.options.maxDelayMs);
  }

  private closeOpen(): void {
    if (this.open) this.ready.push(this.open);
    this.open = undefined;
    this.overdue = false;
  }

  /**
   * The connection is down: hand the engine nothing until `resume`, so what is published
   * meanwhile waits here in full batches instead of queuing in the client as one NATS message
   * per batch of a tick, to burst out at reconnect (issue 14, item 10). Bounded by
   * `maxQueuedBytes` like any backlog.
   */
  pause(): void {
    this.paused = true;
  }

  /** The connection is back: send what waited, in full batches. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.closeOpen();
    this.pump();
  }

  private pump(): void {
    if (this.sending || (this.paused && this.flushingThrough === undefined)) return;
    if (this.overdue && this.ready.length === 0) this.closeOpen();
    const batch = this.ready.shift();
    if (!batch) return;
    let sent: Promise<readonly string[] | null | undefined>;
    try {
      sent = batch.send(this.flushBatch);
    } catch (error) {
      // A synchronous throw fails this batch's senders like a rejection, never the caller of add.
      sent = Promise.reject(error);
    }
    this.sending = sent.then(
      (refused) => batch.settle(refused),
      (error: unknown) => batch.fail(error),
    );
    void this.sending.finally(() => {
      this.sending = undefined;
      if (batch === this.flushingThrough) this.flushingThrough = undefined;
      this.queuedBytes -= batch.bytes;
      // The engine has read the batch: its buffers can take another one.
      if (batch.buffers.data.length === this.options.maxBytes && this.spare.length < SPARE_BUFFER_SETS)
        this.spare.push(batch.buffers);
      this.admitWaiting();
      this.pump();
    });
  }

  /** Closes the open batch now; resolves when everything accepted so far is sent. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      // Each with its own: clearImmediate on a Timeout corrupts Node's count of pending
      // immediates, after which no setImmediate in the process runs again.
      if (this.options.maxDelayMs === 0) clearImmediate(this.timer as NodeJS.Immediate);
      else clearTimeout(this.timer as NodeJS.Timeout);
      this.timer = undefined;
    }
    this.closeOpen();
    const last = this.ready.at(-1);
    // Paused for an outage, a flush still hands what it covers to the engine (already in full
    // batches), whose own flush is bounded: it must not wait for the reconnect.
    if (this.paused && last !== undefined) this.flushingThrough = last;
    this.pump();
    await Promise.all([this.sending, last?.done].map((p) => p?.catch(() => undefined)));
  }

  /** Stops taking envelopes and waits until everything accepted has been sent (or failed). */
  async close(): Promise<void> {
    this.closed = true;
    // What waited for a reconnect goes to the engine now, which sends or fails it.
    this.paused = false;
    // Not accepted yet (they were waiting for room): they fail as a publish after close would.
    for (const waiter of this.waiting.splice(0))
      waiter.reject(new CatgaError(ErrorCodes.CLOSED, "the NATS connection is closed"));
    while (this.open || this.ready.length > 0 || this.sending) await this.flush();
  }
}
