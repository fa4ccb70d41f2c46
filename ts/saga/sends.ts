/**
 * What the engine sends and stores: message ids derived from the instance, a step's command with its
 * bound, and the state as JSON with its size.
 */
import { createHash } from "node:crypto";
import { MAX_DELAY_MS } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import type { Clock } from "../mediator/clock.js";
import type { AnyCommand, AnyContract } from "../mediator/contracts.js";
import type { Catga } from "../mediator/mediator.js";
import { err, type Result } from "../mediator/result.js";

/** Message ids JetStream dedupes and schedules by: tokens, derived from the instance and the cause. */
export function advanceId(saga: string, id: string, cause: string): string {
  return `saga-${createHash("sha256").update(`${saga}\u0000${id}\u0000${cause}`).digest("hex").slice(0, 32)}`;
}

/** Sends a step's or compensation's command; a durable one waits for its handler's Result. */
export function sendCommand(
  catga: Catga<AnyContract>,
  contract: AnyCommand,
  payload: unknown,
  messageId: string,
  correlationId: string,
  timeoutMs: number | undefined,
  clock: Clock,
): Promise<Result<unknown>> {
  const abort = timeoutMs === undefined ? undefined : new AbortController();
  const options = {
    messageId,
    correlationId,
    ...(abort === undefined ? {} : { signal: abort.signal }),
    ...(contract.delivery === "durable" ? { await: "result" as const } : {}),
  };
  // biome-ignore lint/suspicious/noExplicitAny: the definition's types checked payload against the contract
  const sent = catga.send(contract as any, payload as any, options as any) as Promise<Result<unknown>>;
  if (timeoutMs === undefined || abort === undefined) return sent;
  // The signal ends a remote wait; a local handler that ignores it is outrun here.
  let cancel: (() => void) | undefined;
  const due = clock.now() + timeoutMs;
  const expired = new Promise<Result<unknown>>((resolve) => {
    const arm = (): void => {
      const left = due - clock.now();
      // A timer longer than MAX_DELAY_MS fires at once (a deadlineMs of weeks bounds the step):
      // wait in pieces instead.
      if (left > MAX_DELAY_MS) {
        cancel = clock.setTimer(arm, MAX_DELAY_MS);
        return;
      }
      cancel = clock.setTimer(
        () => {
          // The reason AbortSignal.timeout() gives: transports read a TimeoutError as CATGA_TIMEOUT.
          abort.abort(
            new DOMException(`${contract.type} got no Result within ${timeoutMs} ms`, "TimeoutError"),
          );
          resolve(err(ErrorCodes.TIMEOUT, `${contract.type} got no Result within ${timeoutMs} ms`));
        },
        Math.max(0, left),
      );
    };
    arm();
  });
  return Promise.race([sent, expired]).finally(() => cancel?.());
}

/** The value as stored (JSON) and its size, or a CATGA_INVALID_ARGUMENT naming what could not be stored. */
export function jsonCopy(value: unknown, what: string): { value: unknown; bytes: number } {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `${what} is not JSON-serializable`, {
      cause,
      details: { field: "state" },
    });
  }
  if (text === undefined)
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `${what} is not JSON-serializable`, {
      details: { field: "state" },
    });
  return { value: JSON.parse(text), bytes: Buffer.byteLength(text) };
}

/** A durable send refused because its message id was stored already (docs/architecture/durable-commands.md). */
export function isDuplicate(result: Result<unknown>): boolean {
  return !result.ok && (result.error.details as { duplicate?: unknown } | undefined)?.duplicate === true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
