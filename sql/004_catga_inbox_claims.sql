-- Catga inbox claims (migration 4).
-- A row may now be a claim instead of an outcome: outcome IS NULL, owner names the process run
-- that holds the key, expires_at is the end of its lease. PostgresIdempotencyStore.claim() inserts
-- it (or takes over an expired one), extend() moves expires_at, set() writes the outcome,
-- release() deletes it. Both changes only touch the catalog: no table rewrite, no long lock.

ALTER TABLE catga_inbox ADD COLUMN owner text;
ALTER TABLE catga_inbox ALTER COLUMN outcome DROP NOT NULL;
