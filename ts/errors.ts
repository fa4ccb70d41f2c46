/**
 * Stable error codes shared by the Rust core and the TypeScript layer. They are part of the
 * public contract: match on `error.code`, never on the message text.
 */
export const ErrorCodes = {
  /** Bytes are not a valid envelope or batch frame. */
  DECODE: "CATGA_DECODE",
  /** Bytes use a wire version this build does not read. */
  UNSUPPORTED_VERSION: "CATGA_UNSUPPORTED_VERSION",
  /** A size or count limit was exceeded (including zip bombs). */
  LIMIT: "CATGA_LIMIT",
  /** A value could not be encoded. */
  ENCODE: "CATGA_ENCODE",
  /** zstd failed. */
  COMPRESSION: "CATGA_COMPRESSION",
  /** An argument is outside its allowed range or of the wrong type. */
  INVALID_ARGUMENT: "CATGA_INVALID_ARGUMENT",
  /** No prebuilt or locally built native binary matches this platform. */
  NATIVE_NOT_FOUND: "CATGA_NATIVE_NOT_FOUND",
  /** Configuration is invalid; see `CatgaConfigError.issues`. */
  CONFIG: "CATGA_CONFIG",
  /** The transport is disconnected and the policy is to fail fast. */
  NOT_CONNECTED: "CATGA_NOT_CONNECTED",
  /** Too many requests in flight or bytes pending, and the policy is `reject`. */
  BACKPRESSURE: "CATGA_BACKPRESSURE",
  /** The transport is closing or closed; no new work is taken. */
  CLOSED: "CATGA_CLOSED",
  /** Any other transport failure. */
  TRANSPORT: "CATGA_TRANSPORT",
  /** A message failed its contract's schema; `details` holds the Standard Schema issues. */
  VALIDATION: "CATGA_VALIDATION",
  /** No handler (local or via a transport) is registered for the message type. */
  NO_HANDLER: "CATGA_NO_HANDLER",
  /** A command or query type has more than one handler. */
  DUPLICATE_HANDLER: "CATGA_DUPLICATE_HANDLER",
  /** The handler did not finish within its time budget; its AbortSignal was aborted. */
  TIMEOUT: "CATGA_TIMEOUT",
  /** The circuit breaker for this contract is open; the handler was not called. */
  CIRCUIT_OPEN: "CATGA_CIRCUIT_OPEN",
  /** The rate limiter rejected the message; `details.retryAfterMs` says when to try again. */
  RATE_LIMITED: "CATGA_RATE_LIMITED",
  /** The handler threw or rejected with an error that carries no Catga code. */
  HANDLER_FAILED: "CATGA_HANDLER_FAILED",
  /** One or more event handlers failed; `details.failures` lists each one. */
  PUBLISH_FAILED: "CATGA_PUBLISH_FAILED",
  /** The caller's AbortSignal was aborted. */
  ABORTED: "CATGA_ABORTED",
  /** The server refused the credentials (authentication) or an operation on a subject (authorization). */
  PERMISSION_DENIED: "CATGA_PERMISSION_DENIED",
  /** A pluggable store (e.g. the idempotency store) failed. */
  STORE_FAILED: "CATGA_STORE_FAILED",
} as const;

/** Every code Catga itself raises: a closed list, kept equal to the Rust core's (tested). */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * A code of your own for a domain failure (`ORDERS_OUT_OF_STOCK`), thrown or returned by a
 * handler and carried unchanged to the caller. The `CATGA_` prefix is reserved: a `CATGA_` code
 * that is not in {@link ErrorCodes} is a compile error where a code is written.
 */
export type DomainErrorCode = string & {}; // `& {}` keeps editors suggesting the ErrorCodes next to it

/** `C` when it is a valid code to raise: any domain code, or a `CATGA_` code from the list. */
export type CheckedCode<C extends string> = C extends `CATGA_${string}`
  ? C extends ErrorCode
    ? C
    : never
  : C;

/** One failed event handler, as listed in `CATGA_PUBLISH_FAILED` details. */
export interface HandlerFailure {
  /** The handler's name (its function name, or `handler#<index>`). */
  readonly handler: string;
  readonly code: string;
  readonly message: string;
  readonly details?: unknown;
}

/** One schema issue with a dotted path, as listed in `CATGA_VALIDATION` details. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * The `details` each code carries (docs/architecture/errors.md). Codes not listed here carry none, or
 * free-form facts for logs (`unknown`). Narrow with {@link hasErrorCode}.
 */
export interface ErrorDetailsByCode {
  CATGA_CONFIG: readonly ConfigIssue[];
  CATGA_VALIDATION: { readonly issues: readonly ValidationIssue[] };
  CATGA_RATE_LIMITED: { readonly retryAfterMs: number };
  CATGA_CIRCUIT_OPEN: { readonly retryAfterMs: number };
  /** Set by the timeout behavior; a transport deadline carries none. */
  CATGA_TIMEOUT: { readonly timeoutMs: number } | undefined;
  CATGA_PUBLISH_FAILED: { readonly handled: number; readonly failures: readonly HandlerFailure[] };
  CATGA_STORE_FAILED: { readonly store: string; readonly operation: string; readonly transportCode?: string };
  /**
   * `subject` when the server refused to let this connection publish to it (a request, an event,
   * a durable publish); `subjects` when `ready()` found subscriptions it refused; none when it
   * refused the credentials at connect.
   */
  CATGA_PERMISSION_DENIED:
    | { readonly subject: string }
    | { readonly subjects: readonly string[] }
    | undefined;
}

/** The `details` type of code `C`. */
export type ErrorDetails<C extends string> = C extends keyof ErrorDetailsByCode
  ? ErrorDetailsByCode[C]
  : unknown;

/** An error with a stable `code`; every error Catga raises is one of these. */
export class CatgaError<C extends string = string> extends Error {
  override readonly name: string = "CatgaError";
  /** One of {@link ErrorCodes}, or a handler's own {@link DomainErrorCode}. */
  readonly code: C;
  /** Structured facts about the failure; typed per code by {@link ErrorDetailsByCode}. */
  readonly details: ErrorDetails<C>;

  /**
   * `code` is one of {@link ErrorCodes} or a domain code of your own (an unknown `CATGA_` code
   * does not compile); `options.cause` keeps the original throwable, `options.details` the facts.
   */
  constructor(
    code: CheckedCode<C>,
    message: string,
    options?: { cause?: unknown; details?: ErrorDetails<C> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code as C; // CheckedCode<C> is C or never
    this.details = options?.details as ErrorDetails<C>; // absent details are undefined, as typed per code
  }
}

/**
 * Whether `error` (a thrown value or a Result's `error`) has `code`; narrows `details` to the
 * code's type: `if (hasErrorCode(result.error, ErrorCodes.RATE_LIMITED)) wait(result.error.details.retryAfterMs)`.
 */
export function hasErrorCode<C extends string>(
  error: unknown,
  code: CheckedCode<C>,
): error is { readonly code: C; readonly message: string; readonly details: ErrorDetails<C> } {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

/** One invalid configuration field and why it is invalid. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `retry.maxAttempts`. */
  readonly path: string;
  readonly message: string;
}

/** Thrown when configuration is invalid; lists every bad field at once. */
export class CatgaConfigError extends CatgaError<typeof ErrorCodes.CONFIG> {
  override readonly name = "CatgaConfigError";
  readonly issues: readonly ConfigIssue[];

  /** One error for all `issues`; its message lists each with the field's path. */
  constructor(issues: readonly ConfigIssue[]) {
    super(
      ErrorCodes.CONFIG,
      `Invalid Catga configuration:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join("\n")}`,
      { details: issues },
    );
    this.issues = issues;
  }
}

/**
 * A thrown value as text, whatever was thrown: an Error's message, else `String(value)`. Never
 * throws itself (`String` does for an object with no prototype, or a `toString` that throws: a
 * handler throwing one made `send` reject, and crashed the process from a telemetry hook).
 */
export function describeThrown(thrown: unknown): string {
  try {
    if (thrown instanceof Error && typeof thrown.message === "string") return thrown.message;
    return String(thrown);
  } catch {
    return "a value that cannot be shown as text was thrown";
  }
}
