/**
 * How a failed `Result` becomes an HTTP answer: a status per error code (a small table users
 * override per code) and an RFC 9457 `application/problem+json` body that shows the client what
 * it may know and nothing of the server's internals.
 */
import type { ErrorCode } from "../errors.js";
import { ErrorCodes } from "../errors.js";
import type { ErrorInfo } from "../mediator/result.js";

/** How one error code is answered over HTTP. */
export interface ProblemMapping {
  /** The HTTP status (400–599). */
  readonly status: number;
  /**
   * Show the error's `message` as `detail` and its facts (`issues`, `retryAfterMs`). Leave it off
   * for failures whose message may carry internals (a handler's exception, a broker's error).
   * @default false
   */
  readonly expose?: boolean;
  /**
   * Send `Retry-After` with this many seconds when the error's `details.retryAfterMs` does not
   * say (backpressure, a closed or disconnected transport).
   * @default no `Retry-After` unless `details.retryAfterMs` is set
   */
  readonly retryAfterSeconds?: number;
  /**
   * RFC 9457 `type`: a URI naming the problem (your docs page for a domain code).
   * @default "about:blank" (then `title` is the status phrase)
   */
  readonly type?: string;
  /**
   * RFC 9457 `title`: a short summary that does not change from occurrence to occurrence.
   * @default the status phrase ("Service Unavailable")
   */
  readonly title?: string;
}

/** Status per code: every Catga code, plus any domain code of yours (`ORDERS_NOT_FOUND`). */
export type ProblemStatuses = Readonly<
  Partial<Record<ErrorCode, ProblemMapping>> & Record<string, ProblemMapping>
>;

const INTERNAL: ProblemMapping = { status: 500 };
const UNAVAILABLE: ProblemMapping = { status: 503, retryAfterSeconds: 1 };

/**
 * The default answer per Catga code. Not-found and conflict are domain facts, so there is no
 * Catga code for them: map your own (`{ ORDERS_NOT_FOUND: { status: 404, expose: true } }`).
 * Capacity and availability failures are 503 with `Retry-After` (the limits are the server's,
 * not one client's, so not 429); a misconfigured or failing server is 500 with no detail.
 */
export const PROBLEM_STATUSES: Readonly<Record<ErrorCode, ProblemMapping>> = Object.freeze({
  [ErrorCodes.VALIDATION]: { status: 400, expose: true },
  [ErrorCodes.TIMEOUT]: { status: 504 },
  [ErrorCodes.BACKPRESSURE]: UNAVAILABLE,
  [ErrorCodes.CIRCUIT_OPEN]: { status: 503, expose: true, retryAfterSeconds: 1 },
  [ErrorCodes.RATE_LIMITED]: { status: 503, expose: true, retryAfterSeconds: 1 },
  [ErrorCodes.NOT_CONNECTED]: UNAVAILABLE,
  [ErrorCodes.CLOSED]: UNAVAILABLE,
  [ErrorCodes.STORE_FAILED]: UNAVAILABLE,
  [ErrorCodes.TRANSPORT]: UNAVAILABLE,
  // Nothing answers the type: over NATS, no instance of the handling service is running.
  [ErrorCodes.NO_HANDLER]: UNAVAILABLE,
  // The caller's signal aborted (the client went away, or the server is shutting down).
  [ErrorCodes.ABORTED]: { status: 503 },
  [ErrorCodes.HANDLER_FAILED]: INTERNAL,
  [ErrorCodes.PUBLISH_FAILED]: INTERNAL,
  [ErrorCodes.INVALID_ARGUMENT]: INTERNAL,
  [ErrorCodes.CONFIG]: INTERNAL,
  [ErrorCodes.DUPLICATE_HANDLER]: INTERNAL,
  [ErrorCodes.ENCODE]: INTERNAL,
  [ErrorCodes.DECODE]: INTERNAL,
  [ErrorCodes.UNSUPPORTED_VERSION]: INTERNAL,
  [ErrorCodes.LIMIT]: INTERNAL,
  [ErrorCodes.COMPRESSION]: INTERNAL,
  [ErrorCodes.NATIVE_NOT_FOUND]: INTERNAL,
  [ErrorCodes.PERMISSION_DENIED]: INTERNAL,
});

/** RFC 9457 problem details, with Catga's extension members. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  /** The error's message, only when its mapping has `expose`. */
  readonly detail?: string;
  /** The error code, for mapped codes (an unmapped domain code stays on the server). */
  readonly code?: string;
  /** `CATGA_VALIDATION`: the schema issues (`{ path, message }`). */
  readonly issues?: readonly { readonly path: string; readonly message: string }[];
  /** `CATGA_RATE_LIMITED`, `CATGA_CIRCUIT_OPEN`: when to try again, in ms. */
  readonly retryAfterMs?: number;
}

/** A problem ready to send: status, the `Retry-After` header (seconds) if any, and the body. */
export interface Problem {
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  readonly body: ProblemDetails;
}

/** The media type of RFC 9457 problem bodies, as sent in `content-type`. */
export const PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8";

const STATUS_TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** The reason phrase of an HTTP status ("Error" for one not listed). */
export function statusTitle(status: number): string {
  return STATUS_TITLES[status] ?? (status < 500 ? "Client Error" : "Server Error");
}

/**
 * The problem for an error: `statuses` over the built-in table ({@link PROBLEM_STATUSES}), as the
 * plugin merges its `statuses` option, so the answer is the same outside a route. A code found in
 * neither (a domain code nobody mapped), or something that is not an error, is a 500 that names
 * neither the code nor the message.
 */
export function problemOf(error: ErrorInfo, statuses: ProblemStatuses = {}): Problem {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  const mapping =
    typeof code !== "string"
      ? undefined
      : statuses !== null && typeof statuses === "object" && Object.hasOwn(statuses, code)
        ? statuses[code]
        : Object.hasOwn(PROBLEM_STATUSES, code)
          ? PROBLEM_STATUSES[code as ErrorCode]
          : undefined;
  if (mapping === undefined) return { status: 500, retryAfterSeconds: undefined, body: blank(500) };
  const details = error.details as { issues?: unknown; retryAfterMs?: unknown } | undefined;
  // A handler's own error may carry anything here: only a real wait (finite, ≥ 0) is passed on.
  const retryAfterMs =
    typeof details?.retryAfterMs === "number" &&
    Number.isFinite(details.retryAfterMs) &&
    details.retryAfterMs >= 0
      ? details.retryAfterMs
      : undefined;
  const issues = Array.isArray(details?.issues) ? details.issues.map(issueOf) : undefined;
  const body: ProblemDetails = {
    type: mapping.type ?? "about:blank",
    title: mapping.title ?? statusTitle(mapping.status),
    status: mapping.status,
    code: error.code,
    ...(mapping.expose === true
      ? {
          detail: error.message,
          ...(issues === undefined ? {} : { issues }),
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        }
      : {}),
  };
  // Retry-After is whole seconds (RFC 9110 §10.2.3); round up so a client never comes back early.
  const retryAfterSeconds =
    retryAfterMs !== undefined && (mapping.status === 503 || mapping.status === 429)
      ? Math.max(1, Math.ceil(retryAfterMs / 1000))
      : mapping.retryAfterSeconds;
  return { status: mapping.status, retryAfterSeconds, body };
}

/** A body with nothing but the status: for failures whose facts stay on the server. */
export function blank(status: number): ProblemDetails {
  return { type: "about:blank", title: statusTitle(status), status };
}

// Only the two documented fields: a schema library's issue may carry the rejected input.
function issueOf(issue: unknown): { path: string; message: string } {
  const { path, message } = (issue ?? {}) as { path?: unknown; message?: unknown };
  return { path: typeof path === "string" ? path : "", message: typeof message === "string" ? message : "" };
}
