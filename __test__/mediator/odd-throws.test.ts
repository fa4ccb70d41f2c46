import { describe, expect, it } from "vitest";
import { withObservability } from "../../ts/entries/observability.js";
import { createCatga, defineCommand, defineEvent, ErrorCodes, silentLogger } from "../../ts/index.js";
import { api, telemetry } from "../observability/helpers.js";

// Results never reject, whatever a handler throws. Found from outside: `String(thrown)` threw for an
// object with no prototype (or a `toString` that throws), so `send` rejected and, from the
// observability hook, the process crashed with an uncaught TypeError.
const Odd = defineCommand("odd.throw").payload<{ kind: string }>().returns<never>();
const Noted = defineEvent("odd.noted").payload<{ kind: string }>();

function oddValue(kind: string): unknown {
  if (kind === "null-proto") return Object.create(null);
  if (kind === "bad-toString")
    return {
      toString() {
        throw new Error("no text");
      },
    };
  return new Proxy(
    {},
    {
      get() {
        throw new Error("no reading");
      },
    },
  );
}

describe("odd thrown values", () => {
  for (const observed of [false, true]) {
    it(`answer CATGA_HANDLER_FAILED, never a rejection${observed ? " (with observability)" : ""}`, async () => {
      const t = telemetry();
      // One mediator per value: the production preset's breaker would open after the first failures.
      const build = () => {
        const builder = createCatga({ preset: "production", logger: silentLogger });
        return (
          observed
            ? withObservability(builder, {
                api,
                tracerProvider: t.tracerProvider,
                meterProvider: t.meterProvider,
              })
            : builder
        )
          .handle(Odd, ({ kind }) => {
            throw oddValue(kind);
          })
          .handle(Noted, ({ kind }) => {
            throw oddValue(kind);
          })
          .build();
      };
      for (const kind of ["null-proto", "bad-toString", "proxy"]) {
        const catga = build();
        const sent = await catga.send(Odd, { kind });
        expect(sent.ok ? undefined : sent.error.code).toBe(ErrorCodes.HANDLER_FAILED);
        const published = await catga.publish(Noted, { kind });
        expect(published.ok ? undefined : published.error.code).toBe(ErrorCodes.PUBLISH_FAILED);
      }
      await t.shutdown();
    });
  }
});
