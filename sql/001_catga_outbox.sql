-- Catga transactional outbox (migration 1).
-- Rows are written in the same transaction as the state change; OutboxRelay publishes pending
-- rows (sent_at IS NULL) and marks them sent. Unqualified names: apply with search_path set to the
-- target schema (migrate() does this for you).

CREATE TABLE catga_outbox (
  id              bigserial   PRIMARY KEY,
  message_id      text        NOT NULL UNIQUE,
  subject         text        NOT NULL,
  envelope        bytea       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  attempts        integer     NOT NULL DEFAULT 0,
  last_error      text,
  next_attempt_at timestamptz NOT NULL DEFAULT now()
);

-- High churn (insert, update once, delete after retention): vacuum and analyze it early so the
-- pending index stays free of dead entries and the claim query keeps its index plan.
ALTER TABLE catga_outbox SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_analyze_scale_factor = 0.01
);

-- The relay's claim query walks pending rows in id order.
CREATE INDEX catga_outbox_pending_idx ON catga_outbox (id) WHERE sent_at IS NULL;
-- Retention cleanup deletes sent rows by age.
CREATE INDEX catga_outbox_sent_idx ON catga_outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Wake relays when rows commit: one notification per INSERT statement (and PostgreSQL folds
-- identical notifications of one transaction into one), delivered at COMMIT. The payload is the
-- table's schema so relays of other schemas can ignore it.
CREATE FUNCTION catga_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('catga_outbox', TG_TABLE_SCHEMA);
  RETURN NULL;
END
$$;

CREATE TRIGGER catga_outbox_notify
AFTER INSERT ON catga_outbox
FOR EACH STATEMENT EXECUTE FUNCTION catga_outbox_notify();
