-- Pipelines (pipeline-…) and their versions, and pipeline runs (run-…).
-- A version's spec is the DAG as saved (JSON). A run keeps snapshots of
-- the spec and of the algorithm components it resolved, its arguments and
-- its nodes (JSON: status, job id, times, outputs); version increases with
-- every write (optimistic concurrency, as for jobs). Runs outlive their
-- pipeline: no foreign key to pipelines.

-- +goose Up
CREATE TABLE pipelines (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    creator        TEXT NOT NULL DEFAULT '',
    creator_name   TEXT NOT NULL DEFAULT '',
    accessibility  TEXT NOT NULL,
    latest_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (workspace_id, name)
) STRICT;

CREATE TABLE pipeline_versions (
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    spec        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, version)
) STRICT;

CREATE TABLE pipeline_runs (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    pipeline_id      TEXT NOT NULL,
    pipeline_version INTEGER NOT NULL,
    display_name     TEXT NOT NULL DEFAULT '',
    creator          TEXT NOT NULL DEFAULT '',
    creator_name     TEXT NOT NULL DEFAULT '',
    accessibility    TEXT NOT NULL,
    arguments        TEXT NOT NULL DEFAULT '{}',
    spec             TEXT NOT NULL,
    components       TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL,
    reason_code      TEXT NOT NULL DEFAULT '',
    reason_message   TEXT NOT NULL DEFAULT '',
    status_history   TEXT NOT NULL DEFAULT '[]',
    nodes            TEXT NOT NULL DEFAULT '[]',
    attempt          INTEGER NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    updated_at       TEXT NOT NULL,
    version          INTEGER NOT NULL
) STRICT;
CREATE INDEX pipeline_runs_workspace_idx ON pipeline_runs (workspace_id, created_at, id);
-- Live runs are what the pipeline controller reads.
CREATE INDEX pipeline_runs_live_idx ON pipeline_runs (status, created_at)
    WHERE status NOT IN ('Succeeded', 'Failed', 'Terminated');

-- +goose Down
DROP TABLE pipeline_runs;
DROP TABLE pipeline_versions;
DROP TABLE pipelines;
