import { CatgaError, ErrorCodes } from "../errors.js";
import { isLastDelivery, JetStream } from "../jetstream/jetstream.js";
import { CONSUMER_DEFAULTS, type StreamOptions } from "../jetstream/options.js";
import type { DurableAwait } from "../mediator/context.js";
import type { Accepted } from "../mediator/contracts.js";
import { uuidv7 } from "../mediator/ids.js";
import { err, isAnsweredFailure, ok, type Result } from "../mediator/result.js";
import { type Envelope, type InboundDispatcher, toWire } from "../mediator/transport.js";
import type { InboundMessages, NatsConnection, OutboundReply } from "../nats/connection.js";
import { type EnvelopeCodec, unencodableResult } from "../nats/wire.js";
import { durabilityOf } from "./durability.js";
import { typeMismatch } from "./inbound.js";
import { type DurableCommandsOptions, defaultStreamName } from "./options.js";
import { ResultInbox } from "./result-inbox.js";

/** Carries the caller's {@link ResultInbox} subject on a command sent with `await: "result"`. */
export const REPLY_TO_HEADER = "catga-reply-to";
/** Marks the envelope a caller sends to learn how the handling service takes a command type. */
const PROBE_HEADER = "catga-durable-probe";
const EMPTY_HEADERS: Envelope["headers"] = Object.freeze({});

/**
 * How long the results stream keeps a Result: the span within which a caller that was disconnected
 * when its Result was sent still gets it after reconnecting (its own deadline permitting).
 */
export const RESULTS_MAX_AGE_MS = 5 * 60_000;

/**
 * The streams of durable commands: the commands in `stream` (default `<PREFIX>_COMMANDS`)
 * capturing `<prefix>.dcmd.>` as a work queue (a command is removed once handled), with
 * `provision`'s settings; their dead letters in `<stream>_DLQ` capturing `<prefix>.dcmd-dlq.>`
 * (apart from the events' `<prefix>.dlq.>`: two streams may not capture one subject); the
 * Results of "result" sends in `<stream>_RESULTS` capturing `<prefix>.dres.>`, kept
 * {@link RESULTS_MAX_AGE_MS}. The dead letters and Results get `provision`'s `replicas` and
 * `storage`: in a cluster they must survive losing a server like the commands do.
 */
export function durableCommandStreams(
  prefix: string,
  options: Pick<DurableCommandsOptions, "stream" | "provision">,
): {
  readonly commands: StreamOptions;
  readonly deadLetters: StreamOptions;
  readonly results: StreamOptions;
} {
  const name = options.stream ?? defaultStreamName(prefix, "COMMANDS");
  const settings = typeof options.provision === "object" ? options.provision : {};
  const durability = durabilityOf(settings);
  return {
    commands: { ...settings, name, subjects: [`${prefix}.dcmd.>`], retention: "workqueue" },
    deadLetters: { ...durability, name: `${name}_DLQ`, subjects: [`${prefix}.dcmd-dlq.>`] },
    results: {
      ...durability,
      name: `${name}_RESULTS`,
      subjects: [`${prefix}.dres.>`],
      retention: "limits",
      maxAgeMs: RESULTS_MAX_AGE_MS,
    },
  };
}

/**
 * Commands declared `.durable()`: stored in a JetStream work queue, taken by the handling
 * service's instances through one shared durable consumer per type, acked after the handler
 * succeeds, retried with backoff, dead-lettered after `maxDeliver`; Results go back to callers that
 * wait for them through their {@link ResultInbox}. Callers and handlers check that they agree
 * (docs/architecture/durable-commands.md, "Caller and handler must agree").
 */
export class DurableCommands {
  private readonly js: JetStream;
  private readonly streams: ReturnType<typeof durableCommandStreams>;
  private readonly inbox: ResultInbox;
  /** Types whose handling service answered the probe as durable. */
  private readonly confirmed = new Set<string>();
  private readonly probes = new Map<string, Promise<Result<unknown> | undefined>>();

  constructor(
    private readonly connection: NatsConnection,
    private readonly options: DurableCommandsOptions,
    private readonly prefix: string,
    private readonly service: string,
    private readonly codec: EnvelopeCodec,
    requestTimeoutMs: number,
  ) {
    this.js = new JetStream(connection, { prefix });
    this.streams = durableCommandStreams(prefix, options);
    this.inbox = new ResultInbox(
      connection,
      codec,
      prefix,
      service,
      uuidv7(),
      requestTimeoutMs,
      this.streams.results.name,
    );
  }

  /**
   * Creates or updates both streams (idempotent on the server); `provision: false` skips it. Run at
   * connect, and only when the service was given `durableCommands`: a service without settings of
   * its own must not reset the streams another one set up.
   */
  async provision(): Promise<void> {
    if (this.options.provision === false) return;
    await this.js.ensureStream(this.streams.commands);
    await this.js.ensureStream(this.streams.deadLetters);
    await this.js.ensureStream(this.streams.results);
  }

  private subject(type: string): string {
    return `${this.prefix}.dcmd.${type}`;
  }

  /**
   * Stores a command; resolves with {@link Accepted}, or with the handler's Result for `"result"`.
   * Never rejects: every failure is a coded Result.
   */
  async send(envelope: Envelope, awaits: DurableAwait, signal: AbortSignal): Promise<Result<unknown>> {
    try {
      const mismatch = await this.probe(envelope.type);
      if (mismatch !== undefined) return mismatch;
      if (awaits === "accepted") {
        const stored = await this.store(envelope, envelope.headers);
        return ok<Accepted>({ messageId: envelope.messageId, duplicate: stored.duplicate });
      }
      await this.inbox.open();
      const joined = this.inbox.isWaiting(envelope.messageId);
      const waiting = this.inbox.wait(envelope.messageId, envelope.type, signal);
      let stored: { duplicate: boolean };
      try {
        stored = await this.store(envelope, {
          ...envelope.headers,
          [REPLY_TO_HEADER]: this.inbox.subjectFor(envelope.messageId),
        });
      } catch (error) {
        waiting.stop(failure(error));
        return waiting.result;
      }
      // A copy stored earlier carries the reply subject of whoever sent it: only a send of this
      // process still waiting for that command gets its Result.
      if (stored.duplicate && !joined)
        waiting.stop(
          err(
            ErrorCodes.INVALID_ARGUMENT,
            `a durable command with messageId ${envelope.messageId} was already accepted; its result goes to the send that stored it`,
            { field: "messageId", messageId: envelope.messageId, duplicate: true },
          ),
        );
      return waiting.result;
    } catch (error) {
      return failure(error);
    }
  }

  private store(envelope: Envelope, headers: Envelope["headers"]): Promise<{ duplicate: boolean }> {
    const bytes = this.codec.encodeMessage(
      headers === envelope.headers ? envelope : { ...envelope, headers },
    );
    return this.js.publishOne(this.subject(envelope.type), envelope.messageId, bytes);
  }

  /**
   * Asks once per type how the handling service takes it, before the first command is stored: a
   * service serving it by request/reply (its contract is not `.durable()`) would never take it from
   * the work queue, so the send fails with CATGA_NO_HANDLER instead. The probe is an event
   * envelope on the request subject, which a request/reply handler refuses without running
   * anything; with nobody answering (the service is down) the command is stored and waits.
   */
  private async probe(type: string): Promise<Result<unknown> | undefined> {
    // Confirmed once, or handled here durably (`consume` adds those: the builder checked that
    // this process's contracts agree, and a probe would find nobody, as the connection does not
    // receive its own requests).
    if (this.confirmed.has(type)) return undefined;
    let probing = this.probes.get(type);
    if (probing === undefined) {
      probing = this.askHandler(type).finally(() => this.probes.delete(type));
      this.probes.set(type, probing);
    }
    return probing;
  }

  private async askHandler(type: string): Promise<Result<unknown> | undefined> {
    const probe = this.codec.encodeNew("event", type, { [PROBE_HEADER]: this.service }, null);
    let reply: Buffer;
    try {
      reply = await this.connection.request(`${this.prefix}.cmd.${type}`, probe, PROBE_TIMEOUT_MS);
    } catch {
      return undefined; // nobody answered: no instance of the handling service is up
    }
    let answer: Result<unknown>;
    try {
      answer = fromWireReply(this.codec, reply);
    } catch {
      return undefined;
    }
    if (answer.ok) {
      this.confirmed.add(type);
      return undefined;
    }
    return err(
      ErrorCodes.NO_HANDLER,
      `command "${type}" is .durable() here, but its handler serves it by request/reply (its contract is not .durable()): ` +
        "declare it .durable() where it is handled too",
      { type, handlerDelivery: "request", handlerSaid: answer.error.message },
    );
  }

  /**
   * Answers the request subject of a durable command handled here: the probe of a durable caller
   * with ok, any request (a caller whose contract is not `.durable()`) with CATGA_NO_HANDLER.
   */
  refuseRequests(type: string, batch: InboundMessages): Promise<OutboundReply[]> {
    const out: OutboundReply[] = [];
    for (let i = 0; i < batch.count; i++) {
      const replyTo = batch.replies[i];
      if (!replyTo) continue;
      let request: Envelope;
      try {
        request = this.codec.decodeMessage(batch.envelopes[i]!);
      } catch (error) {
        this.connection.emit("malformed", 1, String(error));
        continue;
      }
      const result =
        request.kind === "event" && request.headers[PROBE_HEADER] !== undefined
          ? ok({ delivery: "durable" })
          : err(
              ErrorCodes.NO_HANDLER,
              `command "${type}" is .durable() at service "${this.service}": the caller's contract is not; ` +
                "declare it .durable() where it is sent too",
              { type, handlerDelivery: "durable" },
            );
      const envelope = this.codec.encodeReplyTo(
        type,
        request.messageId,
        request.correlationId,
        toWire(result),
      );
      out.push({ subject: replyTo, envelope });
    }
    return Promise.resolve(out);
  }

  /** The durable consumer of command `type`, shared by every instance of this service. */
  private consumerName(type: string): string {
    return `${this.service}-${type}`.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  /**
   * Takes commands of `type` from the work queue through the shared durable consumer: each is run
   * once by one instance, acked after its handler succeeds; a failure is retried with backoff and
   * dead-lettered to `<prefix>.dcmd-dlq.<type>` after `maxDeliver`. A caller waiting for the
   * Result gets it on success or on the last failure (before the ack or dead letter).
   */
  consume(inbound: InboundDispatcher, type: string): Promise<() => Promise<void>> {
    this.confirmed.add(type);
    const maxDeliver = this.options.consumer?.maxDeliver ?? CONSUMER_DEFAULTS.maxDeliver;
    return this.js.consume(
      {
        ...this.options.consumer,
        stream: this.streams.commands.name,
        durable: this.consumerName(type),
        filterSubject: this.subject(type),
        deadLetterSubject: (dead) => `${this.prefix}.dcmd-dlq.${dead}`,
      },
      async (message) => {
        const command = this.codec.decodeMessage(message.bytes);
        const mismatch =
          command.kind === "command"
            ? typeMismatch(command.type, type)
            : `a ${command.kind} envelope arrived on the durable subject of ${JSON.stringify(type)}`;
        // Retrying cannot fix it: dead-lettered at once.
        if (mismatch) throw new CatgaError(ErrorCodes.DECODE, mismatch);
        const replyTo = command.headers[REPLY_TO_HEADER];
        const result = await inbound.dispatch(replyTo === undefined ? command : withoutReplyTo(command));
        if (result.ok) {
          if (replyTo !== undefined) await this.answer(replyTo, command, result);
          return;
        }
        // A failure the handler returned (`return err(...)`) is its answer: retrying cannot turn
        // a refusal into a success, so the command is acked and the caller gets it now.
        if (isAnsweredFailure(result)) {
          if (replyTo !== undefined) await this.answer(replyTo, command, result);
          return;
        }
        const { code, message: text } = result.error;
        if (replyTo !== undefined && isLastDelivery(code, message.deliveryCount, maxDeliver))
          await this.answer(replyTo, command, result);
        throw new CatgaError(code, text);
      },
    );
  }

  /**
   * Sends a Result to the caller's inbox, stored in the results stream so that a caller
   * disconnected now reads it back after reconnecting (ResultInbox.recover). A Result that cannot
   * be sent costs the caller a timeout, not a rerun.
   */
  private async answer(replyTo: string, command: Envelope, result: Result<unknown>): Promise<void> {
    try {
      let wire = toWire(result);
      let bytes: Buffer;
      try {
        bytes = this.codec.encodeReplyTo(command.type, command.messageId, command.correlationId, wire);
      } catch (error) {
        wire = toWire(unencodableResult(command.type, error));
        bytes = this.codec.encodeReplyTo(command.type, command.messageId, command.correlationId, wire);
      }
      // The caller is this transport: the connection does not receive its own publishes.
      if (this.inbox.owns(replyTo)) this.inbox.deliver(bytes);
      // Sent as a reply (one unframed message; each Result subject is used once, so there is no
      // per-subject permission check to track): the results stream captures the subject, so the
      // server also stores it for a caller disconnected now (ResultInbox.recover reads it back),
      // at no cost to this handler beyond the publish (a JetStream publish with its ack per
      // Result cost 20–30 % of completed/s, benches/RESULTS.md).
      else await this.connection.reply(replyTo, bytes);
    } catch (error) {
      this.connection.emit("status", {
        kind: "error",
        message: `durable command result to ${replyTo} not sent: ${String(error)}`,
      });
    }
  }

  /** Ends the waits of "result" sends (CATGA_CLOSED). */
  close(): Promise<void> {
    return this.inbox.close();
  }
}

/** How long the first send of a durable type waits for the handling service to say how it takes it. */
const PROBE_TIMEOUT_MS = 1000;

function fromWireReply(codec: EnvelopeCodec, reply: Buffer): Result<unknown> {
  const wire = codec.decodeReply(reply);
  return wire.ok ? ok(wire.value) : err(wire.error.code, wire.error.message, wire.error.details);
}

function withoutReplyTo(envelope: Envelope): Envelope {
  const { [REPLY_TO_HEADER]: _replyTo, ...headers } = envelope.headers;
  return { ...envelope, headers: Object.keys(headers).length === 0 ? EMPTY_HEADERS : headers };
}

/** A failure to store a command, as a coded Result. */
function failure(error: unknown): Result<unknown> {
  if (error instanceof CatgaError) return err(error.code, error.message, error.details, error);
  return err(ErrorCodes.TRANSPORT, String(error), undefined, error);
}
