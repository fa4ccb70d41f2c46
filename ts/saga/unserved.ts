/**
 * Sends that never left this process, or were never delivered, are sent again: a step's and a
 * compensation's send go through {@link untilServed}.
 */
import { ErrorCodes } from "../errors.js";
import type { Result } from "../mediator/result.js";
import { SAGA_HOST_DEFAULTS, type SagaRuntime } from "./runtime.js";

/**
 * Sends again while the send fails with a code that says it never left this process or was never
 * delivered ({@link NEVER_SENT}): nobody served the contract (CATGA_NO_HANDLER: no instance of its
 * service is up, no stream captures it), or the transport refused it before sending
 * (CATGA_NOT_CONNECTED, CATGA_BACKPRESSURE under a `"reject"` policy). Sending it again is safe,
 * as for a transient failure. Bounded by the step's `timeoutMs` (and the deadline), else by
 * `SAGA_HOST_DEFAULTS.unservedStepMs`; then the last such failure is the send's Result: a step
 * fails (compensated without it: it never ran), a compensation's attempt counts as failed.
 */
export async function untilServed(
  rt: SagaRuntime,
  id: string,
  step: string,
  kind: "step" | "compensation",
  timeoutMs: number | undefined,
  attempt: (boundMs: number | undefined) => Promise<Result<unknown>>,
): Promise<Result<unknown>> {
  const until = rt.clock.now() + (timeoutMs ?? SAGA_HOST_DEFAULTS.unservedStepMs);
  let pause = UNSERVED_FIRST_PAUSE_MS;
  for (let attempts = 1; ; attempts++) {
    const result = await attempt(timeoutMs === undefined ? undefined : Math.max(1, until - rt.clock.now()));
    if (result.ok || !NEVER_SENT.has(result.error.code)) return result;
    // Another attempt only when it has time left after the pause: one cut short by the bound would
    // end CATGA_TIMEOUT, and a step that timed out is compensated as if it may have run.
    if (until - rt.clock.now() < pause + UNSERVED_FIRST_PAUSE_MS) return result;
    if (attempts === 1)
      rt.logger().warn(`saga ${kind} not sent (${result.error.code}); sending it again`, {
        saga: rt.name,
        id,
        step,
        code: result.error.code,
      });
    await rt.clock.sleep(pause);
    pause = Math.min(pause * 2, UNSERVED_MAX_PAUSE_MS);
  }
}

/** Failures of a send that was never delivered: sending it again cannot repeat its effect. */
const NEVER_SENT: ReadonlySet<string> = new Set([
  ErrorCodes.NO_HANDLER,
  ErrorCodes.NOT_CONNECTED,
  ErrorCodes.BACKPRESSURE,
]);

/** Pauses between sends nobody served: doubling from the first to the largest. */
const UNSERVED_FIRST_PAUSE_MS = 50;
const UNSERVED_MAX_PAUSE_MS = 2_000;
