/**
 * `@catga/native/operations`: what operators (and a dashboard) do with a running system — list,
 * inspect, replay and purge dead letters, read the outbox backlog, the inbox, saga instances and
 * cluster members. The `catga` CLI runs on it (docs/guides/operations.md).
 *
 * @module @catga/native/operations
 */
export * from "../operations/index.js";
