-- DSW instances: when an instance was last used through its proxy (idle
-- auto-stop counts from it). NULL until first use.

-- +goose Up
ALTER TABLE jobs ADD COLUMN last_active_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE jobs DROP COLUMN last_active_at;
