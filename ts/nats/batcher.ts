import { CatgaError, ErrorCodes } from "../errors.js";
import { packBytes } from "./pack.js";

/** Sends one flushed batch: envelope i is `data[offsets[2i]..][..offsets[2i+1]]` to `subjects[subjectIndex[i]]`. */
export type FlushBatch = (
  subjects: string[],
  subjectIndex: Uint32Array,
  data: Buffer,
  offsets: Uint32Array,
) => Promise<void>;

export interface BatcherOptions {
  maxMessages: number;
  maxBytes: number;
  /** Bytes queued (open + ready batches) past which `policy` applies. */
  maxQueuedBytes: number;
  policy: "wait" | "reject";
  /** 0 closes the open batch at the end of the current tick (setImmediate); more waits that many ms. */
  maxDelayMs: number;
}

/** Envelopes collected for one N-API call, and the promise every one of their senders holds. */
class Batch {
  readonly chunks: Uint8Array[] = [];
  readonly subjectOf: number[] = [];
  readonly subjects = new Map<string, number>();
  private lastSubject: string | undefined;
  private lastIndex = 0;
  bytes = 0;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A caller may drop its promise; an unobserved rejection must not crash the process.
    this.done.catch(() => undefined);
  }

  add(subject: string, envelope: Uint8Array, length: number): void {
    // Batches are mostly runs of one subject: skip the Map when it repeats.
    let index = subject === this.lastSubject ? this.lastIndex : this.subjects.get(subject);
    if (index === undefined) {
      index = this.subjects.size;
      this.subjects.set(subject, index);
    }
    this.lastSubject = subject;
    this.lastIndex = index;
    this.chunks.push(envelope);
    this.subjectOf.push(index);
    this.bytes += length;
  }

  send(flush: FlushBatch, slab: Buffer): Promise<void> {
    const { data, offsets } = packBytes(this.chunks, slab);
    return flush([...this.subjects.keys()], Uint32Array.from(this.subjectOf), data, offsets);
  }
}

/**
 * Collects outbound envelopes and hands them to the engine in one N-API call per batch. A batch
 * closes at `maxMessages`/`maxBytes` or when the delay expires; batches are sent one at a time,
 * in order, so publish order is kept, and whatever arrives while one is in flight joins the next
 * (batches grow with load on their own). Every sender's promise settles with its batch: an
 * accepted message is either published or its promise rejects.
 */
export class OutboundBatcher {
  private open: Batch | undefined;
  private readonly ready: Batch[] = [];
  private sending: Promise<void> | undefined;
  private queuedBytes = 0;
  private readonly roomWaiters: (() => void)[] = [];
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private closed = false;
  /**
   * Every batch is packed into this one buffer: one batch is in flight at a time, and the engine
   * has read it before the batch's promise settles. A fresh 1 MiB buffer per batch cost an mmap,
   * page faults and an munmap each time.
   */
  private slab = Buffer.allocUnsafeSlow(0);

  constructor(
    private readonly flushBatch: FlushBatch,
    private readonly options: BatcherOptions,
  ) {}

  /** Envelopes accepted and not yet handed to the engine. */
  get queued(): number {
    return (this.open?.chunks.length ?? 0) + this.ready.reduce((n, b) => n + b.chunks.length, 0);
  }

  add(subject: string, envelope: Uint8Array): Promise<void> {
    if (this.closed)
      return Promise.reject(new CatgaError(ErrorCodes.CLOSED, "the NATS connection is closed"));
    const length = envelope.byteLength;
    if (this.queuedBytes + length > this.options.maxQueuedBytes && this.queuedBytes > 0) {
      if (this.options.policy === "reject") {
        return Promise.reject(
          new CatgaError(
            ErrorCodes.BACKPRESSURE,
            `${this.queuedBytes} bytes are already queued for publishing (maxPendingBytes ${this.options.maxQueuedBytes})`,
          ),
        );
      }
      // Wait policy: take the envelope once earlier batches have drained below the bound.
      return new Promise<void>((resolve) => this.roomWaiters.push(resolve)).then(() =>
        this.add(subject, envelope),
      );
    }
    this.queuedBytes += length;
    // Close a batch before this envelope would carry it past maxBytes, not after.
    if (this.open && this.open.bytes + length > this.options.maxBytes) this.closeOpen();
    this.open ??= new Batch();
    const batch = this.open;
    batch.add(subject, envelope, length);
    if (batch.chunks.length >= this.options.maxMessages || batch.bytes >= this.options.maxBytes) {
      this.closeOpen();
      this.pump();
    } else {
      this.timer ??= this.schedule();
    }
    return batch.done;
  }

  private schedule(): NodeJS.Immediate | NodeJS.Timeout {
    const run = () => {
      this.timer = undefined;
      this.closeOpen();
      this.pump();
    };
    return this.options.maxDelayMs === 0 ? setImmediate(run) : setTimeout(run, this.options.maxDelayMs);
  }

  private closeOpen(): void {
    if (this.open) this.ready.push(this.open);
    this.open = undefined;
  }

  private pump(): void {
    if (this.sending) return;
    const batch = this.ready.shift();
    if (!batch) return;
    if (this.slab.byteLength < batch.bytes && batch.bytes <= this.options.maxBytes)
      this.slab = Buffer.allocUnsafeSlow(this.options.maxBytes);
    this.sending = batch.send(this.flushBatch, this.slab).then(batch.resolve, batch.reject);
    void this.sending.finally(() => {
      this.sending = undefined;
      this.queuedBytes -= batch.bytes;
      // Wake waiters in order; each re-checks the bound when it re-enters add().
      for (const wake of this.roomWaiters.splice(0)) wake();
      this.pump();
    });
  }

  /** Closes the open batch now; resolves when everything accepted so far is sent. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearImmediate(this.timer as NodeJS.Immediate);
      clearTimeout(this.timer as NodeJS.Timeout);
      this.timer = undefined;
    }
    this.closeOpen();
    const last = this.ready.at(-1);
    this.pump();
    await Promise.all([this.sending, last?.done].map((p) => p?.catch(() => undefined)));
  }

  /** Stops taking envelopes and waits until everything accepted has been sent (or failed). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.open || this.ready.length > 0 || this.sending || this.roomWaiters.length > 0) {
      for (const wake of this.roomWaiters.splice(0)) wake();
      await this.flush();
    }
  }
}
