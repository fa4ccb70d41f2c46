-- Catga saga instances (migration 5).
-- One row per saga instance: its state and the engine's progress (JSON), its status and next step.
-- Every update names the revision it read (WHERE revision = $n), so two writers never both move
-- one instance; PostgresSagaStore.list() walks (saga, status, id).

CREATE TABLE catga_saga (
  saga       text        NOT NULL,
  id         text        NOT NULL,
  status     text        NOT NULL,
  step       integer     NOT NULL,
  revision   bigint      NOT NULL,
  state      jsonb       NOT NULL,
  progress   jsonb       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (saga, id)
);

CREATE INDEX catga_saga_status_idx ON catga_saga (saga, status, id);
