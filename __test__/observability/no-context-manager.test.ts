// Without a context manager (no NodeSDK, a bare provider) parents cannot come from the active
// context; the instrumentation links them through the messages themselves. This file never
// registers one (vitest isolates files), so it checks that path.
import { describe, expect, it } from "vitest";
import { batchScenario } from "./batch-scenario.js";
import { chainScenario } from "./chain-scenario.js";
import { api } from "./helpers.js";

describe("without a context manager", () => {
  it("is really without one", () => {
    const key = api.createContextKey("k");
    const ctx = api.ROOT_CONTEXT.setValue(key, 1);
    expect(api.context.with(ctx, () => api.context.active())).not.toBe(ctx);
  });

  it("send → handler → publish → handlers → remote send → remote handler is still one tree", async () => {
    await chainScenario({ contextManager: false, prefix: "orders" });
  });

  it("messages of a NATS batch: handler spans carry catga.batch.size (not messaging.batch.message_count)", async () => {
    await batchScenario({ contextManager: false });
  });
});
