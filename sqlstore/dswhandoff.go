package sqlstore

import (
	"context"
	"fmt"
	"time"

	"atrium"
)

func (db *DB) CreateDSWHandoff(ctx context.Context, h *atrium.DSWHandoff) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Handoffs live a minute; forgetting the expired ones here keeps the
	// table as small as the number of links opened in that minute.
	if _, err := tx.exec(ctx, "DELETE FROM dsw_handoffs WHERE expires_at <= ?", tx.now.UnixMilli()); err != nil {
		return fmt.Errorf("forget expired DSW handoffs: %w", err)
	}
	h.ExpiresAt = time.UnixMilli(h.ExpiresAt.UnixMilli()).UTC() // as stored
	_, err = tx.exec(ctx, "INSERT INTO dsw_handoffs (token_hash, instance_id, workspace_id, user_id, expires_at) VALUES (?, ?, ?, ?, ?)",
		h.Hash, h.InstanceID, h.WorkspaceID, h.UserID, h.ExpiresAt.UnixMilli())
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "a DSW handoff with this token exists")
	} else if err != nil {
		return fmt.Errorf("create DSW handoff: %w", err)
	}
	if err := tx.recordAudit(ctx, h.WorkspaceID, h.InstanceID); err != nil {
		return err
	}
	return tx.Commit()
}

func (db *DB) RedeemDSWHandoff(ctx context.Context, hash string) (*atrium.DSWHandoff, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// Deleting is redeeming: of concurrent redeemers (on any replica) only
	// the one whose DELETE removed the row gets it back.
	h := atrium.DSWHandoff{Hash: hash}
	var exp int64
	err = tx.queryRow(ctx, "DELETE FROM dsw_handoffs WHERE token_hash = ? RETURNING instance_id, workspace_id, user_id, expires_at", hash).
		Scan(&h.InstanceID, &h.WorkspaceID, &h.UserID, &exp)
	if isNoRows(err) {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "DSW handoff not found: unknown or already used") // never echo the hash
	} else if err != nil {
		return nil, fmt.Errorf("redeem DSW handoff: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	h.ExpiresAt = time.UnixMilli(exp).UTC()
	if !h.ExpiresAt.After(tx.now) {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "DSW handoff expired at %s", h.ExpiresAt.Format(time.RFC3339))
	}
	return &h, nil
}
