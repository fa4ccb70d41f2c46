/**
 * `@catga/native/persistence`: the PostgreSQL outbox and its relay, migrations, and the inbox
 * (idempotency) stores on PostgreSQL, Redis and NATS KV, `exactlyOnce` (a handler's effect and
 * its recorded outcome in one transaction), and the saga stores on PostgreSQL and NATS KV.
 *
 * @module @catga/native/persistence
 */
export { withBatchOps } from "../persistence/batch.js";
export type {
  ExactlyOnceOptions,
  OnceContext,
  OnceHandler,
  OnceTransaction,
  OnceWork,
} from "../persistence/exactly-once.js";
export { exactlyOnce } from "../persistence/exactly-once.js";
export type { MigrateOptions, MigrateResult, Migration } from "../persistence/migrations.js";
export { MIGRATIONS, migrate } from "../persistence/migrations.js";
export type { NatsKvIdempotencyStoreOptions } from "../persistence/nats-kv-inbox.js";
export { NatsKvIdempotencyStore } from "../persistence/nats-kv-inbox.js";
export type { NatsKvSagaStoreOptions } from "../persistence/nats-kv-saga-store.js";
export { NatsKvSagaStore } from "../persistence/nats-kv-saga-store.js";
export type {
  OutboxCause,
  OutboxEventOptions,
  OutboxMessage,
  OutboxTransaction,
  PostgresOutboxOptions,
} from "../persistence/outbox.js";
export { outboxEvent, outboxMessage, PostgresOutbox, withOutboxTransaction } from "../persistence/outbox.js";
export type { BatchIdempotencyStore, IdempotencyEntry } from "../persistence/outcome.js";
export type { PgPool, PgPoolClient, PgQueryable, PgResult } from "../persistence/pg.js";
export type { PostgresIdempotencyStoreOptions } from "../persistence/postgres-inbox.js";
export { PostgresIdempotencyStore } from "../persistence/postgres-inbox.js";
export type {
  RedisClientLike,
  RedisIdempotencyStoreOptions,
  RedisPipelineLike,
} from "../persistence/redis-inbox.js";
export { RedisIdempotencyStore } from "../persistence/redis-inbox.js";
export { OutboxRelay } from "../persistence/relay.js";
export type { OutboxRelayOptions, RelayBatchReport, RelayStats } from "../persistence/relay-options.js";
export type { PostgresSagaStoreOptions } from "../persistence/saga-store.js";
export { PostgresSagaStore } from "../persistence/saga-store.js";
export type { StoreLimits } from "../persistence/store-limits.js";
