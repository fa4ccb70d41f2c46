export { Cluster, type ClusterStats, type ClusterTarget, cluster } from "./cluster.js";
export {
  FENCE_TABLE,
  type FencedOutcome,
  type FenceOptions,
  fencedWrite,
  fenceSql,
  fenceTableSql,
} from "./fencing.js";
export { Leadership, type LeadershipEvents } from "./leader.js";
export type { LeaseTerm } from "./lease.js";
export type { HeldLock } from "./lock.js";
export type { LeaveReason, Member, MembershipEvents } from "./membership.js";
export { CLUSTER_DEFAULTS, type ClusterOptions, type LeaderOptions, type LockOptions } from "./options.js";
