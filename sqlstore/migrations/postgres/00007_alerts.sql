-- Alert rules and their persistent delivery queue. event_types, filter and
-- targets are JSON text; targets never hold secrets: secrets is a JSON
-- array, one entry per target index, of the sealed secret (base64) or null.
-- A delivery is one event on its way to one target; the partial unique
-- index enqueues an event once per target (test sends are exempt).
-- alert_cursor is the one-row position of the rule matcher in the outbox.

-- +goose Up
CREATE TABLE alert_rules (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    owner        TEXT NOT NULL DEFAULT '',
    owner_name   TEXT NOT NULL DEFAULT '',
    event_types  TEXT NOT NULL DEFAULT '[]',
    scope        TEXT NOT NULL DEFAULT '',
    resource_id  TEXT NOT NULL DEFAULT '',
    filter       TEXT NOT NULL DEFAULT '{}',
    throttle     BIGINT NOT NULL DEFAULT 0,
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    targets      TEXT NOT NULL DEFAULT '[]',
    secrets      TEXT NOT NULL DEFAULT '[]',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    rule_id         TEXT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    workspace_id    TEXT NOT NULL DEFAULT '',
    target_index    INTEGER NOT NULL,
    target_type     TEXT NOT NULL DEFAULT '',
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    response_code   INTEGER NOT NULL DEFAULT 0,
    latency_ms      BIGINT NOT NULL DEFAULT 0,
    test            BOOLEAN NOT NULL DEFAULT FALSE,
    payload         TEXT NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ
);
CREATE UNIQUE INDEX deliveries_dedupe_idx ON deliveries (rule_id, target_index, event_id) WHERE NOT test;
CREATE INDEX deliveries_due_idx ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_rule_idx ON deliveries (rule_id, id);

CREATE TABLE alert_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO alert_cursor (id, seq) VALUES (1, 0);

-- +goose Down
DROP TABLE alert_cursor;
DROP TABLE deliveries;
DROP TABLE alert_rules;
