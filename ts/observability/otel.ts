import { createRequire } from "node:module";
import type * as Api from "@opentelemetry/api";

/** The `@opentelemetry/api` module (types only here: the package is an optional peer dependency). */
export type OtelApi = typeof Api;
export type OtelContext = Api.Context;
export type OtelSpan = Api.Span;
export type OtelTracer = Api.Tracer;
export type OtelMeter = Api.Meter;
export type OtelAttributes = Api.Attributes;

/** Anything with `getTracer` (an SDK `TracerProvider`); structural so no OTel type leaks into the public API. */
export interface TracerProviderLike {
  /** The tracer of instrumentation scope `name` (`INSTRUMENTATION_SCOPE` here). */
  getTracer(name: string, version?: string): unknown;
}

/** Anything with `getMeter` (an SDK `MeterProvider`). */
export interface MeterProviderLike {
  /** The meter of instrumentation scope `name` (`INSTRUMENTATION_SCOPE` here). */
  getMeter(name: string, version?: string): unknown;
}

let loaded: OtelApi | null | undefined;

/** Loads `@opentelemetry/api` if the application installed it; undefined otherwise (never throws). */
export function loadOtelApi(): OtelApi | undefined {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)("@opentelemetry/api") as OtelApi;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

/** True when an SDK tracer provider is registered globally (the API's proxy has a real delegate). */
export function hasGlobalTracer(api: OtelApi): boolean {
  const provider = api.trace.getTracerProvider() as { getDelegate?: () => unknown };
  if (typeof provider.getDelegate !== "function") return true;
  return provider.getDelegate() !== new api.ProxyTracerProvider().getDelegate();
}

/** True when an SDK meter provider is registered globally. */
export function hasGlobalMeter(api: OtelApi): boolean {
  return api.metrics.getMeterProvider().getMeter("catga.probe") !== api.createNoopMeter();
}

export const TRACEPARENT = "traceparent";
export const TRACESTATE = "tracestate";

/**
 * W3C `traceparent`: version-traceid-parentid-flags. Version 00 has exactly these four fields;
 * a later version may append more after a `-`, which a 00 parser ignores (W3C Trace Context §3.2.4).
 */
const TRACEPARENT_RE = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?$/;

/** W3C trace context of a span as headers (`traceparent`, and `tracestate` when there is one). */
export function injectTraceContext(
  span: Api.SpanContext,
  headers: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  out[TRACEPARENT] =
    `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
  const state = span.traceState?.serialize();
  if (state) out[TRACESTATE] = state;
  else delete out[TRACESTATE];
  return out;
}

/** The remote parent carried in W3C headers, or undefined when there is none (or it is malformed). */
export function extractTraceContext(
  api: OtelApi,
  headers: Readonly<Record<string, string>>,
): Api.Context | undefined {
  const value = headers[TRACEPARENT];
  if (value === undefined) return undefined;
  const match = TRACEPARENT_RE.exec(value.trim().toLowerCase());
  // Version ff is invalid; version 00 with anything after the flags is malformed.
  if (match === null || match[1] === "ff" || (match[1] === "00" && match[5] !== undefined)) return undefined;
  const traceId = match[2]!;
  const spanId = match[3]!;
  if (!api.isValidTraceId(traceId) || !api.isValidSpanId(spanId)) return undefined;
  const state = headers[TRACESTATE];
  return api.trace.setSpanContext(api.ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: Number.parseInt(match[4]!, 16),
    isRemote: true,
    ...(state ? { traceState: api.createTraceState(state) } : {}),
  });
}
