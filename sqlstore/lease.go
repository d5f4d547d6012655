package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"atrium"
)

// Leases compare expiry against the store's clock (time.Now unless
// WithNow); replicas need clocks within a fraction of the TTL (NTP).

func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (*atrium.Lease, error) {
	return db.writeLease(ctx, name, func(tx *txn, cur *atrium.Lease) (*atrium.Lease, error) {
		next := &atrium.Lease{Name: name, Holder: holder, Generation: 1, ExpiresAt: tx.now.Add(ttl)}
		switch {
		case cur == nil:
			_, err := tx.exec(ctx, "INSERT INTO leases (name, holder, generation, expires_at) VALUES (?, ?, ?, ?)",
				name, holder, next.Generation, next.ExpiresAt.UnixMilli())
			if tx.d.uniqueViolation(err) {
				return nil, atrium.Errorf(atrium.ECONFLICT, "lease %s was taken meanwhile", name)
			}
			return next, err
		case cur.Holder == holder && cur.ExpiresAt.After(tx.now):
			next.Generation = cur.Generation
		case cur.ExpiresAt.After(tx.now):
			return nil, atrium.Errorf(atrium.ECONFLICT, "lease %s is held by %s until %s", name, cur.Holder, cur.ExpiresAt.UTC().Format(time.RFC3339Nano))
		default:
			next.Generation = cur.Generation + 1
		}
		_, err := tx.exec(ctx, "UPDATE leases SET holder = ?, generation = ?, expires_at = ? WHERE name = ?",
			holder, next.Generation, next.ExpiresAt.UnixMilli(), name)
		return next, err
	})
}

func (db *DB) RenewLease(ctx context.Context, l *atrium.Lease, ttl time.Duration) (*atrium.Lease, error) {
	return db.writeLease(ctx, l.Name, func(tx *txn, cur *atrium.Lease) (*atrium.Lease, error) {
		if err := checkFence(tx, cur, *l); err != nil {
			return nil, err
		}
		next := *cur
		next.ExpiresAt = tx.now.Add(ttl)
		_, err := tx.exec(ctx, "UPDATE leases SET expires_at = ? WHERE name = ?", next.ExpiresAt.UnixMilli(), l.Name)
		return &next, err
	})
}

func (db *DB) ReleaseLease(ctx context.Context, l *atrium.Lease) error {
	_, err := db.writeLease(ctx, l.Name, func(tx *txn, cur *atrium.Lease) (*atrium.Lease, error) {
		if cur == nil || cur.Holder != l.Holder || cur.Generation != l.Generation {
			return nil, nil // not ours any more: nothing to give up
		}
		_, err := tx.exec(ctx, "UPDATE leases SET expires_at = 0 WHERE name = ?", l.Name)
		return nil, err
	})
	return err
}

func (db *DB) FindLease(ctx context.Context, name string) (*atrium.Lease, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	l, err := findLease(ctx, tx, name, "")
	if err == nil && l == nil {
		err = atrium.Errorf(atrium.ENOTFOUND, "lease %q not found", name)
	}
	return l, err
}

// writeLease runs fn on the locked lease row (nil when absent). Lease
// writes are never fenced themselves: a fence is checked against them.
func (db *DB) writeLease(ctx context.Context, name string, fn func(tx *txn, cur *atrium.Lease) (*atrium.Lease, error)) (*atrium.Lease, error) {
	tx, err := db.begin(atrium.WithoutFence(ctx), true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	cur, err := findLease(ctx, tx, name, tx.d.forUpdate)
	if err != nil {
		return nil, err
	}
	out, err := fn(tx, cur)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// findLease reads the lease row with the given lock suffix ("" for none).
func findLease(ctx context.Context, tx *txn, name, lock string) (*atrium.Lease, error) {
	var l atrium.Lease
	var exp int64
	err := tx.queryRow(ctx, "SELECT name, holder, generation, expires_at FROM leases WHERE name = ?"+lock, name).
		Scan(&l.Name, &l.Holder, &l.Generation, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read lease %s: %w", name, err)
	}
	l.ExpiresAt = time.UnixMilli(exp).UTC()
	return &l, nil
}

// checkFence fails unless want is still the live lease cur.
func checkFence(tx *txn, cur *atrium.Lease, want atrium.Lease) error {
	if cur == nil || cur.Holder != want.Holder || cur.Generation != want.Generation || !cur.ExpiresAt.After(tx.now) {
		return atrium.Errorf(atrium.EFENCED, "lease %s generation %d of %s is no longer held", want.Name, want.Generation, want.Holder)
	}
	return nil
}

// fenceTx checks, inside a write transaction, the fence ctx carries; on
// PostgreSQL the row stays share-locked until commit, so a takeover waits
// for this transaction instead of slipping in before its commit.
func fenceTx(ctx context.Context, tx *txn) error {
	want, ok := atrium.FenceFrom(ctx)
	if !ok {
		return nil
	}
	cur, err := findLease(ctx, tx, want.Name, tx.d.forShare)
	if err != nil {
		return err
	}
	return checkFence(tx, cur, want)
}
