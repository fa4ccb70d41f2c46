import {
  CatgaError,
  type CheckedCode,
  type DomainErrorCode,
  describeThrown,
  type ErrorCode,
  ErrorCodes,
  type ErrorDetails,
} from "../errors.js";

/** A failure as data: match on the stable `code`, never on `message`. */
export interface ErrorInfo {
  /** One of {@link ErrorCodes}, or a handler's own domain code (docs/architecture/errors.md). */
  readonly code: ErrorCode | DomainErrorCode;
  readonly message: string;
  readonly details?: unknown;
  /** The original thrown value, kept for logs and stack traces. */
  readonly cause?: unknown;
}

/** A successful {@link Result}: `value` is what the handler returned. */
export interface OkResult<T> {
  /** Always true: narrows a {@link Result} to this. */
  readonly ok: true;
  /** The handler's return value. */
  readonly value: T;
  /** Returns the value. */
  unwrap(): T;
}

/** A failed {@link Result}: `error` holds the code, message and details, never thrown. */
export interface ErrResult {
  /** Always false: narrows a {@link Result} to this. */
  readonly ok: false;
  /** What failed: match on `error.code` (see {@link hasErrorCode}). */
  readonly error: ErrorInfo;
  /** Throws the error as a `CatgaError`. */
  unwrap(): never;
}

/** Every mediator call resolves to a Result; it never rejects. */
export type Result<T> = OkResult<T> | ErrResult;

// An Ok result is a plain object literal whose `unwrap` is one shared function: V8 allocates such
// literals from a boilerplate, ~300 machine instructions cheaper per result than `new` of a
// class (callgrind, benches/RESULTS.md), and this is on every successful send's path.
function unwrapOk<T>(this: OkResult<T>): T {
  return this.value;
}

// Errors are rarer; the class keeps `unwrap` on the prototype.
class Err implements ErrResult {
  readonly ok = false as const;
  readonly error: ErrorInfo;
  constructor(error: ErrorInfo) {
    this.error = error;
  }
  unwrap(): never {
    throw toCatgaError(this.error);
  }
}

/** A successful Result holding `value`. */
export function ok<T>(value: T): OkResult<T> {
  return { ok: true, value, unwrap: unwrapOk };
}

/**
 * A failed Result. A handler may return it for a domain failure with a code of its own (a
 * {@link DomainErrorCode}); it reaches the caller unchanged, as a thrown `CatgaError` would
 * (docs/architecture/errors.md). `details` are typed per code for the codes in `ErrorCodes`.
 */
export function err<C extends string>(
  code: CheckedCode<C>,
  message: string,
  details?: ErrorDetails<C>,
  cause?: unknown,
): ErrResult {
  const info: { code: string; message: string; details?: unknown; cause?: unknown } = { code, message };
  if (details !== undefined) info.details = details;
  if (cause !== undefined) info.cause = cause;
  return new Err(info);
}

/**
 * A failure the handler returned rather than threw: its answer (a refusal such as insufficient
 * funds), which durable delivery acks and hands to the caller instead of retrying.
 */
class Answer extends Err {}

/**
 * What a handler returned, as its Result: an `err(...)` it returned is its failure (as if it had
 * thrown that error, except that durable delivery takes it as the answer: see
 * {@link isAnsweredFailure}), any other value its success.
 */
export function returned(value: unknown): Result<unknown> {
  return value instanceof Err ? new Answer(value.error) : ok(value);
}

/** Whether `value` is an error Result made by this library (`err(...)`, `errFrom`, a failed call). */
export function isErr(value: unknown): value is ErrResult {
  return value instanceof Err;
}

/** Whether `result` is a failure its handler returned (`return err(...)`), not one it threw. */
export function isAnsweredFailure(result: Result<unknown>): boolean {
  return result instanceof Answer;
}

export function errFrom(info: ErrorInfo): ErrResult {
  return new Err(info);
}

/** Returns the value or throws a `CatgaError` carrying the code, message and details. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw toCatgaError(result.error);
}

export function toCatgaError(info: ErrorInfo): CatgaError {
  if (info.cause instanceof CatgaError && info.cause.code === info.code) return info.cause;
  return new CatgaError(info.code, info.message, { details: info.details, cause: info.cause });
}

/** An error Result for anything thrown or rejected. */
export function errFromThrown(thrown: unknown): ErrResult {
  return new Err(errorInfoFrom(thrown));
}

/**
 * `errFromThrown` for a value thrown while handling a message whose signal is `signal`. Once that
 * signal has aborted, its own reason (`abort(reason)`) or a TimeoutError (`AbortSignal.timeout()`)
 * means the caller cancelled: CATGA_ABORTED, not a handler failure a circuit breaker would count.
 */
export function errFromThrownIn(thrown: unknown, signal: AbortSignal): ErrResult {
  const info = errorInfoFrom(thrown);
  if (
    info.code === ErrorCodes.HANDLER_FAILED &&
    signal.aborted &&
    (thrown === signal.reason || (thrown as { name?: unknown } | null)?.name === "TimeoutError")
  ) {
    return new Err({
      code: ErrorCodes.ABORTED,
      message: info.message || "The operation was aborted",
      cause: thrown,
    });
  }
  return new Err(info);
}

/**
 * Maps anything a handler throws to an ErrorInfo. Catga errors keep their code (a timeout's abort
 * reason is one); an `AbortError` (fetch, `signal.throwIfAborted()`) means the caller cancelled.
 */
/** `thrown.name`, or undefined when reading it throws (a Proxy, a getter). */
function nameOf(thrown: unknown): unknown {
  try {
    return (thrown as { name?: unknown } | null)?.name;
  } catch {
    return undefined;
  }
}

export function errorInfoFrom(thrown: unknown): ErrorInfo {
  if (thrown instanceof CatgaError) {
    return { code: thrown.code, message: thrown.message, details: thrown.details, cause: thrown };
  }
  const message = describeThrown(thrown);
  if (nameOf(thrown) === "AbortError") {
    return { code: ErrorCodes.ABORTED, message: message || "The operation was aborted", cause: thrown };
  }
  return { code: ErrorCodes.HANDLER_FAILED, message, cause: thrown };
}
