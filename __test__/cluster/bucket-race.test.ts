import { afterAll, describe, expect, it } from "vitest";
import { TestCluster } from "./helpers.js";

// Instances of a new deployment start together: each opens the cluster's KV bucket, creating it
// when missing. A slower creator was refused by the server ("subjects overlap with an existing
// stream", a lost race seen once in CI under load) although the bucket it asked for now existed;
// it now asks again (crates/catga-core/src/nats/kv.rs, as `ensure_stream` does for streams).
// The race is rare on a quiet machine: this exercises the path without forcing the loss.
const nets: TestCluster[] = [];
afterAll(() => Promise.all(nets.map((net) => net.close())));

describe("the cluster bucket", () => {
  it("is opened by eight instances joining a fresh bucket at once, five times over", async () => {
    for (let round = 0; round < 5; round++) {
      const net = new TestCluster();
      nets.push(net);
      const members = await Promise.all(
        Array.from({ length: 8 }, (_, i) => net.join({ instanceId: `race-${round}-${i}` })),
      );
      expect(members).toHaveLength(8);
    }
  }, 60_000);
});
