import { describe, expect, it } from "vitest";
import { CONSUMER_DEFAULTS } from "../../ts/jetstream/options.js";
import { loadNativeBinding } from "../../ts/native/loader.js";
import { NATS_DEFAULTS } from "../../ts/nats/options.js";

describe("option defaults", () => {
  it("NATS connections: the TS table states what the engine applies to every field left out", () => {
    const engine = loadNativeBinding().natsDefaults();
    const { batch: _appliedInJs, compressionThreshold, compressionLevel, limits, ...rest } = NATS_DEFAULTS;
    const { frame, servers: _servers, ...engineRest } = engine;
    expect(engineRest).toEqual(rest);
    expect(frame).toEqual({ compressionThreshold, compressionLevel, limits });
  });

  it("durable consumers: the TS table states what the engine applies to every field left out", () => {
    const { backoffMs: _appliedInJs, ...engineApplied } = CONSUMER_DEFAULTS;
    const { stream: _stream, durable: _durable, ...engine } = loadNativeBinding().consumerDefaults();
    expect(engine).toEqual(engineApplied);
  });
});
