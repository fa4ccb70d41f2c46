import { CatgaError, describeThrown, ErrorCodes } from "../errors.js";

/**
 * A store failure that names the store and the operation; `cause` is the driver's error. A `hint`
 * (what to do about it) ends the message.
 */
export function storeFailed(store: string, operation: string, cause: unknown, hint?: string): CatgaError {
  if (cause instanceof CatgaError && cause.code !== ErrorCodes.DECODE) return cause;
  const reason = cause instanceof Error ? cause.message || cause.name : describeThrown(cause);
  const advice = hint === undefined ? "" : ` (${hint})`;
  return new CatgaError(ErrorCodes.STORE_FAILED, `${store}: ${operation} failed: ${reason}${advice}`, {
    cause,
    details: { store, operation },
  });
}

export function invalid(message: string, details?: unknown): CatgaError {
  return new CatgaError(
    ErrorCodes.INVALID_ARGUMENT,
    message,
    details === undefined ? undefined : { details },
  );
}
