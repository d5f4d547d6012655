package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"atrium"
)

// CreateWorkspace inserts w and makes its creator a WorkspaceOwner member in
// one transaction, setting ID (when empty), Status (when empty) and
// timestamps. ECONFLICT if the name is taken, ENOTFOUND if the creator is not
// a user.
func (db *DB) CreateWorkspace(ctx context.Context, w *atrium.Workspace) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createWorkspace(ctx, tx, w); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, w.ID, w.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// FindWorkspaceByID returns ENOTFOUND if there is no such workspace.
func (db *DB) FindWorkspaceByID(ctx context.Context, id string) (*atrium.Workspace, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findWorkspaceByID(ctx, tx, id)
}

// FindWorkspaces returns a page and the total count. EINVALID for an unknown
// SortBy.
func (db *DB) FindWorkspaces(ctx context.Context, f atrium.WorkspaceFilter) ([]*atrium.Workspace, int, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findWorkspaces(ctx, tx, f)
}

// UpdateWorkspace returns ENOTFOUND if there is no such workspace.
func (db *DB) UpdateWorkspace(ctx context.Context, id string, upd atrium.WorkspaceUpdate) (*atrium.Workspace, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	w, err := updateWorkspace(ctx, tx, id, upd)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, w.ID, w.ID); err != nil {
		return nil, err
	}
	return w, tx.Commit()
}

// DeleteWorkspace removes the workspace, its members and custom roles (by
// ON DELETE CASCADE); operation logs are kept. ENOTFOUND if absent.
func (db *DB) DeleteWorkspace(ctx context.Context, id string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := lockWorkspace(ctx, tx, id); err != nil {
		return err
	}
	// Deleting would orphan running processes: they must end first.
	// Queued jobs have none and go with the workspace.
	if n, err := countJobs(ctx, tx, runningStatuses, "workspace_id = ?", id); err != nil {
		return err
	} else if n > 0 {
		return atrium.Errorf(atrium.ECONFLICT, "workspace %s has %d running jobs; stop them before deleting it", id, n)
	}
	if _, err := tx.exec(ctx, "DELETE FROM workspaces WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete workspace: %w", err)
	}
	if err := tx.recordAudit(ctx, id, id); err != nil {
		return err
	}
	return tx.Commit()
}

func createWorkspace(ctx context.Context, tx *txn, w *atrium.Workspace) error {
	if w.Creator == "" {
		return atrium.FieldErrorf("creator", "is required")
	}
	creator, err := findUserByID(ctx, tx, w.Creator)
	if err != nil {
		return err
	}
	if w.ID == "" {
		w.ID = atrium.NewID(atrium.PrefixWorkspace)
	}
	if w.Status == "" {
		w.Status = atrium.WorkspaceEnabled
	}
	if w.EnvTypes == nil {
		w.EnvTypes = []string{}
	}
	w.CreatedAt, w.UpdatedAt = tx.now, tx.now
	_, err = tx.exec(ctx, `
		INSERT INTO workspaces (id, name, display_name, description, env_types, status, creator, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.Name, w.DisplayName, w.Description, listArg(w.EnvTypes), w.Status, w.Creator,
		tx.d.timeArg(w.CreatedAt), tx.d.timeArg(w.UpdatedAt))
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "workspace name %q is already taken", w.Name)
	} else if err != nil {
		return fmt.Errorf("insert workspace: %w", err)
	}
	if _, err := insertMember(ctx, tx, w.ID, creator, []string{atrium.RoleWorkspaceOwner}); err != nil {
		return err
	}
	return nil
}

func findWorkspaceByID(ctx context.Context, tx *txn, id string) (*atrium.Workspace, error) {
	ws, _, err := queryWorkspaces(ctx, tx, atrium.WorkspaceFilter{IDs: []string{id}, Limit: 1}, false)
	if err != nil {
		return nil, err
	} else if len(ws) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "workspace %q not found", id)
	}
	return ws[0], nil
}

// lockWorkspace checks that the workspace exists and, on PostgreSQL, locks its
// row until commit. Every change to a workspace's members or roles takes this
// lock first, so rules that read several rows (the last owner, a role still
// held) cannot be broken by two concurrent calls each seeing the other's row.
func lockWorkspace(ctx context.Context, tx *txn, id string) (string, error) {
	var name string
	err := tx.queryRow(ctx, "SELECT name FROM workspaces WHERE id = ?"+tx.d.forUpdate, id).Scan(&name)
	if isNoRows(err) {
		return "", atrium.Errorf(atrium.ENOTFOUND, "workspace %q not found", id)
	} else if err != nil {
		return "", fmt.Errorf("lock workspace: %w", err)
	}
	return name, nil
}

const workspaceColumns = `id, name, display_name, description, env_types, status, creator, created_at, updated_at`

func findWorkspaces(ctx context.Context, tx *txn, f atrium.WorkspaceFilter) ([]*atrium.Workspace, int, error) {
	return queryWorkspaces(ctx, tx, f, true)
}

// queryWorkspaces returns a page of workspaces and, if count is set, the
// total; single-row lookups skip the count.
func queryWorkspaces(ctx context.Context, tx *txn, f atrium.WorkspaceFilter, count bool) ([]*atrium.Workspace, int, error) {
	order := "name" + tx.d.collate
	switch f.SortBy {
	case "", "name":
	case "createdAt":
		order = "created_at"
	default:
		return nil, 0, atrium.FieldErrorf("sortBy", `must be "name" or "createdAt"`)
	}
	dir := " ASC"
	if f.Desc {
		dir = " DESC"
	}

	where, args := []string{"1 = 1"}, []any{}
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return []*atrium.Workspace{}, 0, nil
		}
		where = append(where, "id IN ("+placeholders(len(f.IDs))+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if f.MemberID != "" {
		where = append(where, "EXISTS (SELECT 1 FROM members m WHERE m.workspace_id = workspaces.id AND m.user_id = ?)")
		args = append(args, f.MemberID)
	}
	if f.Name != nil {
		where, args = append(where, "name = ?"), append(args, *f.Name)
	}
	if f.NameLike != "" {
		where = append(where, `(lower(name) LIKE lower(?) ESCAPE '\' OR lower(display_name) LIKE lower(?) ESCAPE '\')`)
		args = append(args, likeArg(f.NameLike), likeArg(f.NameLike))
	}
	if f.Status != nil {
		where, args = append(where, "status = ?"), append(args, *f.Status)
	}
	cond := strings.Join(where, " AND ")

	n := 0
	if count {
		var err error
		if n, err = tx.count(ctx, "SELECT count(*) FROM workspaces WHERE "+cond, args...); err != nil {
			return nil, 0, fmt.Errorf("count workspaces: %w", err)
		}
	}
	rows, err := tx.query(ctx, "SELECT "+workspaceColumns+" FROM workspaces WHERE "+cond+
		" ORDER BY "+order+dir+", id"+dir+tx.d.limitOffset(f.Limit, f.Offset), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find workspaces: %w", err)
	}
	defer rows.Close()
	ws := []*atrium.Workspace{}
	for rows.Next() {
		var w atrium.Workspace
		if err := rows.Scan(&w.ID, &w.Name, &w.DisplayName, &w.Description, listCol{&w.EnvTypes},
			&w.Status, &w.Creator, timeCol{&w.CreatedAt}, timeCol{&w.UpdatedAt}); err != nil {
			return nil, 0, fmt.Errorf("scan workspace: %w", err)
		}
		ws = append(ws, &w)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("find workspaces: %w", err)
	}
	return ws, n, nil
}

func updateWorkspace(ctx context.Context, tx *txn, id string, upd atrium.WorkspaceUpdate) (*atrium.Workspace, error) {
	if _, err := lockWorkspace(ctx, tx, id); err != nil {
		return nil, err
	}
	w, err := findWorkspaceByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if v := upd.DisplayName; v != nil {
		w.DisplayName = *v
	}
	if v := upd.Description; v != nil {
		w.Description = *v
	}
	w.UpdatedAt = tx.now
	if _, err := tx.exec(ctx, "UPDATE workspaces SET display_name = ?, description = ?, updated_at = ? WHERE id = ?",
		w.DisplayName, w.Description, tx.d.timeArg(w.UpdatedAt), id); err != nil {
		return nil, fmt.Errorf("update workspace: %w", err)
	}
	return w, nil
}

// Job statuses in which processes may exist, and all unfinished ones.
var (
	runningStatuses    = []string{atrium.JobEnvPreparing, atrium.JobRunning, atrium.JobStopping, atrium.JobRestarting}
	unfinishedStatuses = append([]string{atrium.JobCreating, atrium.JobQueuing}, runningStatuses...)
)

// countJobs counts the jobs in one of statuses that match cond.
func countJobs(ctx context.Context, tx *txn, statuses []string, cond string, args ...any) (int, error) {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(statuses)), ", ")
	for _, st := range statuses {
		args = append(args, st)
	}
	n, err := tx.count(ctx, "SELECT count(*) FROM jobs WHERE "+cond+" AND status IN ("+marks+")", args...)
	if err != nil {
		return 0, fmt.Errorf("count jobs: %w", err)
	}
	return n, nil
}
