import { CatgaError, ErrorCodes } from "../errors.js";

/**
 * Bounds for numbers before they cross N-API. napi converts a JS number to u32/i32 by wrapping
 * and truncating (2**32 + 1 → 1, 1.7 → 1, NaN → 0), so every number argument is checked first
 * (`checkArgument(field, value, integer(min, max))`): a mistake is a CATGA_INVALID_ARGUMENT naming
 * the field and the value, never silently another value.
 */
export const U32_MAX = 4_294_967_295;
export const I32_MIN = -2_147_483_648;
export const I32_MAX = 2_147_483_647;

/** N-API's Buffer arguments want a Buffer; wrapping a Uint8Array's memory copies nothing. */
export function asBuffer(field: string, bytes: Uint8Array): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (!(bytes instanceof Uint8Array)) {
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `${field} must be a Uint8Array or Buffer`);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
