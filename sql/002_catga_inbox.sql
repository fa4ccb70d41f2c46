-- Catga inbox / idempotency store (migration 2).
-- One row per handled message key; expired rows are ignored on read and removed by
-- PostgresIdempotencyStore.purgeExpired(). Outcomes are MessagePack (see docs/persistence.md).

CREATE TABLE catga_inbox (
  key        text        PRIMARY KEY,
  outcome    bytea       NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE INDEX catga_inbox_expires_idx ON catga_inbox (expires_at);
