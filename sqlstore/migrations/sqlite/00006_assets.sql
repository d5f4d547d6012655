-- AI assets (datasets, models, images, code sources, algorithms), their
-- versions and the event outbox. labels and spec are JSON text; secret is
-- the caller's encrypted bytes (NULL when none); version increases with
-- every write (optimistic concurrency). latest_version names the newest
-- version ('' when none). Events carry no foreign key: the outbox keeps
-- what happened to a workspace after the workspace is gone, until it is
-- delivered.

-- +goose Up
CREATE TABLE assets (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    owner          TEXT NOT NULL DEFAULT '',
    owner_name     TEXT NOT NULL DEFAULT '',
    accessibility  TEXT NOT NULL,
    labels         TEXT NOT NULL DEFAULT '{}',
    spec           TEXT NOT NULL DEFAULT '{}',
    secret         BLOB,
    latest_version TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        INTEGER NOT NULL,
    UNIQUE (workspace_id, kind, name)
) STRICT;
CREATE INDEX assets_created_idx ON assets (workspace_id, kind, created_at, id);
CREATE INDEX assets_updated_idx ON assets (workspace_id, kind, updated_at, id);
CREATE INDEX assets_owner_idx ON assets (workspace_id, kind, owner);

-- seq numbers an asset's versions from 1 in creation order.
CREATE TABLE asset_versions (
    asset_id        TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    workspace_id    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    uri             TEXT NOT NULL DEFAULT '',
    creator         TEXT NOT NULL DEFAULT '',
    creator_name    TEXT NOT NULL DEFAULT '',
    labels          TEXT NOT NULL DEFAULT '{}',
    spec            TEXT NOT NULL DEFAULT '{}',
    approval_status TEXT NOT NULL DEFAULT '',
    approved_by     TEXT NOT NULL DEFAULT '',
    approved_at     TEXT,
    source_type     TEXT NOT NULL DEFAULT '',
    source_id       TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (asset_id, name)
) STRICT;
CREATE INDEX asset_versions_seq_idx ON asset_versions (asset_id, seq);
-- Lineage: the versions a job produced.
CREATE INDEX asset_versions_source_idx ON asset_versions (source_type, source_id);

-- seq is the outbox order; AUTOINCREMENT never reuses a delivered number.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    source       TEXT NOT NULL DEFAULT '',
    subject      TEXT NOT NULL DEFAULT '',
    time         TEXT NOT NULL,
    workspace_id TEXT NOT NULL DEFAULT '',
    data         TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX events_workspace_idx ON events (workspace_id, seq);

-- +goose Down
DROP TABLE events;
DROP TABLE asset_versions;
DROP TABLE assets;
