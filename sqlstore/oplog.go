package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"atrium"
)

// AppendOperationLog inserts l, setting ID and Time when empty.
func (db *DB) AppendOperationLog(ctx context.Context, l *atrium.OperationLog) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := appendOperationLog(ctx, tx, l); err != nil {
		return err
	}
	return tx.Commit()
}

// FindOperationLogs returns a page, newest first, and the total count.
func (db *DB) FindOperationLogs(ctx context.Context, f atrium.OperationLogFilter) ([]*atrium.OperationLog, int, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findOperationLogs(ctx, tx, f)
}

func appendOperationLog(ctx context.Context, tx *txn, l *atrium.OperationLog) error {
	if l.ID == "" {
		l.ID = atrium.NewID(atrium.PrefixOpLog)
	}
	if l.Time.IsZero() {
		l.Time = tx.now
	}
	l.Time = normTime(l.Time)
	_, err := tx.exec(ctx, `
		INSERT INTO operation_logs (id, workspace_id, actor_id, actor_name, action, target, result,
			status_code, detail, request_id, time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.WorkspaceID, l.ActorID, l.ActorName, l.Action, l.Target, l.Result,
		l.StatusCode, l.Detail, l.RequestID, tx.d.timeArg(l.Time))
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "operation log %q already exists", l.ID)
	} else if err != nil {
		return fmt.Errorf("insert operation log: %w", err)
	}
	return nil
}

func findOperationLogs(ctx context.Context, tx *txn, f atrium.OperationLogFilter) ([]*atrium.OperationLog, int, error) {
	where, args := []string{"1 = 1"}, []any{}
	if f.WorkspaceID != nil {
		where, args = append(where, "workspace_id = ?"), append(args, *f.WorkspaceID)
	}
	if f.ActorID != "" {
		where, args = append(where, "actor_id = ?"), append(args, f.ActorID)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if f.Result != "" {
		where, args = append(where, "result = ?"), append(args, f.Result)
	}
	cond := strings.Join(where, " AND ")

	n, err := tx.count(ctx, "SELECT count(*) FROM operation_logs WHERE "+cond, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("count operation logs: %w", err)
	}
	rows, err := tx.query(ctx, `
		SELECT id, workspace_id, actor_id, actor_name, action, target, result, status_code, detail, request_id, time
		FROM operation_logs WHERE `+cond+` ORDER BY time DESC, id DESC`+tx.d.limitOffset(f.Limit, f.Offset), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find operation logs: %w", err)
	}
	defer rows.Close()
	ls := []*atrium.OperationLog{}
	for rows.Next() {
		var l atrium.OperationLog
		if err := rows.Scan(&l.ID, &l.WorkspaceID, &l.ActorID, &l.ActorName, &l.Action, &l.Target, &l.Result,
			&l.StatusCode, &l.Detail, &l.RequestID, timeCol{&l.Time}); err != nil {
			return nil, 0, fmt.Errorf("scan operation log: %w", err)
		}
		ls = append(ls, &l)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("find operation logs: %w", err)
	}
	return ls, n, nil
}
