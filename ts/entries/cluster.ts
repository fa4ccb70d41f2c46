/**
 * `@catga/native/cluster`: membership, leader election with fencing tokens, locks and NATS
 * service discovery on a NATS transport, plus the PostgreSQL fence that refuses stale tokens.
 *
 * @module @catga/native/cluster
 */
export * from "../cluster/index.js";
