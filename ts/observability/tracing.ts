// How pipeline spans are kinded, parented, described and ended (OTel messaging conventions).
import type { HandlerContext } from "../mediator/context.js";
import type { ContractKind } from "../mediator/contracts.js";
import type { Result } from "../mediator/result.js";
import { Attr } from "./names.js";
import type { OtelApi, OtelContext, OtelSpan } from "./otel.js";

// SpanKind values are fixed by the OTel API (a const enum there; plain numbers here, no import).
export const SPAN_KIND_CLIENT = 2;
export const SPAN_KIND_PRODUCER = 3;
export const SPAN_KIND_CONSUMER = 4;

/** Marks an inbound context whose remote parent is no span at all (no traceparent came). */
export const NO_SPAN = Symbol("catga.noSpan");

/** A parent registered for the headers object a message carries (identity, not content). */
export interface ParentEntry {
  readonly context: OtelContext;
  readonly inbound: boolean;
  /** Inbound only: the size of the transport batch the message came in, when > 1. */
  readonly batchSize?: number | undefined;
}

/** The messaging operation (type, name) of a message leaving this process. */
export function operationOf(kind: ContractKind): { type: string; name: string } {
  // OTel messaging semconv: operation type `send` (`publish` is deprecated), name `publish`.
  if (kind === "event") return { type: "send", name: "publish" };
  return { type: "send", name: kind === "query" ? "query" : "send" };
}

/** True when the registered context manager really propagates `context.with` (not the no-op one). */
export function hasContextManager(api: OtelApi): boolean {
  const probe = api.ROOT_CONTEXT.setValue(api.createContextKey("catga.probe"), true);
  return api.context.with(probe, () => api.context.active() === probe);
}

/** Sets a message's ids (message, correlation, causation) on its span. */
export function describeMessage(span: OtelSpan, context: HandlerContext): void {
  span.setAttribute(Attr.messageId, context.messageId);
  span.setAttribute(Attr.correlationId, context.correlationId);
  span.setAttribute(Attr.conversationId, context.correlationId);
  const causation = context.causationId;
  if (causation !== undefined) span.setAttribute(Attr.causationId, causation);
}

/** Ends a span; an error Result becomes its exception, `catga.error.code` and error status. */
export function endSpan(api: OtelApi, span: OtelSpan, result: Result<unknown>): void {
  if (!result.ok) {
    const { code, message, cause } = result.error;
    span.setAttribute(Attr.errorCode, code);
    span.setAttribute(Attr.errorType, code);
    span.recordException({
      code,
      name: code,
      message,
      ...(cause instanceof Error && cause.stack ? { stack: cause.stack } : {}),
    });
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: `${code}: ${message}` });
  }
  span.end();
}
