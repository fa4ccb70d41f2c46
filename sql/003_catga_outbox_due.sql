-- Catga outbox: rows waiting on a retry backoff (migration 3).
-- The claim query takes pending rows that are due (next_attempt_at <= now) in id order. Walking
-- the pending index in id order skips every row still backing off, so many failing rows made
-- each claim and each empty poll a scan of all of them; this index finds the due ones directly.

CREATE INDEX catga_outbox_due_idx ON catga_outbox (next_attempt_at, id) WHERE sent_at IS NULL;
