import type { ErrorCodes, ErrorDetails, HandlerFailure } from "../errors.js";
import { type Dispatcher, MessageContext, type PublishMode, type PublishReport } from "./context.js";
import { aggregate, countOk, type EventRoute, runConcurrently, runHandlers } from "./event-routes.js";
import type { Logger } from "./logger.js";
import { errorInfoFrom, ok, type Result } from "./result.js";
import { envelopeOf, type Transport } from "./transport.js";

// An event's way out of the mediator: to its local handlers (event-routes.ts) and to the
// transport for other processes, folded into one Result.

// Shared by every publish that ran no local handler: frozen, so no caller can change another's.
const NO_HANDLERS_RESULT: Result<PublishReport> = Object.freeze(ok(Object.freeze({ handled: 0 })));
export const NO_HANDLERS: Promise<Result<PublishReport>> = Promise.resolve(NO_HANDLERS_RESULT);

/**
 * Publishes events: runs the local handlers of each type and hands the event to the transport.
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
   * A root event with no caller options, observer or hook: the context is made only if a local
   * handler needs one, and an event nobody handles here goes to the transport's fast path.
   */
  publishPlain(type: string, payload: unknown): Promise<Result<PublishReport>> {
    const local = this.routes.get(type);
    const transport = this.transport;
    if (transport !== undefined && local === undefined && transport.publishNew !== undefined)
      return this.publishNew(transport, type, payload);
    const context = new MessageContext(this.dispatcher, this.logger, "event", type, undefined, undefined);
    if (transport !== undefined) return this.publishEvent(type, payload, context, this.publishMode);
    if (local === undefined) return NO_HANDLERS;
    return runHandlers(local, payload, context, this.publishMode).then(local.summarize);
  }

  /** Runs the local handlers and hands the event to the transport, in one Result. */
  publishEvent(
    type: string,
    payload: unknown,
    context: MessageContext,
    mode: PublishMode,
  ): Promise<Result<PublishReport>> {
    const local = this.routes.get(type);
    const remote = this.transport === undefined ? undefined : this.forward(context, payload);
    if (local === undefined) {
      return remote === undefined
        ? NO_HANDLERS
        : remote.then((failure) => aggregate(type, 0, failure ? [failure] : []));
    }
    const handled = runHandlers(local, payload, context, mode);
    if (remote === undefined) return handled.then(local.summarize);
    return Promise.all([handled, remote]).then(([results, failure]) => {
      const summary = local.summarize(results);
      if (failure === undefined) return summary;
      const failures = summary.ok
        ? [failure]
        : [...(summary.error.details as ErrorDetails<typeof ErrorCodes.PUBLISH_FAILED>).failures, failure];
      return aggregate(type, summary.ok ? summary.value.handled : countOk(results), failures);
    });
  }

  /** An event from another process: its local handlers only, concurrently. */
  receive(type: string, payload: unknown, context: MessageContext): Promise<Result<unknown>> {
    const local = this.routes.get(type);
    if (local === undefined) return NO_HANDLERS;
    return runConcurrently(local, payload, context).then(local.summarize);
  }

  /**
   * A new event nobody handles here, straight to the transport's fast path. Transports hand one
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
  private forward(context: MessageContext, payload: unknown): Promise<HandlerFailure | undefined> {
    const transport = this.transport!;
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
