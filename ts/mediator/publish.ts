import type { HandlerFailure } from "../errors.js";
import { type Dispatcher, MessageContext, type PublishMode, type PublishReport } from "./context.js";
import { aggregate, type EventRoute, runConcurrently, runHandlers } from "./event-routes.js";
import type { Logger } from "./logger.js";
import { errorInfoFrom, ok, type Result } from "./result.js";
import { envelopeOf, type Transport } from "./transport.js";

// An event's way out of the mediator: to its local handlers (event-routes.ts) when there is no
// transport, else to the transport alone, folded into one Result.
//
// With a transport, the publishing service gets its own events back through its subscription like
// every other service, instead of running its handlers here: the same delivery guarantee for all
// (durable with `durableEvents`), and nothing a sender writes in an envelope decides who skips it
// (issue 14: a forgeable origin header did).

// Shared by every publish that ran no local handler: frozen, so no caller can change another's.
const NO_HANDLERS_RESULT: Result<PublishReport> = Object.freeze(ok(Object.freeze({ handled: 0 })));
export const NO_HANDLERS: Promise<Result<PublishReport>> = Promise.resolve(NO_HANDLERS_RESULT);

/**
 * Publishes events: with no transport, runs the local handlers of each type; with one, hands the
 * event to it (the publishing service receives it back through its subscription).
 * The mediator makes the context (ids, observers, hooks); everything after that is here.
 */
export class EventPublisher {
  /** The promise `publishNew` returned last, its type and the Result made from it (see publishNew). */
  private lastSent: Promise<void> | undefined = undefined;
  private lastSentType: string | undefined = undefined;
  private lastSentReport: Promise<Result<PublishReport>> | undefined = undefined;

  constructor(
    private readonly routes: ReadonlyMap<string, EventRoute>,
    private readonly transport: Transport | undefined,
    private readonly publishMode: PublishMode,
    private readonly dispatcher: Dispatcher,
    private readonly logger: Logger,
  ) {}

  /** Event types with a handler in this process. */
  types(): string[] {
    return [...this.routes.keys()];
  }

  route(type: string): EventRoute | undefined {
    return this.routes.get(type);
  }

  /**
   * A root event with no caller options, observer or hook: with a transport, its fast path (no
   * context, no envelope); else the context is made only if a local handler needs one.
   */
  publishPlain(type: string, payload: unknown): Promise<Result<PublishReport>> {
    const transport = this.transport;
    if (transport?.publishNew !== undefined) return this.publishNew(transport, type, payload);
    const local = transport === undefined ? this.routes.get(type) : undefined;
    if (transport === undefined && local === undefined) return NO_HANDLERS;
    const context = new MessageContext(this.dispatcher, this.logger, "event", type, undefined, undefined);
    // A transport without the fast path takes the general one.
    if (local === undefined) return this.publishEvent(type, payload, context, this.publishMode);
    return runHandlers(local, payload, context, this.publishMode).then(local.summarize);
  }

  /**
   * With a transport: hands the event to it, `{ handled: 0 }` once taken. Without one: runs the
   * local handlers in `mode`, in one Result.
   */
  publishEvent(
    type: string,
    payload: unknown,
    context: MessageContext,
    mode: PublishMode,
  ): Promise<Result<PublishReport>> {
    if (this.transport !== undefined)
      return this.forward(this.transport, context, payload).then((failure) =>
        failure === undefined ? NO_HANDLERS_RESULT : aggregate(type, 0, [failure]),
      );
    const local = this.routes.get(type);
    if (local === undefined) return NO_HANDLERS;
    return runHandlers(local, payload, context, mode).then(local.summarize);
  }

  /** An event from a transport (this service's own included): its local handlers, concurrently. */
  receive(type: string, payload: unknown, context: MessageContext): Promise<Result<unknown>> {
    const local = this.routes.get(type);
    if (local === undefined) return NO_HANDLERS;
    return runConcurrently(local, payload, context).then(local.summarize);
  }

  /**
   * A new root event, straight to the transport's fast path. Transports hand one
   * promise to all events of a batch, so the last one's Result is reused while it repeats: one
   * `then` per batch instead of two per event (benches/RESULTS.md, "Session 12").
   */
  private publishNew(transport: Transport, type: string, payload: unknown): Promise<Result<PublishReport>> {
    let sent: Promise<void>;
    try {
      sent = transport.publishNew!(type, payload);
    } catch (thrown) {
      return Promise.resolve(aggregate(type, 0, [transportFailure(transport, thrown)]));
    }
    if (sent === this.lastSent && type === this.lastSentType) return this.lastSentReport!;
    this.lastSent = sent;
    this.lastSentType = type;
    this.lastSentReport = sent.then(
      () => NO_HANDLERS_RESULT,
      (thrown: unknown) => aggregate(type, 0, [transportFailure(transport, thrown)]),
    );
    return this.lastSentReport;
  }

  /** Hands the event to the transport; a transport failure is reported like a failed handler. */
  private forward(
    transport: Transport,
    context: MessageContext,
    payload: unknown,
  ): Promise<HandlerFailure | undefined> {
    const failed = (thrown: unknown): HandlerFailure => transportFailure(transport, thrown);
    // A transport may also throw synchronously (e.g. not connected): that too is a failure, never
    // an exception out of publish (as in `requestRemote`).
    const envelope = envelopeOf(context, payload);
    try {
      return transport.publish(envelope).then(() => undefined, failed);
    } catch (thrown) {
      return Promise.resolve(failed(thrown));
    }
  }
}

/** A transport's failure to take an event, reported like a failed handler. */
function transportFailure(transport: Transport, thrown: unknown): HandlerFailure {
  const info = errorInfoFrom(thrown);
  const failure = { handler: `transport:${transport.name}`, code: info.code, message: info.message };
  // e.g. the subject the server refused (CATGA_PERMISSION_DENIED), for the caller to act on.
  return info.details === undefined ? failure : { ...failure, details: info.details };
}
