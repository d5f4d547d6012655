-- Compute objects: resource groups and their nodes, the quota tree, quota
-- bindings and workspace configs. Resource lists are JSON text of plain
-- integers ({"gpuType": {"milliCpu": …, "memory": …, "gpu": …}}); min_runtime
-- is nanoseconds.

-- +goose Up
CREATE TABLE resource_groups (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    backend         TEXT NOT NULL DEFAULT '',
    description     TEXT NOT NULL DEFAULT '',
    slurm_partition TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX resource_groups_name_key ON resource_groups (name);

-- Node names are unique platform-wide.
CREATE TABLE nodes (
    name       TEXT PRIMARY KEY,
    group_id   TEXT NOT NULL REFERENCES resource_groups (id) ON DELETE CASCADE,
    gpu_type   TEXT NOT NULL DEFAULT '',
    milli_cpu  BIGINT NOT NULL DEFAULT 0,
    memory     BIGINT NOT NULL DEFAULT 0,
    gpu        BIGINT NOT NULL DEFAULT 0,
    labels     TEXT NOT NULL DEFAULT '{}',
    state      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX nodes_group_id_idx ON nodes (group_id, name);

-- parent_id is '' for a root. Group and workspace ids inside the JSON lists
-- are checked by the store, not by foreign keys.
CREATE TABLE quotas (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    parent_id          TEXT NOT NULL DEFAULT '',
    resource_groups    TEXT NOT NULL DEFAULT '[]',
    min_resources      TEXT NOT NULL DEFAULT '{}',
    max_resources      TEXT NOT NULL DEFAULT '{}',
    lending_limit      TEXT NOT NULL DEFAULT '{}',
    queue_strategy     TEXT NOT NULL,
    preemptor_priority INTEGER NOT NULL DEFAULT 0,
    preempted_priority INTEGER NOT NULL DEFAULT 0,
    min_runtime        BIGINT NOT NULL DEFAULT 0,
    offered_to_all     BOOLEAN NOT NULL DEFAULT FALSE,
    offered_to         TEXT NOT NULL DEFAULT '[]',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX quotas_name_key ON quotas (name);
CREATE INDEX quotas_parent_id_idx ON quotas (parent_id);

CREATE TABLE quota_bindings (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    quota_id     TEXT NOT NULL REFERENCES quotas (id),
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, quota_id)
);
CREATE INDEX quota_bindings_quota_id_idx ON quota_bindings (quota_id);

CREATE TABLE workspace_configs (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    config       TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE workspace_configs CASCADE;
DROP TABLE quota_bindings CASCADE;
DROP TABLE quotas CASCADE;
DROP TABLE nodes CASCADE;
DROP TABLE resource_groups CASCADE;
