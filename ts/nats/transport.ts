import { CatgaConfigError, CatgaError, type ConfigIssue, ErrorCodes } from "../errors.js";
import { uuidv7 } from "../mediator/ids.js";
import { err, type Result } from "../mediator/result.js";
import {
  type Envelope,
  fromWire,
  type InboundDispatcher,
  type Transport,
  toWire,
} from "../mediator/transport.js";
import { NatsConnection } from "./connection.js";
import { type NatsConnectionOptions, natsOptionIssues } from "./options.js";
import { EnvelopeCodec, jsonCodec, msgpackCodec, type PayloadCodec } from "./wire.js";

export interface NatsTransportOptions extends NatsConnectionOptions {
  /** Service name: the queue group, so instances of one service share commands and events. */
  service: string;
  /** Subject prefix (default `catga`): commands/queries on `<prefix>.cmd.<type>`, events on `<prefix>.evt.<type>`. */
  prefix?: string;
  /** Payload codec per message type; the default is MessagePack. */
  codecs?: Readonly<Record<string, "json" | "msgpack" | PayloadCodec>>;
}

const SUBJECT_TOKEN = /^[^\s.*>]+$/;

function resolveCodec(codec: "json" | "msgpack" | PayloadCodec): PayloadCodec {
  if (codec === "json") return jsonCodec;
  if (codec === "msgpack") return msgpackCodec;
  return codec;
}

/**
 * The NATS transport: plug it into the builder (`createCatga().withTransport(await
 * natsTransport({...}))`) and handlers and callers stay exactly as they were in process.
 * Commands and queries travel by request/reply to queue groups; events are batched into CTG1
 * frames and published. A remote handler's error comes back with the same code and message.
 */
export class NatsTransport implements Transport {
  readonly name = "nats";
  private readonly codec: EnvelopeCodec;
  private readonly prefix: string;
  private readonly unsubscribers: (() => Promise<void>)[] = [];
  private subscribed: Promise<void> = Promise.resolve();

  private constructor(
    readonly connection: NatsConnection,
    private readonly options: NatsTransportOptions,
  ) {
    this.prefix = options.prefix ?? "catga";
    const perType: Record<string, PayloadCodec> = {};
    for (const [type, codec] of Object.entries(options.codecs ?? {})) perType[type] = resolveCodec(codec);
    this.codec = new EnvelopeCodec(perType);
  }

  /** Connects now, so a wrong URL or credentials fail at start-up rather than on first send. */
  static async connect(options: NatsTransportOptions): Promise<NatsTransport> {
    const { service, prefix, codecs, ...connection } = options;
    const issues: ConfigIssue[] = natsOptionIssues(connection);
    if (typeof service !== "string" || !SUBJECT_TOKEN.test(service))
      issues.push({ path: "service", message: "must be a non-empty name without spaces, dots or wildcards" });
    if (prefix !== undefined && (typeof prefix !== "string" || !/^[^\s*>]+$/.test(prefix)))
      issues.push({ path: "prefix", message: "must be a subject prefix without spaces or wildcards" });
    for (const [type, codec] of Object.entries(codecs ?? {})) {
      if (
        codec !== "json" &&
        codec !== "msgpack" &&
        (typeof codec !== "object" || typeof codec.encode !== "function")
      )
        issues.push({ path: `codecs.${type}`, message: 'must be "json", "msgpack" or a PayloadCodec' });
    }
    if (issues.length > 0) throw new CatgaConfigError(issues);
    return new NatsTransport(await NatsConnection.connect(connection), options);
  }

  subjectFor(envelope: Pick<Envelope, "kind" | "type">): string {
    return `${this.prefix}.${envelope.kind === "event" ? "evt" : "cmd"}.${envelope.type}`;
  }

  attach(inbound: InboundDispatcher): void {
    const queue = this.options.service;
    const requests = [...inbound.commands, ...inbound.queries].map((type) =>
      this.connection.subscribe(`${this.prefix}.cmd.${type}`, { queue }, (batch) =>
        this.serve(inbound, batch),
      ),
    );
    const events = inbound.events.map((type) =>
      this.connection.subscribe(`${this.prefix}.evt.${type}`, { queue }, (batch) =>
        this.consume(inbound, batch),
      ),
    );
    this.subscribed = Promise.all([...requests, ...events]).then((unsubscribers) => {
      this.unsubscribers.push(...unsubscribers);
    });
  }

  /** Resolves once every subscription made by `attach` is live on the server. */
  async ready(): Promise<void> {
    await this.subscribed;
    await this.connection.flush();
  }

  private async serve(
    inbound: InboundDispatcher,
    batch: { envelopes: readonly Buffer[]; replies: readonly (string | null)[] },
  ) {
    await Promise.all(
      batch.envelopes.map(async (bytes, i) => {
        const replyTo = batch.replies[i];
        let request: Envelope;
        try {
          request = this.codec.decodeMessage(bytes);
        } catch (error) {
          this.connection.emit("malformed", 1, String(error));
          return;
        }
        const result = await inbound.dispatch(request);
        if (replyTo)
          await this.connection.reply(replyTo, this.codec.encodeReply(request, toWire(result), uuidv7()));
      }),
    );
  }

  private async consume(inbound: InboundDispatcher, batch: { envelopes: readonly Buffer[] }) {
    await Promise.all(
      batch.envelopes.map(async (bytes) => {
        let event: Envelope;
        try {
          event = this.codec.decodeMessage(bytes);
        } catch (error) {
          this.connection.emit("malformed", 1, String(error));
          return;
        }
        await inbound.dispatch(event);
      }),
    );
  }

  async request(envelope: Envelope, signal: AbortSignal): Promise<Result<unknown>> {
    if (signal.aborted) return err(ErrorCodes.ABORTED, "The operation was aborted");
    try {
      const reply = await this.connection.request(
        this.subjectFor(envelope),
        this.codec.encodeMessage(envelope),
      );
      return fromWire(this.codec.decodeReply(reply));
    } catch (error) {
      if (error instanceof CatgaError) return err(error.code, error.message, error.details, error);
      return err(ErrorCodes.TRANSPORT, String(error), undefined, error);
    }
  }

  publish(envelope: Envelope): Promise<void> {
    return this.connection.publish(this.subjectFor(envelope), this.codec.encodeMessage(envelope));
  }

  async close(): Promise<void> {
    await this.subscribed.catch(() => undefined);
    await this.connection.close();
  }
}

/** Connects a NATS transport; pass the result to `createCatga().withTransport(...)`. */
export function natsTransport(options: NatsTransportOptions): Promise<NatsTransport> {
  return NatsTransport.connect(options);
}
