// A cluster's membership and elections as observable instruments (`catga.cluster.*`).
import { MetricNames } from "./names.js";
import type { OtelAttributes, OtelMeter } from "./otel.js";

/** What `observeCluster` reads: a `Cluster` from `@catga/native/cluster`, or the same shape. */
export interface ClusterSource {
  /** The instances in this instance's view, each with its service name. */
  members(): readonly { readonly service: string }[];
  /** Elections this instance won so far, per leadership name; shard counters when it shards. */
  stats(): {
    readonly elections: ReadonlyMap<string, number>;
    /** View changes of sharded types handled here. @default 0 */
    readonly rebalances?: number;
    /** Keys handled here that moved to another owner. @default 0 */
    readonly shardMoves?: number;
  };
}

/**
 * Registers `catga.cluster.members.active` (instances in this instance's view, per
 * `catga.service`) and `catga.cluster.leader.elections` (elections this instance won, per
 * `catga.leader`), `catga.cluster.rebalances` (view changes of the sharded types handled here) and
 * `catga.cluster.shard.moves` (keys handled here that moved to another owner), read at each collection. Returns a function that removes the callback.
 */
export function observeCluster(meter: OtelMeter, cluster: ClusterSource): () => void {
  const members = meter.createObservableGauge(MetricNames.clusterMembersActive, {
    description: "Instances in this instance's membership view (itself included), per service",
  });
  const elections = meter.createObservableCounter(MetricNames.clusterLeaderElections, {
    description: "Elections this instance won, per leadership name",
  });
  const rebalances = meter.createObservableCounter(MetricNames.clusterRebalances, {
    description: "View changes of the sharded types this instance handles (members joined or left)",
  });
  const moves = meter.createObservableCounter(MetricNames.clusterShardMoves, {
    description: "Keys this instance had handled that moved to another owner at a view change",
  });
  const observables = [members, elections, rebalances, moves];
  const callback = (result: {
    // biome-ignore lint/suspicious/noExplicitAny: BatchObservableResult over observables of any attributes
    observe(observable: any, value: number, attributes?: OtelAttributes): void;
  }) => {
    const perService = new Map<string, number>();
    for (const member of cluster.members())
      perService.set(member.service, (perService.get(member.service) ?? 0) + 1);
    for (const [service, count] of perService) result.observe(members, count, { "catga.service": service });
    const stats = cluster.stats();
    for (const [name, count] of stats.elections) result.observe(elections, count, { "catga.leader": name });
    result.observe(rebalances, stats.rebalances ?? 0);
    result.observe(moves, stats.shardMoves ?? 0);
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
