import { ErrorCodes } from "../errors.js";
import { NEVER_ABORTED } from "../mediator/context.js";
import { err, type Result } from "../mediator/result.js";
import { fromWire } from "../mediator/transport.js";
import type { NatsConnection } from "../nats/connection.js";
import { viewAt } from "../nats/pack.js";
import { decodeWire, type EnvelopeCodec } from "../nats/wire.js";

/** One `send(..., { await: "result" })` waiting for its handler's Result. */
interface Waiter {
  resolve(result: Result<unknown>): void;
}

/**
 * Where the handlers of this process's durable commands send their Results: one core-NATS
 * subscription per transport on `<prefix>.dres.<service>.<instance>` (the NATS client subscribes
 * again after a reconnect, so the subject outlives one), made on the first "result" send. A Result
 * is matched to its waiting `send` by the command's id (the reply's `causationId`); one that finds
 * nobody waiting (the caller gave up, or a redelivery answered twice) is dropped.
 */
export class ResultInbox {
  /** The subject handlers publish Results to (carried in the command's headers). */
  readonly subject: string;
  private readonly waiting = new Map<string, Waiter[]>();
  /**
   * The waits ended by each caller signal: one abort listener per signal, not per send (a signal
   * shared by many sends would otherwise collect listeners, and Node warns past 10).
   */
  private readonly bySignal = new WeakMap<AbortSignal, Set<() => void>>();
  private subscribed: Promise<() => Promise<void>> | undefined;

  constructor(
    private readonly connection: NatsConnection,
    private readonly codec: EnvelopeCodec,
    prefix: string,
    service: string,
    instance: string,
    private readonly defaultTimeoutMs: number,
  ) {
    this.subject = `${prefix}.dres.${service}.${instance}`;
  }

  /** Subscribes on first use; resolves once the server has the subscription. */
  open(): Promise<unknown> {
    if (this.subscribed === undefined) {
      this.subscribed = this.connection.subscribe(this.subject, {}, async (batch) => {
        for (let i = 0; i < batch.offsets.length / 2; i++)
          this.deliver(viewAt(batch.data, batch.offsets[2 * i]!, batch.offsets[2 * i + 1]!));
      });
      // A failed subscribe is tried again by the next "result" send.
      this.subscribed.catch(() => {
        this.subscribed = undefined;
      });
    }
    return this.subscribed;
  }

  /** Whether a `send` of this process already waits for command `messageId`. */
  isWaiting(messageId: string): boolean {
    return this.waiting.has(messageId);
  }

  /**
   * Waits for the Result of command `messageId` until `signal` aborts, or, when the caller gave no
   * signal, for the transport's `requestTimeoutMs`. `stop` removes the waiter early (the command
   * was not stored); it resolves the promise with `result`.
   */
  wait(
    messageId: string,
    type: string,
    signal: AbortSignal,
  ): { readonly result: Promise<Result<unknown>>; stop(result: Result<unknown>): void } {
    let finish!: (result: Result<unknown>) => void;
    const result = new Promise<Result<unknown>>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () =>
        finish(
          signal.reason instanceof Error && signal.reason.name === "TimeoutError"
            ? err(ErrorCodes.TIMEOUT, `no result for durable command "${type}" before the caller's deadline`)
            : err(ErrorCodes.ABORTED, "The operation was aborted"),
        );
      const waiter: Waiter = { resolve: (r) => finish(r) };
      finish = (r) => {
        clearTimeout(timer);
        this.unwatch(signal, onAbort);
        const list = this.waiting.get(messageId);
        const at = list?.indexOf(waiter) ?? -1;
        if (list !== undefined && at !== -1) {
          list.splice(at, 1);
          if (list.length === 0) this.waiting.delete(messageId);
        }
        resolve(r);
      };
      const list = this.waiting.get(messageId);
      if (list === undefined) this.waiting.set(messageId, [waiter]);
      else list.push(waiter);
      if (signal.aborted) onAbort();
      else if (signal !== NEVER_ABORTED) this.watch(signal, onAbort);
      else
        timer = setTimeout(
          () =>
            finish(
              err(
                ErrorCodes.TIMEOUT,
                `no result for durable command "${type}" within ${this.defaultTimeoutMs} ms (requestTimeoutMs); ` +
                  "it is stored and will still be handled once a service consumes it",
                { timeoutMs: this.defaultTimeoutMs },
              ),
            ),
          this.defaultTimeoutMs,
        );
    });
    return { result, stop: (r) => finish(r) };
  }

  private watch(signal: AbortSignal, onAbort: () => void): void {
    let waits = this.bySignal.get(signal);
    if (waits === undefined) {
      const all = new Set<() => void>();
      waits = all;
      this.bySignal.set(signal, all);
      signal.addEventListener(
        "abort",
        () => {
          for (const each of [...all]) each();
        },
        { once: true },
      );
    }
    waits.add(onAbort);
  }

  private unwatch(signal: AbortSignal, onAbort: () => void): void {
    this.bySignal.get(signal)?.delete(onAbort);
  }

  /**
   * One Result from a handler: to every `send` waiting for its command. Also called directly by a
   * handler in this process, since the connection does not receive its own publishes (no echo).
   */
  deliver(bytes: Uint8Array): void {
    let commandId: string | null;
    let result: Result<unknown>;
    try {
      commandId = decodeWire(bytes).causationId;
      result = fromWire(
        this.codec.decodeReply(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
      );
    } catch (error) {
      this.connection.emit("malformed", 1, `durable command result on ${this.subject}: ${String(error)}`);
      return;
    }
    const list = commandId === null ? undefined : this.waiting.get(commandId);
    if (list === undefined) return;
    for (const waiter of [...list]) waiter.resolve(result);
  }

  /** Ends every wait with CATGA_CLOSED and unsubscribes. */
  async close(): Promise<void> {
    for (const list of [...this.waiting.values()])
      for (const waiter of [...list])
        waiter.resolve(err(ErrorCodes.CLOSED, "the transport closed before the command's result came"));
    const subscribed = this.subscribed;
    this.subscribed = undefined;
    const unsubscribe = await subscribed?.catch(() => undefined);
    await unsubscribe?.().catch(() => undefined);
  }
}
