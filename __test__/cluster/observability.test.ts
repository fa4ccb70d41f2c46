import { afterAll, describe, expect, it } from "vitest";
import type { LeaseTerm } from "../../ts/entries/cluster.js";
import { CatgaObservability, health, MetricNames } from "../../ts/entries/observability.js";
import { api, pointValue, telemetry } from "../observability/helpers.js";
import { next, TestCluster, until } from "./helpers.js";

const net = new TestCluster();
afterAll(() => net.close());

describe("cluster observability", () => {
  it("reports members per service and elections won, and the cluster in health", async () => {
    const a = await net.join({ service: "obs-a", instanceId: "o-1" });
    await net.join({ service: "obs-b", instanceId: "o-2" });
    await until(() => a.members().length === 2, 5000, "both members");
    const elected = next<[LeaseTerm]>(a.leader("obs", { ttlMs: 1000 }), "elected");
    await elected;

    const t = telemetry();
    const obs = new CatgaObservability({
      api,
      tracerProvider: t.tracerProvider,
      meterProvider: t.meterProvider,
    });
    obs.observeCluster(a);
    const members = await t.points(MetricNames.clusterMembersActive);
    expect(pointValue(members, { "catga.service": "obs-a" })).toBe(1);
    expect(pointValue(members, { "catga.service": "obs-b" })).toBe(1);
    expect(pointValue(await t.points(MetricNames.clusterLeaderElections), { "catga.leader": "obs" })).toBe(1);
    // No sharded handlers here: the shard counters read 0 (sharding.test.ts counts real ones).
    expect(pointValue(await t.points(MetricNames.clusterRebalances), {})).toBe(0);
    expect(pointValue(await t.points(MetricNames.clusterShardMoves), {})).toBe(0);
    obs.shutdown();
    await t.shutdown();

    const report = await health(undefined, { cluster: a });
    expect(report.checks.cluster).toMatchObject({
      status: "up",
      details: { service: "obs-a", members: 2, leaders: { obs: { isLeader: true } } },
    });
    await a.close();
    expect((await health(undefined, { cluster: a })).status).toBe("down");
  });
});
