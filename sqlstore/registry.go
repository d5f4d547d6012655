package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"atrium"
)

// CreateRegistry inserts r, setting its id when empty and its timestamps;
// ECONFLICT when the name or the host is taken.
func (db *DB) CreateRegistry(ctx context.Context, r *atrium.Registry) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if r.ID == "" {
		r.ID = atrium.NewID(atrium.PrefixRegistry)
	}
	r.Host = strings.ToLower(r.Host)
	r.Password = normSecret(r.Password)
	r.CreatedAt, r.UpdatedAt = tx.now, tx.now
	_, err = tx.exec(ctx, `
		INSERT INTO registries (id, name, host, username, password, insecure, description, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Name, r.Host, r.Username, secretArg(r.Password), r.Insecure, r.Description,
		tx.d.timeArg(r.CreatedAt), tx.d.timeArg(r.UpdatedAt))
	if err := registryConflict(tx, err, r); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, "", r.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// registryConflict turns a unique violation into ECONFLICT naming what is
// taken, and wraps other errors.
func registryConflict(tx *txn, err error, r *atrium.Registry) error {
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "a registry named %q or for host %q is already registered", r.Name, r.Host)
	} else if err != nil {
		return fmt.Errorf("write registry: %w", err)
	}
	return nil
}

// FindRegistryByID returns ENOTFOUND if absent.
func (db *DB) FindRegistryByID(ctx context.Context, id string) (*atrium.Registry, error) {
	return db.findRegistry(ctx, "id", id)
}

// FindRegistryByHost returns the registry of host; ENOTFOUND if none.
func (db *DB) FindRegistryByHost(ctx context.Context, host string) (*atrium.Registry, error) {
	return db.findRegistry(ctx, "host", strings.ToLower(host))
}

func (db *DB) findRegistry(ctx context.Context, col, v string) (*atrium.Registry, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findRegistry(ctx, tx, col, v, "")
}

func findRegistry(ctx context.Context, tx *txn, col, v, suffix string) (*atrium.Registry, error) {
	rs, err := queryRegistries(ctx, tx, col+" = ?", suffix, v)
	if err != nil {
		return nil, err
	} else if len(rs) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "registry %q not found", v)
	}
	return rs[0], nil
}

// FindRegistries lists every registry by name.
func (db *DB) FindRegistries(ctx context.Context) ([]*atrium.Registry, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return queryRegistries(ctx, tx, "1 = 1", "")
}

func queryRegistries(ctx context.Context, tx *txn, cond, suffix string, args ...any) ([]*atrium.Registry, error) {
	rows, err := tx.query(ctx, `
		SELECT id, name, host, username, password, insecure, description, created_at, updated_at
		FROM registries WHERE `+cond+` ORDER BY name`+tx.d.collate+`, id`+suffix, args...)
	if err != nil {
		return nil, fmt.Errorf("find registries: %w", err)
	}
	defer rows.Close()
	out := []*atrium.Registry{}
	for rows.Next() {
		var r atrium.Registry
		var pw []byte
		if err := rows.Scan(&r.ID, &r.Name, &r.Host, &r.Username, &pw, &r.Insecure, &r.Description,
			timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("scan registry: %w", err)
		}
		r.Password = normSecret(pw)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find registries: %w", err)
	}
	return out, nil
}

// UpdateRegistry applies upd; ENOTFOUND if absent, ECONFLICT when the new
// name or host is taken.
func (db *DB) UpdateRegistry(ctx context.Context, id string, upd atrium.RegistryUpdate) (*atrium.Registry, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, err := findRegistry(ctx, tx, "id", id, tx.d.forUpdate)
	if err != nil {
		return nil, err
	}
	setIf(&r.Name, upd.Name)
	setIf(&r.Username, upd.Username)
	setIf(&r.Insecure, upd.Insecure)
	setIf(&r.Description, upd.Description)
	if upd.Host != nil {
		r.Host = strings.ToLower(*upd.Host)
	}
	if upd.Password != nil {
		r.Password = normSecret(*upd.Password)
	}
	r.UpdatedAt = tx.now
	_, err = tx.exec(ctx, `
		UPDATE registries SET name = ?, host = ?, username = ?, password = ?, insecure = ?, description = ?, updated_at = ?
		WHERE id = ?`,
		r.Name, r.Host, r.Username, secretArg(r.Password), r.Insecure, r.Description, tx.d.timeArg(r.UpdatedAt), id)
	if err := registryConflict(tx, err, r); err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, "", r.ID); err != nil {
		return nil, err
	}
	return r, tx.Commit()
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// DeleteRegistry returns ENOTFOUND if absent.
func (db *DB) DeleteRegistry(ctx context.Context, id string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.exec(ctx, "DELETE FROM registries WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("delete registry: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete registry: %w", err)
	} else if n == 0 {
		return atrium.Errorf(atrium.ENOTFOUND, "registry %q not found", id)
	}
	if err := tx.recordAudit(ctx, "", id); err != nil {
		return err
	}
	return tx.Commit()
}
