import { CatgaError, ErrorCodes } from "../errors.js";

/** Async native functions can only reject with napi's own status, so they prefix the code. */
const CODE_PREFIX = /^(CATGA_[A-Z_]+): /;

/**
 * Turns an error thrown by the addon into a `CatgaError`. Core errors carry a stable `CATGA_*`
 * code (in `code` for sync calls, as a message prefix for async ones); N-API's own argument
 * conversion errors (wrong JS type for a field, whose message names the field) become
 * `CATGA_INVALID_ARGUMENT`.
 */
export function fromNativeError(error: unknown): CatgaError {
  if (error instanceof CatgaError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code.startsWith("CATGA_")) {
    return new CatgaError(code, message, { cause: error });
  }
  const prefixed = CODE_PREFIX.exec(message);
  if (prefixed) {
    return new CatgaError(prefixed[1]!, message.slice(prefixed[0].length), { cause: error });
  }
  return new CatgaError(ErrorCodes.INVALID_ARGUMENT, message, { cause: error });
}

/** Runs a native call, converting whatever it throws. */
export function callNative<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fromNativeError(error);
  }
}
