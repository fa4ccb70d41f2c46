import { describe, it } from "vitest";
import { batchScenario } from "./batch-scenario.js";

describe("messages delivered in a transport batch", () => {
  it("handler spans carry catga.batch.size (not messaging.batch.message_count); catga.transport.batch.size records each batch", async () => {
    await batchScenario({ contextManager: true });
  });
});
