-- Leases: which replica runs the scheduling loop (and the other
-- single-writer services). generation grows with every change of holder and
-- fences the holder's writes; expires_at is Unix milliseconds so both
-- engines compare it the same way.

-- +goose Up
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    generation BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
