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
  /** A pluggable store (e.g. the idempotency store) failed. */
  STORE_FAILED: "CATGA_STORE_FAILED",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes] | (string & {});

/** An error with a stable `code`; every error Catga raises is one of these. */
export class CatgaError extends Error {
  override readonly name: string = "CatgaError";
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

/** One invalid configuration field and why it is invalid. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `retry.maxAttempts`. */
  readonly path: string;
  readonly message: string;
}

/** Thrown when configuration is invalid; lists every bad field at once. */
export class CatgaConfigError extends CatgaError {
  override readonly name = "CatgaConfigError";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(
      ErrorCodes.CONFIG,
      `Invalid Catga configuration:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join("\n")}`,
      { details: issues },
    );
    this.issues = issues;
  }
}
