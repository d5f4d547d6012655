package sqlstore

import (
	"context"
	"fmt"

	"atrium"
)

// CreateRole inserts a custom role, setting its timestamps. EINVALID for a
// bad or built-in name, ENOTFOUND for an unknown workspace, ECONFLICT if the
// name is taken.
func (db *DB) CreateRole(ctx context.Context, r *atrium.Role) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createRole(ctx, tx, r); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, r.WorkspaceID, "role/"+r.Name); err != nil {
		return err
	}
	return tx.Commit()
}

// FindRoles lists the workspace's custom roles by name.
func (db *DB) FindRoles(ctx context.Context, workspaceID string) ([]*atrium.Role, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findRoles(ctx, tx, workspaceID, "")
}

// FindRole returns ENOTFOUND if absent.
func (db *DB) FindRole(ctx context.Context, workspaceID, name string) (*atrium.Role, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findRole(ctx, tx, workspaceID, name)
}

// UpdateRole replaces description and permissions; ENOTFOUND if absent.
func (db *DB) UpdateRole(ctx context.Context, workspaceID, name string, upd atrium.RoleUpdate) (*atrium.Role, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, err := updateRole(ctx, tx, workspaceID, name, upd)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, workspaceID, "role/"+name); err != nil {
		return nil, err
	}
	return r, tx.Commit()
}

// DeleteRole removes a custom role; ENOTFOUND if absent, ECONFLICT while
// members hold it.
func (db *DB) DeleteRole(ctx context.Context, workspaceID, name string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := deleteRole(ctx, tx, workspaceID, name); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, workspaceID, "role/"+name); err != nil {
		return err
	}
	return tx.Commit()
}

func createRole(ctx context.Context, tx *txn, r *atrium.Role) error {
	if err := atrium.ValidateRoleName(r.Name); err != nil {
		return err
	}
	if _, err := lockWorkspace(ctx, tx, r.WorkspaceID); err != nil {
		return err
	}
	if r.Permissions == nil {
		r.Permissions = []string{}
	}
	r.CreatedAt, r.UpdatedAt = tx.now, tx.now
	_, err := tx.exec(ctx, `
		INSERT INTO roles (workspace_id, name, description, permissions, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		r.WorkspaceID, r.Name, r.Description, listArg(r.Permissions), tx.d.timeArg(r.CreatedAt), tx.d.timeArg(r.UpdatedAt))
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "role %q already exists in workspace %q", r.Name, r.WorkspaceID)
	} else if err != nil {
		return fmt.Errorf("insert role: %w", err)
	}
	return nil
}

func findRole(ctx context.Context, tx *txn, workspaceID, name string) (*atrium.Role, error) {
	rs, err := findRoles(ctx, tx, workspaceID, name)
	if err != nil {
		return nil, err
	} else if len(rs) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "role %q not found in workspace %q", name, workspaceID)
	}
	return rs[0], nil
}

// findRoles lists the workspace's custom roles by name, only the one named
// name if it is not empty.
func findRoles(ctx context.Context, tx *txn, workspaceID, name string) ([]*atrium.Role, error) {
	q, args := "workspace_id = ?", []any{workspaceID}
	if name != "" {
		q, args = q+" AND name = ?", append(args, name)
	}
	rows, err := tx.query(ctx, `
		SELECT workspace_id, name, description, permissions, created_at, updated_at
		FROM roles WHERE `+q+` ORDER BY name`+tx.d.collate, args...)
	if err != nil {
		return nil, fmt.Errorf("find roles: %w", err)
	}
	defer rows.Close()
	rs := []*atrium.Role{}
	for rows.Next() {
		var r atrium.Role
		if err := rows.Scan(&r.WorkspaceID, &r.Name, &r.Description, listCol{&r.Permissions},
			timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("scan role: %w", err)
		}
		rs = append(rs, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find roles: %w", err)
	}
	return rs, nil
}

func updateRole(ctx context.Context, tx *txn, workspaceID, name string, upd atrium.RoleUpdate) (*atrium.Role, error) {
	if _, err := lockWorkspace(ctx, tx, workspaceID); err != nil {
		return nil, err
	}
	r, err := findRole(ctx, tx, workspaceID, name)
	if err != nil {
		return nil, err
	}
	if upd.Description != nil {
		r.Description = *upd.Description
	}
	if upd.Permissions != nil {
		r.Permissions = upd.Permissions
	}
	r.UpdatedAt = tx.now
	if _, err := tx.exec(ctx, "UPDATE roles SET description = ?, permissions = ?, updated_at = ? WHERE workspace_id = ? AND name = ?",
		r.Description, listArg(r.Permissions), tx.d.timeArg(r.UpdatedAt), workspaceID, name); err != nil {
		return nil, fmt.Errorf("update role: %w", err)
	}
	return r, nil
}

func deleteRole(ctx context.Context, tx *txn, workspaceID, name string) error {
	if _, err := lockWorkspace(ctx, tx, workspaceID); err != nil {
		return err
	}
	if _, err := findRole(ctx, tx, workspaceID, name); err != nil {
		return err
	}
	n, err := tx.count(ctx, `
		SELECT count(*) FROM member_roles r JOIN members m ON m.id = r.member_id
		WHERE m.workspace_id = ? AND r.role = ?`, workspaceID, name)
	if err != nil {
		return fmt.Errorf("count role holders: %w", err)
	} else if n > 0 {
		return atrium.Errorf(atrium.ECONFLICT, "role %q is still held by %d member(s); revoke it from them before deleting it", name, n)
	}
	if _, err := tx.exec(ctx, "DELETE FROM roles WHERE workspace_id = ? AND name = ?", workspaceID, name); err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	return nil
}
