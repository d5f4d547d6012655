-- The usage ledger: one row per pod per attempt, opened when the gang is
-- admitted and closed (ended_at) when the attempt ends. Rows outlive their
-- job (job_id is not a foreign key) so deleting a finished job keeps its
-- usage; they go with their workspace. memory is bytes, milli_cpu
-- thousandths of a core.

-- +goose Up
CREATE TABLE allocations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    quota_id     TEXT NOT NULL DEFAULT '',
    user_id      TEXT NOT NULL DEFAULT '',
    user_name    TEXT NOT NULL DEFAULT '',
    job_kind     TEXT NOT NULL DEFAULT '',
    job_type     TEXT NOT NULL DEFAULT '',
    attempt      INTEGER NOT NULL DEFAULT 0,
    pod          TEXT NOT NULL DEFAULT '',
    node         TEXT NOT NULL DEFAULT '',
    gpu_type     TEXT NOT NULL DEFAULT '',
    milli_cpu    INTEGER NOT NULL DEFAULT 0,
    memory       INTEGER NOT NULL DEFAULT 0,
    gpu          INTEGER NOT NULL DEFAULT 0,
    started_at   TEXT NOT NULL,
    ended_at     TEXT
) STRICT;
CREATE INDEX allocations_workspace_idx ON allocations (workspace_id, started_at);
CREATE INDEX allocations_started_idx ON allocations (started_at);
-- Closing an attempt finds the job's open rows.
CREATE INDEX allocations_open_idx ON allocations (job_id) WHERE ended_at IS NULL;

-- +goose Down
DROP TABLE allocations;
