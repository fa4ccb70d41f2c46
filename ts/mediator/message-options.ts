/**
 * Checks the per-message options of `send`, `query` and `publish` (and a handler context's
 * calls): a wrong type or an unknown key fails the call with CATGA_INVALID_ARGUMENT naming the
 * field, instead of a TypeError thrown from a call that never rejects, or nonsense accepted (a
 * number as `messageId`, a header that is not a string, a misspelt key ignored). Runs only when
 * options are given, so the option-less fast paths do not pay for it.
 */
import { describe, isRecord } from "../checks.js";
import { ErrorCodes } from "../errors.js";
import type { ContractKind } from "./contracts.js";
import { type ErrResult, err } from "./result.js";

/** Keys every message takes (SendOptions). */
const COMMON = ["messageId", "correlationId", "causationId", "headers", "signal"] as const;
/** Keys per kind: a command's durable/scheduling options, an event's publish mode and scheduling. */
const ALLOWED: Readonly<Record<ContractKind, ReadonlySet<string>>> = {
  command: new Set([...COMMON, "await", "deliverAt", "delayMs"]),
  query: new Set([...COMMON, "await", "deliverAt", "delayMs"]), // refused below with a clearer message
  event: new Set([...COMMON, "mode", "deliverAt", "delayMs"]),
};
const IDS = ["messageId", "correlationId", "causationId"] as const;
/**
 * Ids travel in every envelope and, for durable messages, in a NATS header (`Nats-Msg-Id`, within
 * the server's 64 KiB of headers): a 100,000-character id failed there as CATGA_TRANSPORT.
 */
const MAX_ID_LENGTH = 1024;

/**
 * Why `options` cannot be used for a message of `kind`, as the failed Result to return, or
 * undefined when they are fine. Values of `await`, `mode`, `deliverAt` and `delayMs` are checked
 * where they are used (they depend on the contract).
 */
export function checkMessageOptions(kind: ContractKind, options: unknown): Promise<ErrResult> | undefined {
  if (!isRecord(options)) return invalid("options", `must be an object, got ${describe(options)}`);
  const allowed = ALLOWED[kind];
  for (const key in options) {
    if (!allowed.has(key))
      return invalid(
        key,
        `is not an option of ${kind === "event" ? "an" : "a"} ${kind} (expected one of: ${[...allowed].join(", ")})`,
      );
  }
  for (const field of IDS) {
    const id = options[field];
    if (id !== undefined && (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH))
      return invalid(
        field,
        `must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${typeof id === "string" ? `${id.length} characters` : describe(id)}`,
      );
  }
  const headers = options.headers;
  if (headers !== undefined) {
    // A Map or a class instance is an object too, but its entries are not its own string keys:
    // they were dropped silently. Symbol keys would be too.
    const proto = isRecord(headers) ? Object.getPrototypeOf(headers) : undefined;
    if (!isRecord(headers) || (proto !== Object.prototype && proto !== null))
      return invalid("headers", `must be a plain object of strings, got ${describe(headers)}`);
    if (Object.getOwnPropertySymbols(headers).length > 0)
      return invalid("headers", "must have string names only, got a Symbol key");
    for (const name in headers) {
      if (typeof headers[name] !== "string")
        return invalid(`headers.${name}`, `must be a string, got ${describe(headers[name])}`);
    }
  }
  const signal = options.signal;
  if (signal !== undefined && !isAbortSignal(signal))
    return invalid("signal", `must be an AbortSignal, got ${describe(signal)}`);
  return undefined;
}

/** Duck-typed, so a signal from another realm (a test runner's, a polyfill's) is accepted. */
function isAbortSignal(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as AbortSignal).aborted === "boolean" &&
    typeof (value as AbortSignal).addEventListener === "function"
  );
}

function invalid(field: string, why: string): Promise<ErrResult> {
  const path = field === "options" ? field : `options.${field}`;
  return Promise.resolve(err(ErrorCodes.INVALID_ARGUMENT, `${path} ${why}`, { field }));
}
