import { createHash } from "node:crypto";
import { ErrorCodes } from "../errors.js";
import { NEVER_ABORTED } from "../mediator/context.js";
import { err, type Result } from "../mediator/result.js";
import { fromWire } from "../mediator/transport.js";
import type { NatsConnection, StatusEvent } from "../nats/connection.js";
import { viewAt } from "../nats/pack.js";
import { decodeWire, type EnvelopeCodec } from "../nats/wire.js";

/** One `send(..., { await: "result" })` waiting for its handler's Result. */
interface Waiter {
  resolve(result: Result<unknown>): void;
  /** Made by `close` only: told when this wait ends. */
  done?: (() => void)[];
}

/** The JetStream API's "no message found" error (JSApiNoMessageFound). */
const NO_MESSAGE_FOUND = 10037;
/** The JetStream API's "stream not found" error (JSStreamNotFoundErr). */
const STREAM_NOT_FOUND = 10059;

/**
 * Where the handlers of this process's durable commands send their Results. Each command names its
 * own subject, `<prefix>.dres.<service>.<instance>.<command id token>`; this transport subscribes
 * to `<prefix>.dres.<service>.<instance>.>` on the first "result" send (core NATS: the live path).
 * The results stream captures `<prefix>.dres.>` and keeps what handlers publish there briefly, so
 * a Result published while this transport was disconnected is read back from the stream after the
 * reconnect, one look-up by subject per send still waiting (`recover`). A Result is matched to its waiting `send` by the
 * command's id (the reply's `causationId`); one that finds nobody waiting (the caller gave up, or a
 * redelivery answered twice) is dropped.
 */
export class ResultInbox {
  /** The subject under which handlers publish Results (`subjectFor` gives one command's). */
  readonly subject: string;
  private readonly waiting = new Map<string, Waiter[]>();
  /**
   * The waits ended by each caller signal: one abort listener per signal, not per send (a signal
   * shared by many sends would otherwise collect listeners, and Node warns past 10).
   */
  private readonly bySignal = new WeakMap<AbortSignal, Set<() => void>>();
  private subscribed: Promise<() => Promise<void>> | undefined;
  private readonly onStatus = (event: StatusEvent): void => {
    if (event.kind === "reconnected") void this.recover();
  };

  constructor(
    private readonly connection: NatsConnection,
    private readonly codec: EnvelopeCodec,
    prefix: string,
    service: string,
    instance: string,
    private readonly defaultTimeoutMs: number,
    /** The stream that keeps Results (`<commands stream>_RESULTS`). */
    private readonly resultsStream: string,
  ) {
    this.subject = `${prefix}.dres.${service}.${instance}`;
  }

  /** The subject of command `messageId`'s Result: one per command, so it can be looked up. */
  subjectFor(messageId: string): string {
    return `${this.subject}.${subjectToken(messageId)}`;
  }

  /** Whether `subject` is one of this inbox's (a handler in this process answering it). */
  owns(subject: string): boolean {
    return subject.startsWith(`${this.subject}.`);
  }

  /** Subscribes on first use; resolves once the server has the subscription. */
  open(): Promise<unknown> {
    if (this.subscribed === undefined) {
      this.subscribed = this.connection.subscribe(`${this.subject}.>`, {}, async (batch) => {
        for (let i = 0; i < batch.offsets.length / 2; i++)
          this.deliver(viewAt(batch.data, batch.offsets[2 * i]!, batch.offsets[2 * i + 1]!));
      });
      this.connection.on("status", this.onStatus);
      // A failed subscribe is tried again by the next "result" send.
      this.subscribed.catch(() => {
        this.subscribed = undefined;
        this.connection.off("status", this.onStatus);
      });
    }
    return this.subscribed;
  }

  /**
   * After a reconnect: reads from the results stream the Result of every send still waiting (one
   * published while the connection was down reached no subscriber). The client subscribes again
   * before it sends anything else on the new connection, so a Result published from then on
   * arrives live; one already stored is found here; one found both ways resolves its send once.
   */
  async recover(): Promise<void> {
    // One at a time: requests made together to one subject go out as one Catga request frame,
    // which the JetStream API does not read.
    for (const id of [...this.waiting.keys()])
      if (this.waiting.has(id) && (await this.lookUp(id)) === "no stream") return;
  }

  /** Reads back one Result; "no stream" when there is no results stream (an older handling service). */
  private async lookUp(messageId: string): Promise<"no stream" | undefined> {
    try {
      const bytes = await this.connection.request(
        `$JS.API.STREAM.MSG.GET.${this.resultsStream}`,
        Buffer.from(JSON.stringify({ last_by_subj: this.subjectFor(messageId) })),
        5000,
      );
      const reply = JSON.parse(bytes.toString()) as {
        message?: { data?: string };
        error?: { err_code?: number; description?: string };
      };
      if (reply.message?.data !== undefined) this.deliver(Buffer.from(reply.message.data, "base64"));
      else if (reply.error?.err_code === STREAM_NOT_FOUND) return "no stream";
      else if (reply.error !== undefined && reply.error.err_code !== NO_MESSAGE_FOUND)
        throw new Error(reply.error.description ?? "failed");
    } catch (error) {
      // The send keeps waiting: its Result may still come live (a handler not done yet).
      this.connection.emit("status", {
        kind: "error",
        message: `durable command result ${messageId} not read back after a reconnect: ${String(error)}`,
      });
    }
    return undefined;
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
        if (waiter.done !== undefined) for (const drained of waiter.done.splice(0)) drained();
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

  /**
   * Drains, then unsubscribes: a send still waiting gets its Result if it comes before that send's
   * own bound (its signal, else `requestTimeoutMs`), as a request in flight does at close; any wait
   * left after that (none, unless `deliver` misbehaves) ends with CATGA_CLOSED.
   */
  async close(): Promise<void> {
    const draining = [...this.waiting.values()].flat().map(
      (waiter) =>
        new Promise<void>((resolve) => {
          waiter.done ??= [];
          waiter.done.push(resolve);
        }),
    );
    await Promise.all(draining);
    for (const list of [...this.waiting.values()])
      for (const waiter of [...list])
        waiter.resolve(err(ErrorCodes.CLOSED, "the transport closed before the command's result came"));
    const subscribed = this.subscribed;
    this.subscribed = undefined;
    this.connection.off("status", this.onStatus);
    const unsubscribe = await subscribed?.catch(() => undefined);
    await unsubscribe?.().catch(() => undefined);
  }
}

/**
 * A command id as one subject token: as it is when it is one (a UUID, letters, digits, `-`, `_`),
 * else a hash of it (ids are the caller's choice and may hold dots or spaces).
 */
function subjectToken(messageId: string): string {
  if (/^[A-Za-z0-9_-]{1,128}$/.test(messageId)) return messageId;
  return `h${createHash("sha256").update(messageId).digest("base64url").slice(0, 43)}`;
}
