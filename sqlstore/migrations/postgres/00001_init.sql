-- Atrium schema for PostgreSQL. Timestamps are TIMESTAMPTZ (microsecond
-- precision, like the SQLite text form); lists are JSON text so both engines
-- share one store implementation.

-- +goose Up
CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    display_name         TEXT NOT NULL DEFAULT '',
    email                TEXT NOT NULL DEFAULT '',
    password_hash        TEXT NOT NULL DEFAULT '',
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    platform_roles       TEXT NOT NULL DEFAULT '[]',
    default_workspace_id TEXT NOT NULL DEFAULT '',
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_name_key ON users (name);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    hash         TEXT NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX tokens_hash_key ON tokens (hash);
CREATE INDEX tokens_user_id_idx ON tokens (user_id, created_at);

CREATE TABLE workspaces (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    description  TEXT NOT NULL DEFAULT '',
    env_types    TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL,
    creator      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX workspaces_name_key ON workspaces (name);
CREATE INDEX workspaces_created_at_idx ON workspaces (created_at);

CREATE TABLE members (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX members_workspace_user_key ON members (workspace_id, user_id);
CREATE INDEX members_user_id_idx ON members (user_id);

CREATE TABLE member_roles (
    member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    PRIMARY KEY (member_id, role)
);
CREATE INDEX member_roles_role_idx ON member_roles (role, member_id);

CREATE TABLE roles (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    permissions  TEXT NOT NULL DEFAULT '[]',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

-- No foreign keys: the log outlives the workspaces and users it names.
CREATE TABLE operation_logs (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL DEFAULT '',
    actor_id     TEXT NOT NULL DEFAULT '',
    actor_name   TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL DEFAULT '',
    target       TEXT NOT NULL DEFAULT '',
    result       TEXT NOT NULL DEFAULT '',
    status_code  INTEGER NOT NULL DEFAULT 0,
    detail       TEXT NOT NULL DEFAULT '',
    request_id   TEXT NOT NULL DEFAULT '',
    time         TIMESTAMPTZ NOT NULL
);
CREATE INDEX operation_logs_time_idx ON operation_logs (time, id);
CREATE INDEX operation_logs_workspace_idx ON operation_logs (workspace_id, time, id);
CREATE INDEX operation_logs_actor_idx ON operation_logs (actor_id, time, id);

-- +goose Down
DROP TABLE operation_logs CASCADE;
DROP TABLE roles CASCADE;
DROP TABLE member_roles CASCADE;
DROP TABLE members CASCADE;
DROP TABLE workspaces CASCADE;
DROP TABLE tokens CASCADE;
DROP TABLE users CASCADE;
