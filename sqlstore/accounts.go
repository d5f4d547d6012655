package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"atrium"
)

// PutAccountMapping creates or replaces the mapping of m.WorkspaceID or
// m.UserID on the slurm group m.GroupID, keeping CreatedAt on replace.
// ENOTFOUND for an unknown group, workspace or user; EINVALID for a group of
// another backend or when not exactly one of WorkspaceID and UserID is set.
func (db *DB) PutAccountMapping(ctx context.Context, m *atrium.AccountMapping) error {
	if (m.WorkspaceID == "") == (m.UserID == "") {
		return atrium.FieldErrorf("workspaceId", "exactly one of workspaceId and userId must be set")
	}
	if m.UnixAccount == "" {
		return atrium.FieldErrorf("unixAccount", "is required")
	}
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Locking the group serializes the mappings of one group and keeps it
	// from being deleted before the mapping lands.
	g, err := findResourceGroupByID(ctx, tx, m.GroupID, true)
	if err != nil {
		return err
	}
	if g.Backend != atrium.BackendSlurm {
		return atrium.FieldErrorf("resourceGroupId", "resource group %s is a %s group; only slurm groups run jobs as mapped Unix accounts", g.ID, g.Backend)
	}
	col, subject, wsID := "user_id", m.UserID, ""
	if m.WorkspaceID != "" {
		col, subject, wsID = "workspace_id", m.WorkspaceID, m.WorkspaceID
		if _, err := lockWorkspace(ctx, tx, m.WorkspaceID); err != nil {
			return err
		}
	} else if _, err := findUserByID(ctx, tx, m.UserID); err != nil {
		return err
	}
	var created time.Time
	err = tx.queryRow(ctx, "SELECT created_at FROM account_mappings WHERE group_id = ? AND "+col+" = ?"+tx.d.forUpdate,
		m.GroupID, subject).Scan(timeCol{&created})
	switch {
	case isNoRows(err):
		m.CreatedAt, m.UpdatedAt = tx.now, tx.now
		if _, err := tx.exec(ctx, `
			INSERT INTO account_mappings (group_id, workspace_id, user_id, unix_account, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			m.GroupID, nullString(m.WorkspaceID), nullString(m.UserID), m.UnixAccount,
			tx.d.timeArg(m.CreatedAt), tx.d.timeArg(m.UpdatedAt)); err != nil {
			return fmt.Errorf("insert account mapping: %w", err)
		}
	case err != nil:
		return fmt.Errorf("find account mapping: %w", err)
	default:
		m.CreatedAt, m.UpdatedAt = created, tx.now
		if _, err := tx.exec(ctx, "UPDATE account_mappings SET unix_account = ?, updated_at = ? WHERE group_id = ? AND "+col+" = ?",
			m.UnixAccount, tx.d.timeArg(m.UpdatedAt), m.GroupID, subject); err != nil {
			return fmt.Errorf("update account mapping: %w", err)
		}
	}
	if err := tx.recordAudit(ctx, wsID, accountTarget(m.GroupID, m.WorkspaceID, m.UserID)); err != nil {
		return err
	}
	return tx.Commit()
}

// DeleteAccountMapping removes the mapping of workspaceID or userID (one is
// set) on a group; ENOTFOUND if there is none.
func (db *DB) DeleteAccountMapping(ctx context.Context, groupID, workspaceID, userID string) error {
	if (workspaceID == "") == (userID == "") {
		return atrium.FieldErrorf("workspaceId", "exactly one of workspaceId and userId must be set")
	}
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	col, subject, what := "user_id", userID, "user "+userID
	if workspaceID != "" {
		col, subject, what = "workspace_id", workspaceID, "workspace "+workspaceID
	}
	res, err := tx.exec(ctx, "DELETE FROM account_mappings WHERE group_id = ? AND "+col+" = ?", groupID, subject)
	if err != nil {
		return fmt.Errorf("delete account mapping: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete account mapping: %w", err)
	} else if n == 0 {
		return atrium.Errorf(atrium.ENOTFOUND, "resource group %q maps no Unix account for %s", groupID, what)
	}
	if err := tx.recordAudit(ctx, workspaceID, accountTarget(groupID, workspaceID, userID)); err != nil {
		return err
	}
	return tx.Commit()
}

// FindAccountMappings lists a group's mappings, workspaces first, then
// users, each by id; ForWorkspace and ForUser keep only those two.
func (db *DB) FindAccountMappings(ctx context.Context, f atrium.AccountMappingFilter) ([]*atrium.AccountMapping, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	cond, args := "group_id = ?", []any{f.GroupID}
	if f.ForWorkspace != "" || f.ForUser != "" {
		cond += " AND (workspace_id = ? OR user_id = ?)"
		args = append(args, f.ForWorkspace, f.ForUser)
	}
	rows, err := tx.query(ctx, `
		SELECT group_id, workspace_id, user_id, unix_account, created_at, updated_at
		FROM account_mappings WHERE `+cond+`
		ORDER BY CASE WHEN workspace_id IS NULL THEN 1 ELSE 0 END, COALESCE(workspace_id, ''), COALESCE(user_id, '')`, args...)
	if err != nil {
		return nil, fmt.Errorf("find account mappings: %w", err)
	}
	defer rows.Close()
	out := []*atrium.AccountMapping{}
	for rows.Next() {
		var m atrium.AccountMapping
		var ws, user sql.NullString
		if err := rows.Scan(&m.GroupID, &ws, &user, &m.UnixAccount, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("scan account mapping: %w", err)
		}
		m.WorkspaceID, m.UserID = ws.String, user.String
		out = append(out, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find account mappings: %w", err)
	}
	return out, nil
}

// accountTarget names a mapping in the operation log.
func accountTarget(groupID, workspaceID, userID string) string {
	if workspaceID != "" {
		return groupID + "/accounts/workspaces/" + workspaceID
	}
	return groupID + "/accounts/users/" + userID
}

// nullString stores "" as NULL.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
