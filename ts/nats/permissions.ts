import { CatgaError, ErrorCodes } from "../errors.js";

/**
 * The error of work on `subject` that the server does not let this connection publish to (NATS
 * permissions): `CATGA_PERMISSION_DENIED` with `details.subject`. `message` is the engine's, when
 * it reported the refusal.
 */
export function publishDenied(
  subject: string,
  message = `the server does not allow this connection to publish to ${JSON.stringify(subject)} (NATS permissions)`,
): CatgaError<typeof ErrorCodes.PERMISSION_DENIED> {
  return new CatgaError(ErrorCodes.PERMISSION_DENIED, message, { details: { subject } });
}

/**
 * A failure the engine reported for work on `subject`, as a `CatgaError`: a refusal gets
 * `details.subject` (the engine reports code and message only; the caller knows the subject).
 */
export function failureOn(subject: string, code: string, message: string): CatgaError {
  return code === ErrorCodes.PERMISSION_DENIED
    ? publishDenied(subject, message)
    : new CatgaError(code, message);
}
