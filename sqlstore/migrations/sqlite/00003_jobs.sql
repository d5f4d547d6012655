-- Jobs (DLC training jobs and DSW instances) and their event lists. spec,
-- status_history and pods are JSON text; max_running_time is nanoseconds;
-- version increases with every write (optimistic concurrency). quota_id is
-- checked by the API, not by a foreign key.

-- +goose Up
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind              TEXT NOT NULL,
    display_name      TEXT NOT NULL DEFAULT '',
    description       TEXT NOT NULL DEFAULT '',
    job_type          TEXT NOT NULL DEFAULT '',
    creator           TEXT NOT NULL DEFAULT '',
    creator_name      TEXT NOT NULL DEFAULT '',
    quota_id          TEXT NOT NULL DEFAULT '',
    priority          INTEGER NOT NULL DEFAULT 0,
    accessibility     TEXT NOT NULL,
    max_running_time  INTEGER NOT NULL DEFAULT 0,
    spec              TEXT NOT NULL DEFAULT '{}',
    status            TEXT NOT NULL,
    reason_code       TEXT NOT NULL DEFAULT '',
    reason_message    TEXT NOT NULL DEFAULT '',
    status_history    TEXT NOT NULL DEFAULT '[]',
    queue_position    INTEGER NOT NULL DEFAULT 0,
    pods              TEXT NOT NULL DEFAULT '[]',
    attempt           INTEGER NOT NULL DEFAULT 0,
    resource_group_id TEXT NOT NULL DEFAULT '',
    backend           TEXT NOT NULL DEFAULT '',
    executor_handle   TEXT NOT NULL DEFAULT '',
    submitted_at      TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT,
    updated_at        TEXT NOT NULL,
    version           INTEGER NOT NULL
) STRICT;
CREATE INDEX jobs_workspace_idx ON jobs (workspace_id, submitted_at, id);
-- Live jobs are what the scheduling loop reads; finished ones pile up.
CREATE INDEX jobs_live_idx ON jobs (status, submitted_at)
    WHERE status NOT IN ('Succeeded', 'Failed', 'Stopped');
CREATE INDEX jobs_quota_idx ON jobs (quota_id, submitted_at);

-- seq numbers a job's events from 1 in insertion order.
CREATE TABLE job_events (
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    time    TEXT NOT NULL,
    type    TEXT NOT NULL DEFAULT '',
    reason  TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, seq)
) STRICT;
CREATE INDEX job_events_time_idx ON job_events (job_id, time, seq);

-- +goose Down
DROP TABLE job_events;
DROP TABLE jobs;
