-- Image registries: where pods pull images from, with the credentials to
-- use. Platform-wide; host is host[:port] in lowercase, one registry per
-- host. password is sealed by the server (AES-GCM, aad = id), NULL when
-- there is none; the database alone never reveals it.

-- +goose Up
CREATE TABLE registries (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    host        TEXT NOT NULL,
    username    TEXT NOT NULL DEFAULT '',
    password    BYTEA,
    insecure    BOOLEAN NOT NULL DEFAULT FALSE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX registries_name_key ON registries (name);
CREATE UNIQUE INDEX registries_host_key ON registries (host);

-- +goose Down
DROP TABLE registries;
