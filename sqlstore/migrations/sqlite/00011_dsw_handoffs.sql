-- One-time handoffs from the console (or the CLI) to a DSW instance on the
-- DSW origin. Only the token's SHA-256 is kept; redeeming deletes the row,
-- so a token works once whichever replica redeems it. expires_at is Unix
-- milliseconds so both engines compare it the same way.

-- +goose Up
CREATE TABLE dsw_handoffs (
    token_hash   TEXT PRIMARY KEY,
    instance_id  TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX dsw_handoffs_expires_at ON dsw_handoffs (expires_at);

-- +goose Down
DROP TABLE dsw_handoffs;
