package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"atrium"
)

// CreateUser inserts u, setting ID (when empty) and timestamps. ECONFLICT if
// the name is taken.
func (db *DB) CreateUser(ctx context.Context, u *atrium.User) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createUser(ctx, tx, u); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, "", u.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// BootstrapAdmin creates u and tok together, only if no user exists yet, and
// reports whether it did. It writes no operation log: there is no actor yet.
func (db *DB) BootstrapAdmin(ctx context.Context, u *atrium.User, tok *atrium.Token) (bool, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if tx.d.lockUsers != "" {
		if _, err := tx.exec(ctx, tx.d.lockUsers); err != nil {
			return false, fmt.Errorf("lock users: %w", err)
		}
	}
	n, err := tx.count(ctx, "SELECT count(*) FROM users")
	if err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if err := createUser(ctx, tx, u); err != nil {
		return false, err
	}
	if tok != nil {
		tok.UserID = u.ID
		if err := createToken(ctx, tx, tok); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return true, nil
}

// FindUserByID returns ENOTFOUND if there is no such user.
func (db *DB) FindUserByID(ctx context.Context, id string) (*atrium.User, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findUserByID(ctx, tx, id)
}

// FindUserByName returns ENOTFOUND if there is no such user.
func (db *DB) FindUserByName(ctx context.Context, name string) (*atrium.User, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	us, _, err := queryUsers(ctx, tx, atrium.UserFilter{Name: &name, Limit: 1}, false)
	if err != nil {
		return nil, err
	} else if len(us) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "user %q not found", name)
	}
	return us[0], nil
}

// FindUsers returns a page of users ordered by name and the total count.
func (db *DB) FindUsers(ctx context.Context, f atrium.UserFilter) ([]*atrium.User, int, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findUsers(ctx, tx, f)
}

// UpdateUser applies upd; ENOTFOUND if there is no such user.
func (db *DB) UpdateUser(ctx context.Context, id string, upd atrium.UserUpdate) (*atrium.User, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	u, err := updateUser(ctx, tx, id, upd)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, "", u.ID); err != nil {
		return nil, err
	}
	return u, tx.Commit()
}

// CreateToken inserts tok, setting ID (when empty) and CreatedAt. ENOTFOUND
// if the user does not exist.
func (db *DB) CreateToken(ctx context.Context, tok *atrium.Token) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createToken(ctx, tx, tok); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, "", tok.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// FindTokenByHash returns the token and its user; ENOTFOUND if unknown.
func (db *DB) FindTokenByHash(ctx context.Context, hash string) (*atrium.Token, *atrium.User, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	toks, err := findTokens(ctx, tx, "hash = ?", hash)
	if err != nil {
		return nil, nil, err
	} else if len(toks) == 0 {
		return nil, nil, atrium.Errorf(atrium.ENOTFOUND, "token not found") // never echo the hash
	}
	u, err := findUserByID(ctx, tx, toks[0].UserID)
	if err != nil {
		return nil, nil, err
	}
	return toks[0], u, nil
}

// FindTokens lists a user's tokens, newest first.
func (db *DB) FindTokens(ctx context.Context, userID string) ([]*atrium.Token, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findTokens(ctx, tx, "user_id = ?", userID)
}

// TouchToken records a use of the token at the given time; ENOTFOUND if
// there is no such token. It is not audited: it is bookkeeping, not a change
// anyone asked for.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.exec(ctx, "UPDATE tokens SET last_used_at = ? WHERE id = ?", tx.d.timeArg(at), id)
	if err != nil {
		return fmt.Errorf("touch token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("touch token: %w", err)
	} else if n == 0 {
		return atrium.Errorf(atrium.ENOTFOUND, "token %q not found", id)
	}
	return tx.Commit()
}

// RevokeToken marks the user's token revoked (keeping the first revocation
// time if it already was); ENOTFOUND if the token is not theirs.
func (db *DB) RevokeToken(ctx context.Context, userID, id string) (*atrium.Token, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	toks, err := findTokens(ctx, tx, "id = ? AND user_id = ?", id, userID)
	if err != nil {
		return nil, err
	} else if len(toks) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "token %q not found", id)
	}
	tok := toks[0]
	if tok.RevokedAt == nil {
		now := tx.now
		if _, err := tx.exec(ctx, "UPDATE tokens SET revoked_at = ? WHERE id = ?", tx.d.timeArg(now), id); err != nil {
			return nil, fmt.Errorf("revoke token: %w", err)
		}
		tok.RevokedAt = &now
	}
	if err := tx.recordAudit(ctx, "", tok.ID); err != nil {
		return nil, err
	}
	return tok, tx.Commit()
}

func createUser(ctx context.Context, tx *txn, u *atrium.User) error {
	if u.ID == "" {
		u.ID = atrium.NewID(atrium.PrefixUser)
	}
	if u.PlatformRoles == nil {
		u.PlatformRoles = []string{}
	}
	u.CreatedAt, u.UpdatedAt = tx.now, tx.now
	_, err := tx.exec(ctx, `
		INSERT INTO users (id, name, display_name, email, password_hash, disabled,
			platform_roles, default_workspace_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.DisplayName, u.Email, u.PasswordHash, u.Disabled,
		listArg(u.PlatformRoles), u.DefaultWorkspaceID, tx.d.timeArg(u.CreatedAt), tx.d.timeArg(u.UpdatedAt))
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "user name %q is already taken", u.Name)
	} else if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

func findUserByID(ctx context.Context, tx *txn, id string) (*atrium.User, error) {
	us, _, err := queryUsers(ctx, tx, atrium.UserFilter{ID: &id, Limit: 1}, false)
	if err != nil {
		return nil, err
	} else if len(us) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "user %q not found", id)
	}
	return us[0], nil
}

const userColumns = `id, name, display_name, email, password_hash, disabled,
	platform_roles, default_workspace_id, created_at, updated_at`

func scanUser(s interface{ Scan(...any) error }) (*atrium.User, error) {
	var u atrium.User
	if err := s.Scan(&u.ID, &u.Name, &u.DisplayName, &u.Email, &u.PasswordHash, &u.Disabled,
		listCol{&u.PlatformRoles}, &u.DefaultWorkspaceID, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}); err != nil {
		return nil, fmt.Errorf("scan user: %w", err)
	}
	return &u, nil
}

func findUsers(ctx context.Context, tx *txn, f atrium.UserFilter) ([]*atrium.User, int, error) {
	return queryUsers(ctx, tx, f, true)
}

// queryUsers returns a page of users by name and, if count is set, the total;
// single-row lookups skip the count.
func queryUsers(ctx context.Context, tx *txn, f atrium.UserFilter, count bool) ([]*atrium.User, int, error) {
	where, args := []string{"1 = 1"}, []any{}
	if f.ID != nil {
		where, args = append(where, "id = ?"), append(args, *f.ID)
	}
	if f.Name != nil {
		where, args = append(where, "name = ?"), append(args, *f.Name)
	}
	if f.NameLike != "" {
		where = append(where, `(lower(name) LIKE lower(?) ESCAPE '\' OR lower(display_name) LIKE lower(?) ESCAPE '\')`)
		args = append(args, likeArg(f.NameLike), likeArg(f.NameLike))
	}
	cond := strings.Join(where, " AND ")

	n := 0
	if count {
		var err error
		if n, err = tx.count(ctx, "SELECT count(*) FROM users WHERE "+cond, args...); err != nil {
			return nil, 0, fmt.Errorf("count users: %w", err)
		}
	}
	rows, err := tx.query(ctx, "SELECT "+userColumns+" FROM users WHERE "+cond+
		" ORDER BY name"+tx.d.collate+", id"+tx.d.limitOffset(f.Limit, f.Offset), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find users: %w", err)
	}
	defer rows.Close()
	us := []*atrium.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, err
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("find users: %w", err)
	}
	return us, n, nil
}

func updateUser(ctx context.Context, tx *txn, id string, upd atrium.UserUpdate) (*atrium.User, error) {
	u, err := findUserByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if v := upd.DisplayName; v != nil {
		u.DisplayName = *v
	}
	if v := upd.Email; v != nil {
		u.Email = *v
	}
	if v := upd.PasswordHash; v != nil {
		u.PasswordHash = *v
	}
	if v := upd.Disabled; v != nil {
		u.Disabled = *v
	}
	if v := upd.DefaultWorkspaceID; v != nil {
		u.DefaultWorkspaceID = *v
	}
	u.UpdatedAt = tx.now
	if _, err := tx.exec(ctx, `
		UPDATE users SET display_name = ?, email = ?, password_hash = ?, disabled = ?,
			default_workspace_id = ?, updated_at = ?
		WHERE id = ?`,
		u.DisplayName, u.Email, u.PasswordHash, u.Disabled, u.DefaultWorkspaceID,
		tx.d.timeArg(u.UpdatedAt), id); err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	return u, nil
}

func createToken(ctx context.Context, tx *txn, tok *atrium.Token) error {
	if tok.UserID == "" {
		return atrium.FieldErrorf("userId", "is required")
	}
	if tok.Hash == "" {
		return atrium.FieldErrorf("hash", "is required")
	}
	if _, err := findUserByID(ctx, tx, tok.UserID); err != nil {
		return err
	}
	if tok.ID == "" {
		tok.ID = atrium.NewID(atrium.PrefixToken)
	}
	tok.CreatedAt = tx.now
	tok.ExpiresAt = normTimePtr(tok.ExpiresAt)
	tok.LastUsedAt = normTimePtr(tok.LastUsedAt)
	tok.RevokedAt = normTimePtr(tok.RevokedAt)
	_, err := tx.exec(ctx, `
		INSERT INTO tokens (id, user_id, name, hash, expires_at, last_used_at, revoked_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		tok.ID, tok.UserID, tok.Name, tok.Hash, tx.d.timePtrArg(tok.ExpiresAt),
		tx.d.timePtrArg(tok.LastUsedAt), tx.d.timePtrArg(tok.RevokedAt), tx.d.timeArg(tok.CreatedAt))
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "token %q already exists", tok.ID)
	} else if err != nil {
		return fmt.Errorf("insert token: %w", err)
	}
	return nil
}

// findTokens returns the tokens matching cond, newest first.
func findTokens(ctx context.Context, tx *txn, cond string, args ...any) ([]*atrium.Token, error) {
	rows, err := tx.query(ctx, `
		SELECT id, user_id, name, hash, expires_at, last_used_at, revoked_at, created_at
		FROM tokens WHERE `+cond+` ORDER BY created_at DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	defer rows.Close()
	toks := []*atrium.Token{}
	for rows.Next() {
		var t atrium.Token
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, nullTimeCol{&t.ExpiresAt},
			nullTimeCol{&t.LastUsedAt}, nullTimeCol{&t.RevokedAt}, timeCol{&t.CreatedAt}); err != nil {
			return nil, fmt.Errorf("scan token: %w", err)
		}
		toks = append(toks, &t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	return toks, nil
}

// isNoRows reports whether err means a single-row query found nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
