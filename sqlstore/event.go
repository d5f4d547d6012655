package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"atrium"
)

// FindEvents lists outbox events in outbox order (Seq ascending), those of
// f.WorkspaceID and f.Types when set, after f.AfterSeq, at most f.Limit
// (0: all).
func (db *DB) FindEvents(ctx context.Context, f atrium.EventFilter) ([]*atrium.Event, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findEvents(ctx, tx, f)
}

// insertEvent writes e to the outbox in the caller's transaction, setting
// its id (when empty), Time (now, when zero), Seq and Data ("{}" when
// empty). On PostgreSQL it holds the outbox's write lock until commit, so
// seqs commit in order (a sequence alone would let a later seq commit
// first and a reader after it skip the earlier one).
func insertEvent(ctx context.Context, tx *txn, e *atrium.Event) error {
	if e.Type == "" {
		return atrium.FieldErrorf("type", "an event needs a type")
	}
	data, err := normJSON("data", e.Data)
	if err != nil {
		return err
	}
	if e.ID == "" {
		e.ID = atrium.NewID(atrium.PrefixEvent)
	}
	if e.Time.IsZero() {
		e.Time = tx.now
	}
	e.Time, e.Data = normTime(e.Time), data
	if tx.d.lockEvents != "" {
		if _, err := tx.exec(ctx, tx.d.lockEvents); err != nil {
			return fmt.Errorf("lock events: %w", err)
		}
	}
	err = tx.queryRow(ctx, `
		INSERT INTO events (id, type, source, subject, time, workspace_id, data)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		e.ID, e.Type, e.Source, e.Subject, tx.d.timeArg(e.Time), e.WorkspaceID, string(e.Data)).Scan(&e.Seq)
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "event %q already exists", e.ID)
	} else if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

func findEvents(ctx context.Context, tx *txn, f atrium.EventFilter) ([]*atrium.Event, error) {
	where, args, order := []string{"seq > ?"}, []any{f.AfterSeq}, " ORDER BY seq"
	if f.Desc {
		where, order = []string{"(? = 0 OR seq < ?)"}, " ORDER BY seq DESC"
		args = append(args, f.AfterSeq)
	}
	if f.WorkspaceID != "" {
		where, args = append(where, "workspace_id = ?"), append(args, f.WorkspaceID)
	}
	if len(f.Types) > 0 {
		where = append(where, "type IN ("+placeholders(len(f.Types))+")")
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	rows, err := tx.query(ctx, "SELECT seq, id, type, source, subject, time, workspace_id, data FROM events WHERE "+
		strings.Join(where, " AND ")+order+tx.d.limitOffset(f.Limit, 0), args...)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	defer rows.Close()
	es := []*atrium.Event{}
	for rows.Next() {
		var e atrium.Event
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.Source, &e.Subject, timeCol{&e.Time}, &e.WorkspaceID, jsonCol{&e.Data}); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		es = append(es, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	return es, nil
}

// LastEventSeq returns the seq of the newest outbox event, 0 when empty:
// how many events were ever written (seqs count from 1 and are never
// reused), read cheaply for the atrium_events_total metric.
func (db *DB) LastEventSeq(ctx context.Context) (int64, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var n int64
	if err := tx.queryRow(ctx, "SELECT COALESCE(max(seq), 0) FROM events").Scan(&n); err != nil {
		return 0, fmt.Errorf("last event seq: %w", err)
	}
	return n, nil
}
