/**
 * The W3C trace context of an inbound HTTP request as message headers, so that the messages a
 * route sends continue the caller's trace (the observability hook parents its spans on a
 * `traceparent` in the headers when no span is active: docs/architecture/observability.md).
 */
import type { Headers } from "../mediator/context.js";

/**
 * W3C Trace Context §3.2: version 00 has exactly four fields; a later version may append more
 * after a `-`. Version ff, an all-zero trace id or parent id are invalid.
 */
const TRACEPARENT_RE = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** §3.3.1.5: at most 32 list members; 512 characters is the size a vendor must propagate. */
const MAX_TRACESTATE_LENGTH = 512;

/** Whether `value` is a `traceparent` a W3C parser accepts. */
export function isTraceparent(value: string): boolean {
  const match = TRACEPARENT_RE.exec(value);
  if (match === null) return false;
  const [, version, traceId, spanId] = match;
  if (version === "ff" || (version === "00" && match[5] !== undefined)) return false;
  return traceId !== ZERO_TRACE && spanId !== ZERO_SPAN;
}

/**
 * `traceparent` (and `tracestate` with it) from request headers, or undefined when there is no
 * valid one. A malformed or repeated header is dropped, not passed on: what a client sends is not
 * to be trusted, and without a valid parent a `tracestate` means nothing (§3.3).
 */
export function traceHeadersOf(
  requestHeaders: Readonly<Record<string, string | string[] | undefined>>,
): Headers | undefined {
  const parent = requestHeaders.traceparent;
  if (typeof parent !== "string") return undefined;
  const traceparent = parent.trim().toLowerCase();
  if (!isTraceparent(traceparent)) return undefined;
  const state = requestHeaders.tracestate;
  // Node joins repeated `tracestate` headers with ", ", which is how §3.3.1 combines them.
  if (typeof state === "string" && state.length > 0 && state.length <= MAX_TRACESTATE_LENGTH)
    return { traceparent, tracestate: state };
  return { traceparent };
}
