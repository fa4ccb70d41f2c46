import { CatgaError, ErrorCodes } from "../errors.js";

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
  /** 0 flushes at the end of the current tick (setImmediate); more waits that many ms. */
  maxDelayMs: number;
}

/**
 * Collects outbound envelopes and hands them to the engine in one N-API call per flush: when
 * `maxMessages` or `maxBytes` is reached, or when the delay expires. Every envelope's promise
 * settles with its batch, so an accepted message is either published or its promise rejects.
 */
export class OutboundBatcher {
  private chunks: Uint8Array[] = [];
  private subjectOf: number[] = [];
  private subjects = new Map<string, number>();
  private bytes = 0;
  private pending: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly flushBatch: FlushBatch,
    private readonly options: BatcherOptions,
  ) {}

  get size(): number {
    return this.chunks.length;
  }

  add(subject: string, envelope: Uint8Array): Promise<void> {
    if (this.closed)
      return Promise.reject(new CatgaError(ErrorCodes.CLOSED, "the NATS connection is closed"));
    let index = this.subjects.get(subject);
    if (index === undefined) {
      index = this.subjects.size;
      this.subjects.set(subject, index);
    }
    this.chunks.push(envelope);
    this.subjectOf.push(index);
    this.bytes += envelope.byteLength;
    this.pending ??= deferred();
    const { promise } = this.pending;
    if (this.chunks.length >= this.options.maxMessages || this.bytes >= this.options.maxBytes) this.flush();
    else this.timer ??= this.schedule();
    return promise;
  }

  private schedule(): NodeJS.Immediate | NodeJS.Timeout {
    const run = () => {
      this.timer = undefined;
      this.flush();
    };
    return this.options.maxDelayMs === 0 ? setImmediate(run) : setTimeout(run, this.options.maxDelayMs);
  }

  /** Sends what is queued now; resolves when that batch is published. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearImmediate(this.timer as NodeJS.Immediate);
      clearTimeout(this.timer as NodeJS.Timeout);
      this.timer = undefined;
    }
    const batch = this.pending;
    if (batch === undefined || this.chunks.length === 0) return Promise.resolve();
    const offsets = new Uint32Array(this.chunks.length * 2);
    let at = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      offsets[2 * i] = at;
      offsets[2 * i + 1] = this.chunks[i]!.byteLength;
      at += this.chunks[i]!.byteLength;
    }
    const data = Buffer.concat(this.chunks, at);
    const subjectIndex = Uint32Array.from(this.subjectOf);
    const subjects = [...this.subjects.keys()];
    this.chunks = [];
    this.subjectOf = [];
    this.subjects = new Map();
    this.bytes = 0;
    this.pending = undefined;
    const sent = this.flushBatch(subjects, subjectIndex, data, offsets).then(batch.resolve, batch.reject);
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
    return batch.promise;
  }

  /** Stops taking envelopes, sends what is queued and waits for every batch in flight. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush().catch(() => undefined);
    await Promise.all(this.inFlight);
  }
}

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers may drop their promise; an unobserved rejection must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
