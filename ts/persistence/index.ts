export { withBatchOps } from "./batch.js";
export {
  MIGRATIONS,
  type MigrateOptions,
  type MigrateResult,
  type Migration,
  migrate,
} from "./migrations.js";
export { NatsKvIdempotencyStore, type NatsKvIdempotencyStoreOptions } from "./nats-kv-inbox.js";
export {
  type OutboxCause,
  type OutboxEventOptions,
  type OutboxMessage,
  type OutboxTransaction,
  outboxEvent,
  outboxMessage,
  PostgresOutbox,
  type PostgresOutboxOptions,
  withOutboxTransaction,
} from "./outbox.js";
export {
  type BatchIdempotencyStore,
  decodeOutcome,
  encodeOutcome,
  type IdempotencyEntry,
} from "./outcome.js";
export type { PgPool, PgPoolClient, PgQueryable } from "./pg.js";
export { PostgresIdempotencyStore, type PostgresIdempotencyStoreOptions } from "./postgres-inbox.js";
export {
  type RedisClientLike,
  RedisIdempotencyStore,
  type RedisIdempotencyStoreOptions,
  type RedisPipelineLike,
} from "./redis-inbox.js";
export {
  OutboxRelay,
  type OutboxRelayOptions,
  type RelayBatchReport,
  type RelayStats,
} from "./relay.js";
export type { StoreLimits } from "./store-limits.js";
