-- Unix accounts of slurm resource groups: the jobs of a workspace, or of
-- one user in every workspace, run as a mapped account; the group's default
-- account covers the rest. A user's mapping wins over the workspace's.
-- Exactly one of workspace_id and user_id is set (NULLs are distinct in the
-- unique indexes). Root is refused by the API, never stored.

-- +goose Up
ALTER TABLE resource_groups ADD COLUMN default_unix_account TEXT NOT NULL DEFAULT '';

CREATE TABLE account_mappings (
    group_id     TEXT NOT NULL REFERENCES resource_groups (id) ON DELETE CASCADE,
    workspace_id TEXT REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT REFERENCES users (id) ON DELETE CASCADE,
    unix_account TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    CHECK ((workspace_id IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX account_mappings_workspace_key ON account_mappings (group_id, workspace_id);
CREATE UNIQUE INDEX account_mappings_user_key ON account_mappings (group_id, user_id);

-- +goose Down
DROP TABLE account_mappings;
ALTER TABLE resource_groups DROP COLUMN default_unix_account;
