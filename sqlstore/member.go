package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"atrium"
)

// AddMembers adds users with roles, all or none. ENOTFOUND for an unknown
// workspace or user id, ECONFLICT if one is already a member, EINVALID for an
// empty or unknown role or a user named twice.
func (db *DB) AddMembers(ctx context.Context, workspaceID string, ms []atrium.MemberParams) ([]*atrium.Member, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	out, err := addMembers(ctx, tx, workspaceID, ms)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(out))
	for i, m := range out {
		ids[i] = m.ID
	}
	if err := tx.recordAudit(ctx, workspaceID, strings.Join(ids, ",")); err != nil {
		return nil, err
	}
	return out, tx.Commit()
}

// FindMemberByID returns ENOTFOUND if absent.
func (db *DB) FindMemberByID(ctx context.Context, workspaceID, memberID string) (*atrium.Member, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findMemberByID(ctx, tx, workspaceID, memberID)
}

// FindMemberByUser returns ENOTFOUND if the user is not a member.
func (db *DB) FindMemberByUser(ctx context.Context, workspaceID, userID string) (*atrium.Member, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ms, _, err := queryMembers(ctx, tx, atrium.MemberFilter{WorkspaceID: workspaceID, UserID: &userID}, "", false)
	if err != nil {
		return nil, err
	} else if len(ms) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "user %q is not a member of workspace %q", userID, workspaceID)
	}
	return ms[0], nil
}

// FindMembers returns a page ordered by user name and the total count.
func (db *DB) FindMembers(ctx context.Context, f atrium.MemberFilter) ([]*atrium.Member, int, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findMembers(ctx, tx, f)
}

// DeleteMember removes a member; ENOTFOUND if absent, ECONFLICT if it is the
// last WorkspaceOwner.
func (db *DB) DeleteMember(ctx context.Context, workspaceID, memberID string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := deleteMember(ctx, tx, workspaceID, memberID); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, workspaceID, memberID); err != nil {
		return err
	}
	return tx.Commit()
}

// AddMemberRole grants a role (idempotent); ENOTFOUND if the member is
// absent, EINVALID for an unknown role.
func (db *DB) AddMemberRole(ctx context.Context, workspaceID, memberID, role string) (*atrium.Member, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	m, err := addMemberRole(ctx, tx, workspaceID, memberID, role)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, workspaceID, memberID); err != nil {
		return nil, err
	}
	return m, tx.Commit()
}

// RemoveMemberRole revokes a role. ENOTFOUND if the member is absent or does
// not hold the role; ECONFLICT when it would leave the workspace without an
// owner or the member without any role.
func (db *DB) RemoveMemberRole(ctx context.Context, workspaceID, memberID, role string) (*atrium.Member, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	m, err := removeMemberRole(ctx, tx, workspaceID, memberID, role)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, workspaceID, memberID); err != nil {
		return nil, err
	}
	return m, tx.Commit()
}

func addMembers(ctx context.Context, tx *txn, workspaceID string, ms []atrium.MemberParams) ([]*atrium.Member, error) {
	if _, err := lockWorkspace(ctx, tx, workspaceID); err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, atrium.FieldErrorf("members", "must name at least one user")
	}
	// Check every entry before writing anything, so the first error reported
	// is about the request rather than the database.
	seen := map[string]bool{}
	for i, p := range ms {
		if p.UserID == "" {
			return nil, atrium.FieldErrorf(fmt.Sprintf("members[%d].userId", i), "is required")
		}
		if seen[p.UserID] {
			return nil, atrium.FieldErrorf(fmt.Sprintf("members[%d].userId", i), "user %q is named more than once", p.UserID)
		}
		seen[p.UserID] = true
		if len(p.Roles) == 0 {
			return nil, atrium.FieldErrorf(fmt.Sprintf("members[%d].roles", i), "must name at least one role")
		}
		for j, r := range p.Roles {
			if err := checkRole(ctx, tx, workspaceID, r, fmt.Sprintf("members[%d].roles[%d]", i, j)); err != nil {
				return nil, err
			}
		}
	}
	users := make([]*atrium.User, len(ms))
	for i, p := range ms {
		u, err := findUserByID(ctx, tx, p.UserID)
		if err != nil {
			return nil, err
		}
		users[i] = u
		n, err := tx.count(ctx, "SELECT count(*) FROM members WHERE workspace_id = ? AND user_id = ?", workspaceID, p.UserID)
		if err != nil {
			return nil, fmt.Errorf("check membership: %w", err)
		} else if n > 0 {
			return nil, atrium.Errorf(atrium.ECONFLICT, "user %q is already a member of workspace %q", p.UserID, workspaceID)
		}
	}
	out := make([]*atrium.Member, 0, len(ms))
	for i, p := range ms {
		m, err := insertMember(ctx, tx, workspaceID, users[i], p.Roles)
		if err != nil {
			return nil, err
		}
		if err := insertMemberEvent(ctx, tx, workspaceID, m, memberAdded, ""); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// checkRole returns EINVALID naming field unless role is a built-in role or a
// custom role of the workspace.
func checkRole(ctx context.Context, tx *txn, workspaceID, role, field string) error {
	if atrium.IsBuiltinRole(role) {
		return nil
	}
	n, err := tx.count(ctx, "SELECT count(*) FROM roles WHERE workspace_id = ? AND name = ?", workspaceID, role)
	if err != nil {
		return fmt.Errorf("check role: %w", err)
	} else if n == 0 {
		return atrium.FieldErrorf(field, "unknown role %q: not a built-in role nor a custom role of this workspace", role)
	}
	return nil
}

// insertMember writes a member and its roles (duplicates dropped).
func insertMember(ctx context.Context, tx *txn, workspaceID string, u *atrium.User, roles []string) (*atrium.Member, error) {
	m := &atrium.Member{
		ID:          atrium.NewID(atrium.PrefixMember),
		WorkspaceID: workspaceID,
		UserID:      u.ID,
		UserName:    u.Name,
		DisplayName: u.DisplayName,
		CreatedAt:   tx.now,
	}
	_, err := tx.exec(ctx, "INSERT INTO members (id, workspace_id, user_id, created_at) VALUES (?, ?, ?, ?)",
		m.ID, workspaceID, u.ID, tx.d.timeArg(m.CreatedAt))
	if tx.d.uniqueViolation(err) {
		return nil, atrium.Errorf(atrium.ECONFLICT, "user %q is already a member of workspace %q", u.ID, workspaceID)
	} else if err != nil {
		return nil, fmt.Errorf("insert member: %w", err)
	}
	for _, r := range roles {
		if slices.Contains(m.Roles, r) {
			continue
		}
		if _, err := tx.exec(ctx, "INSERT INTO member_roles (member_id, role) VALUES (?, ?)", m.ID, r); err != nil {
			return nil, fmt.Errorf("insert member role: %w", err)
		}
		m.Roles = append(m.Roles, r)
	}
	sortRoles(m.Roles)
	return m, nil
}

func findMemberByID(ctx context.Context, tx *txn, workspaceID, memberID string) (*atrium.Member, error) {
	ms, _, err := queryMembers(ctx, tx, atrium.MemberFilter{WorkspaceID: workspaceID}, memberID, false)
	if err != nil {
		return nil, err
	} else if len(ms) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "member %q not found in workspace %q", memberID, workspaceID)
	}
	return ms[0], nil
}

func findMembers(ctx context.Context, tx *txn, f atrium.MemberFilter) ([]*atrium.Member, int, error) {
	return queryMembers(ctx, tx, f, "", true)
}

// queryMembers returns a page of members matching f (and memberID, if not
// empty) ordered by user name, with their roles, and, if count is set, the
// total; single-member lookups skip the count.
func queryMembers(ctx context.Context, tx *txn, f atrium.MemberFilter, memberID string, count bool) ([]*atrium.Member, int, error) {
	where, args := []string{"1 = 1"}, []any{}
	if f.WorkspaceID != "" {
		where, args = append(where, "m.workspace_id = ?"), append(args, f.WorkspaceID)
	}
	if memberID != "" {
		where, args = append(where, "m.id = ?"), append(args, memberID)
	}
	if f.UserID != nil {
		where, args = append(where, "m.user_id = ?"), append(args, *f.UserID)
	}
	if f.Role != "" {
		where = append(where, "EXISTS (SELECT 1 FROM member_roles r WHERE r.member_id = m.id AND r.role = ?)")
		args = append(args, f.Role)
	}
	if f.NameLike != "" {
		where = append(where, `(lower(u.name) LIKE lower(?) ESCAPE '\' OR lower(u.display_name) LIKE lower(?) ESCAPE '\')`)
		args = append(args, likeArg(f.NameLike), likeArg(f.NameLike))
	}
	from := " FROM members m JOIN users u ON u.id = m.user_id WHERE " + strings.Join(where, " AND ")

	n := 0
	if count {
		var err error
		if n, err = tx.count(ctx, "SELECT count(*)"+from, args...); err != nil {
			return nil, 0, fmt.Errorf("count members: %w", err)
		}
	}
	rows, err := tx.query(ctx, "SELECT m.id, m.workspace_id, m.user_id, u.name, u.display_name, m.created_at"+from+
		" ORDER BY u.name"+tx.d.collate+", m.id"+tx.d.limitOffset(f.Limit, f.Offset), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find members: %w", err)
	}
	defer rows.Close()
	ms := []*atrium.Member{}
	byID := map[string]*atrium.Member{}
	for rows.Next() {
		m := &atrium.Member{Roles: []string{}}
		if err := rows.Scan(&m.ID, &m.WorkspaceID, &m.UserID, &m.UserName, &m.DisplayName, timeCol{&m.CreatedAt}); err != nil {
			return nil, 0, fmt.Errorf("scan member: %w", err)
		}
		ms = append(ms, m)
		byID[m.ID] = m
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("find members: %w", err)
	}
	rows.Close()
	if len(ms) == 0 {
		return ms, n, nil
	}

	ids := make([]any, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	rows, err = tx.query(ctx, "SELECT member_id, role FROM member_roles WHERE member_id IN ("+placeholders(len(ids))+")", ids...)
	if err != nil {
		return nil, 0, fmt.Errorf("find member roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, role string
		if err := rows.Scan(&id, &role); err != nil {
			return nil, 0, fmt.Errorf("scan member role: %w", err)
		}
		byID[id].Roles = append(byID[id].Roles, role)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("find member roles: %w", err)
	}
	for _, m := range ms {
		sortRoles(m.Roles)
	}
	return ms, n, nil
}

// sortRoles orders roles as atrium.BuiltinRoles does, then custom roles by name.
func sortRoles(roles []string) {
	rank := func(r string) int {
		if i := slices.Index(atrium.BuiltinRoles, r); i >= 0 {
			return i
		}
		return len(atrium.BuiltinRoles)
	}
	slices.SortFunc(roles, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
}

// countOwners counts the workspace's members holding WorkspaceOwner.
func countOwners(ctx context.Context, tx *txn, workspaceID string) (int, error) {
	n, err := tx.count(ctx, `
		SELECT count(*) FROM member_roles r JOIN members m ON m.id = r.member_id
		WHERE m.workspace_id = ? AND r.role = ?`, workspaceID, atrium.RoleWorkspaceOwner)
	if err != nil {
		return 0, fmt.Errorf("count owners: %w", err)
	}
	return n, nil
}

func lastOwnerError(workspaceID string) error {
	return atrium.Errorf(atrium.ECONFLICT,
		"workspace %q must keep at least one WorkspaceOwner: this member is the last one; make another member an owner first", workspaceID)
}

func deleteMember(ctx context.Context, tx *txn, workspaceID, memberID string) error {
	if _, err := lockWorkspace(ctx, tx, workspaceID); err != nil {
		return err
	}
	m, err := findMemberByID(ctx, tx, workspaceID, memberID)
	if err != nil {
		return err
	}
	if m.HasRole(atrium.RoleWorkspaceOwner) {
		if n, err := countOwners(ctx, tx, workspaceID); err != nil {
			return err
		} else if n <= 1 {
			return lastOwnerError(workspaceID)
		}
	}
	if _, err := tx.exec(ctx, "DELETE FROM members WHERE id = ?", memberID); err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	return insertMemberEvent(ctx, tx, workspaceID, m, memberRemoved, "")
}

func addMemberRole(ctx context.Context, tx *txn, workspaceID, memberID, role string) (*atrium.Member, error) {
	if _, err := lockWorkspace(ctx, tx, workspaceID); err != nil {
		return nil, err
	}
	m, err := findMemberByID(ctx, tx, workspaceID, memberID)
	if err != nil {
		return nil, err
	}
	if err := checkRole(ctx, tx, workspaceID, role, "role"); err != nil {
		return nil, err
	}
	if m.HasRole(role) {
		return m, nil
	}
	if _, err := tx.exec(ctx, "INSERT INTO member_roles (member_id, role) VALUES (?, ?)", memberID, role); err != nil {
		return nil, fmt.Errorf("insert member role: %w", err)
	}
	m.Roles = append(m.Roles, role)
	sortRoles(m.Roles)
	return m, insertMemberEvent(ctx, tx, workspaceID, m, memberRoleAdded, role)
}

func removeMemberRole(ctx context.Context, tx *txn, workspaceID, memberID, role string) (*atrium.Member, error) {
	if _, err := lockWorkspace(ctx, tx, workspaceID); err != nil {
		return nil, err
	}
	m, err := findMemberByID(ctx, tx, workspaceID, memberID)
	if err != nil {
		return nil, err
	}
	if !m.HasRole(role) {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "member %q does not hold role %q", memberID, role)
	}
	if role == atrium.RoleWorkspaceOwner {
		if n, err := countOwners(ctx, tx, workspaceID); err != nil {
			return nil, err
		} else if n <= 1 {
			return nil, lastOwnerError(workspaceID)
		}
	}
	if len(m.Roles) == 1 {
		return nil, atrium.Errorf(atrium.ECONFLICT,
			"cannot remove role %q: a member must keep at least one role; remove the member instead", role)
	}
	if _, err := tx.exec(ctx, "DELETE FROM member_roles WHERE member_id = ? AND role = ?", memberID, role); err != nil {
		return nil, fmt.Errorf("delete member role: %w", err)
	}
	m.Roles = slices.DeleteFunc(m.Roles, func(r string) bool { return r == role })
	return m, insertMemberEvent(ctx, tx, workspaceID, m, memberRoleRemoved, role)
}
