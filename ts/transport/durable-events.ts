import { IssueList } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import { JetStream, PERMANENT_FAILURES } from "../jetstream/jetstream.js";
import type { StreamOptions } from "../jetstream/options.js";
import type { InboundDispatcher } from "../mediator/transport.js";
import type { NatsConnection } from "../nats/connection.js";
import type { EnvelopeCodec } from "../nats/wire.js";
import { durabilityOf } from "./durability.js";
import { typeMismatch } from "./inbound.js";
import type { DurableEventsOptions } from "./options.js";

/**
 * Envelope header of a replayed dead letter (`@catga/native/operations`): the durable consumer it
 * is for. Every service takes the event subject, so the others skip it (acked, not handled); only
 * the consumer that dead-lettered it handles it again, without the header (events its handlers
 * publish inherit their headers, and must reach every service).
 */
export const REPLAY_FOR_HEADER = "catga-replay-for";

/**
 * The two streams `durableEvents` provisions: the events in `stream` (default `<PREFIX>_EVENTS`,
 * the prefix upper-cased, other characters as `_`) capturing `<prefix>.evt.>`, with `provision`'s
 * settings; their dead letters in `<stream>_DLQ` capturing `<prefix>.dlq.>`, with `provision`'s
 * `replicas` and `storage` (in a cluster they must survive losing a server like the events do).
 * Every other setting is the stream default (`STREAM_DEFAULTS` in jetstream/options.ts).
 */
export function durableEventStreams(
  prefix: string,
  options: Pick<DurableEventsOptions, "stream" | "provision">,
): { readonly events: StreamOptions; readonly deadLetters: StreamOptions } {
  const name = options.stream ?? `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_EVENTS`;
  const settings = typeof options.provision === "object" ? options.provision : {};
  return {
    events: { ...settings, name, subjects: [`${prefix}.evt.>`] },
    deadLetters: { ...durabilityOf(settings), name: `${name}_DLQ`, subjects: [`${prefix}.dlq.>`] },
  };
}

/**
 * Events that travel through JetStream instead of core NATS (`durableEvents`): a stream per
 * prefix with a dead-letter stream beside it, one durable consumer per service and event type,
 * an event acked only after its handlers succeed.
 */
export class DurableEvents {
  private readonly js: JetStream;
  private readonly stream: string;

  constructor(
    connection: NatsConnection,
    private readonly options: DurableEventsOptions,
    private readonly prefix: string,
    private readonly service: string,
    private readonly codec: EnvelopeCodec,
  ) {
    this.js = new JetStream(connection, { prefix });
    this.stream = durableEventStreams(prefix, options).events.name;
  }

  /** Whether events of `type` travel durably. */
  carries(type: string): boolean {
    const types = this.options.types;
    return types === undefined || types.includes(type);
  }

  /** Creates or updates the event and dead-letter streams (idempotent). */
  async provision(): Promise<void> {
    if (this.options.provision === false) return;
    const { events, deadLetters } = durableEventStreams(this.prefix, this.options);
    await this.js.ensureStream(events);
    await this.js.ensureStream(deadLetters);
  }

  /** Stores one encoded event; resolves once JetStream acknowledged it (deduplicated by id). */
  publish(subject: string, messageId: string, envelope: Uint8Array): Promise<void> {
    return this.js.publishOne(subject, messageId, envelope).then(() => undefined);
  }

  /** The durable consumer of this service for event `type` (dots become underscores). */
  private consumerName(type: string): string {
    return `${this.service}-${type}`.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  /**
   * Two event types whose consumer names coincide (`orders.placed` and `orders_placed`) would
   * share one durable consumer and lose one type's events: refused when the mediator is built.
   */
  checkConsumerNames(events: readonly string[]): void {
    const byName = new Map<string, string>();
    const list = new IssueList();
    for (const type of events) {
      if (!this.carries(type)) continue;
      const name = this.consumerName(type);
      const other = byName.get(name);
      if (other !== undefined)
        list.add(
          `durableEvents.${type}`,
          `event types "${other}" and "${type}" would share the durable consumer "${name}"; rename one`,
        );
      else byName.set(name, type);
    }
    list.throwIfAny();
  }

  /** One durable consumer per service and event type: the service resumes where it left off. */
  consume(inbound: InboundDispatcher, type: string): Promise<() => Promise<void>> {
    const durable = this.consumerName(type);
    return this.js.consume(
      {
        ...this.options.consumer,
        stream: this.stream,
        durable,
        filterSubject: `${this.prefix}.evt.${type}`,
      },
      async (message) => {
        let event = this.codec.decodeMessage(message.bytes);
        const replayFor = event.headers[REPLAY_FOR_HEADER];
        if (replayFor !== undefined) {
          if (replayFor !== durable) return; // another service's replay: acked, not handled
          // Not handed on: what the handlers publish inherits their headers, and must reach
          // every service that takes it.
          const { [REPLAY_FOR_HEADER]: _replayFor, ...headers } = event.headers;
          event = { ...event, headers };
        }
        const mismatch = typeMismatch(event.type, type);
        // Retrying cannot fix it: after maxDeliver it goes to the dead-letter subject.
        if (mismatch) throw new CatgaError(ErrorCodes.DECODE, mismatch);
        const result = await inbound.dispatch(event);
        // A failed handler fails the delivery: JetStream retries it, then dead-letters it. When
        // every handler failed for a reason no retry fixes (validation), that code is the one
        // reported, so the message is dead-lettered at once under it.
        if (!result.ok) {
          const { code, message } = reportedFailure(result.error);
          throw new CatgaError(code, message);
        }
      },
    );
  }
}

/**
 * What a failed delivery is reported (and dead-lettered) as: the permanent code below; else, when
 * every handler failed with one code, that code — a timeout is dead-lettered as CATGA_TIMEOUT, so
 * a filter by code finds it, not as the aggregate CATGA_PUBLISH_FAILED — and for a single handler
 * its own message; else the aggregate.
 */
function reportedFailure(error: { code: string; message: string; details?: unknown }): {
  code: string;
  message: string;
} {
  const permanent = permanentCodeOf(error);
  if (permanent !== undefined) return { code: permanent, message: error.message };
  const failures = (error.details as { failures?: { code?: unknown; message?: unknown }[] } | undefined)
    ?.failures;
  const shared = Array.isArray(failures) && failures.length > 0 ? failures[0]?.code : undefined;
  if (
    error.code !== ErrorCodes.PUBLISH_FAILED ||
    typeof shared !== "string" ||
    PERMANENT_FAILURES.has(shared) || // with a handler that succeeded: retried, as before
    !failures!.every((f) => f.code === shared)
  )
    return { code: error.code, message: error.message };
  const only =
    failures!.length === 1 && typeof failures![0]?.message === "string" ? failures![0].message : undefined;
  return { code: shared, message: (only as string | undefined) ?? error.message };
}

/**
 * The one permanent code behind an event's aggregated failure: when no handler succeeded and every
 * failure has that code (a handler that did succeed would run again on a redelivery, so such an
 * event is retried as before).
 */
function permanentCodeOf(error: { code: string; details?: unknown }): string | undefined {
  if (PERMANENT_FAILURES.has(error.code)) return error.code;
  const details = error.details as { handled?: number; failures?: { code: string }[] } | undefined;
  const failures = details?.failures;
  if (details?.handled !== 0 || !Array.isArray(failures) || failures.length === 0) return undefined;
  const first = failures[0]!.code;
  return PERMANENT_FAILURES.has(first) && failures.every((f) => f.code === first) ? first : undefined;
}
