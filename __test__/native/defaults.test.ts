import { describe, expect, it } from "vitest";
import { loadNativeBinding } from "../../ts/native/loader.js";
import { NATS_DEFAULTS } from "../../ts/nats/options.js";

describe("NATS option defaults", () => {
  it("the TS table states what the engine applies to every field left out", () => {
    const engine = loadNativeBinding().natsDefaults();
    const { batch: _appliedInJs, compressionThreshold, compressionLevel, limits, ...rest } = NATS_DEFAULTS;
    const { frame, servers: _servers, ...engineRest } = engine;
    expect(engineRest).toEqual(rest);
    expect(frame).toEqual({ compressionThreshold, compressionLevel, limits });
  });
});
