package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"atrium"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// CreateAlertRule inserts r, setting its id (when empty), CreatedAt and
// UpdatedAt. ENOTFOUND for an unknown workspace, ECONFLICT on a taken name
// or id.
func (db *DB) CreateAlertRule(ctx context.Context, r *atrium.AlertRule) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if r.Name == "" {
		return atrium.FieldErrorf("name", "is required")
	}
	if _, err := lockWorkspace(ctx, tx, r.WorkspaceID); err != nil {
		return err
	}
	if err := checkAlertRuleName(ctx, tx, r.WorkspaceID, r.Name, ""); err != nil {
		return err
	}
	if r.ID == "" {
		r.ID = atrium.NewID(atrium.PrefixRule)
	}
	r.CreatedAt, r.UpdatedAt = tx.now, tx.now
	normAlertRule(r)
	args, err := alertRuleArgs(tx, r)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO alert_rules ("+alertRuleColumns+") VALUES ("+placeholders(alertRuleColumnCount)+")", args...)
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "alert rule %q or a rule named %q already exists", r.ID, r.Name)
	} else if err != nil {
		return fmt.Errorf("insert alert rule: %w", err)
	}
	if err := tx.recordAudit(ctx, r.WorkspaceID, r.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// FindAlertRuleByID returns ENOTFOUND if absent.
func (db *DB) FindAlertRuleByID(ctx context.Context, id string) (*atrium.AlertRule, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findAlertRuleByID(ctx, tx, id, false)
}

// FindAlertRules lists a workspace's rules by name; owner "" means all.
func (db *DB) FindAlertRules(ctx context.Context, workspaceID, owner string) ([]*atrium.AlertRule, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	cond, args := "workspace_id = ?", []any{workspaceID}
	if owner != "" {
		cond, args = cond+" AND owner = ?", append(args, owner)
	}
	return queryAlertRules(ctx, tx, cond, "", args...)
}

// UpdateAlertRule replaces r (by ID), keeping its workspace, owner and
// CreatedAt and setting UpdatedAt. ENOTFOUND if absent, ECONFLICT on a
// taken name.
func (db *DB) UpdateAlertRule(ctx context.Context, r *atrium.AlertRule) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if r.Name == "" {
		return atrium.FieldErrorf("name", "is required")
	}
	old, err := findAlertRuleByID(ctx, tx, r.ID, true)
	if err != nil {
		return err
	}
	if err := checkAlertRuleName(ctx, tx, old.WorkspaceID, r.Name, r.ID); err != nil {
		return err
	}
	r.WorkspaceID, r.CreatedAt, r.UpdatedAt = old.WorkspaceID, old.CreatedAt, tx.now
	if r.Owner == "" {
		r.Owner, r.OwnerName = old.Owner, old.OwnerName
	}
	normAlertRule(r)
	args, err := alertRuleArgs(tx, r)
	if err != nil {
		return err
	}
	// args[0] is the id: move it to the WHERE clause.
	set := strings.Split(alertRuleColumns, ",")[1:]
	for i := range set {
		set[i] = strings.TrimSpace(set[i]) + " = ?"
	}
	_, err = tx.exec(ctx, "UPDATE alert_rules SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args[1:], r.ID)...)
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "a rule named %q already exists in this workspace", r.Name)
	} else if err != nil {
		return fmt.Errorf("update alert rule: %w", err)
	}
	if err := tx.recordAudit(ctx, r.WorkspaceID, r.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// DeleteAlertRule removes a rule and its deliveries. ENOTFOUND if absent.
func (db *DB) DeleteAlertRule(ctx context.Context, id string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r, err := findAlertRuleByID(ctx, tx, id, true)
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, "DELETE FROM alert_rules WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete alert rule: %w", err)
	}
	if err := tx.recordAudit(ctx, r.WorkspaceID, r.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// EnqueueDeliveries inserts ds (an event already queued for a rule's target
// is skipped, its ID left 0; test deliveries are never skipped) and moves
// the matcher cursor to afterSeq (when afterSeq > 0), in one transaction.
// It sets each inserted delivery's ID, Status (Pending when empty),
// NextAttempt (now when zero), CreatedAt and Payload ("{}" when empty).
func (db *DB) EnqueueDeliveries(ctx context.Context, ds []*atrium.Delivery, afterSeq int64) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, d := range ds {
		if d.RuleID == "" || d.EventID == "" {
			return atrium.FieldErrorf("ruleId", "a delivery needs a rule and an event")
		}
		payload, err := normJSON("payload", d.Payload)
		if err != nil {
			return err
		}
		if d.Status == "" {
			d.Status = atrium.DeliveryPending
		}
		if d.NextAttempt.IsZero() {
			d.NextAttempt = tx.now
		}
		d.NextAttempt, d.CreatedAt, d.Payload = normTime(d.NextAttempt), tx.now, payload
		d.DeliveredAt = normTimePtr(d.DeliveredAt)
		var id int64
		err = tx.queryRow(ctx, `
			INSERT INTO deliveries (rule_id, workspace_id, target_index, target_type, event_id, event_type, status,
				attempts, next_attempt_at, last_error, response_code, latency_ms, test, payload, created_at, delivered_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING RETURNING id`,
			d.RuleID, d.WorkspaceID, d.TargetIndex, d.TargetType, d.EventID, d.EventType, d.Status,
			d.Attempts, tx.d.timeArg(d.NextAttempt), d.LastError, d.ResponseCode, d.LatencyMs, d.Test, string(payload),
			tx.d.timeArg(d.CreatedAt), tx.d.timePtrArg(d.DeliveredAt)).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			d.ID = 0 // already queued
		case isForeignKeyViolation(err):
			return atrium.Errorf(atrium.ENOTFOUND, "alert rule %q not found", d.RuleID)
		case err != nil:
			return fmt.Errorf("insert delivery: %w", err)
		default:
			d.ID = id
		}
	}
	if afterSeq > 0 {
		if _, err := tx.exec(ctx, "UPDATE alert_cursor SET seq = ? WHERE id = 1", afterSeq); err != nil {
			return fmt.Errorf("move alert cursor: %w", err)
		}
	}
	return tx.Commit()
}

// MatchCursor returns the outbox seq up to which events were matched.
func (db *DB) MatchCursor(ctx context.Context) (int64, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var seq int64
	if err := tx.queryRow(ctx, "SELECT seq FROM alert_cursor WHERE id = 1").Scan(&seq); err != nil {
		return 0, fmt.Errorf("read alert cursor: %w", err)
	}
	return seq, nil
}

// ClaimDeliveries takes up to n Pending deliveries due at now whose lease
// (if any) ended, oldest due first, leasing them until lease and counting
// the attempt. On PostgreSQL the rows are locked with SKIP LOCKED, so
// concurrent claimers take disjoint sets; SQLite has one writer.
func (db *DB) ClaimDeliveries(ctx context.Context, n int, now, lease time.Time) ([]*atrium.Delivery, error) {
	if n <= 0 {
		return []*atrium.Delivery{}, nil
	}
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	suffix := ""
	if tx.d.forUpdate != "" {
		suffix = tx.d.forUpdate + " SKIP LOCKED"
	}
	nowArg := tx.d.timeArg(now)
	rows, err := tx.query(ctx, "SELECT id FROM deliveries WHERE status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)"+
		" ORDER BY next_attempt_at, id"+tx.d.limitOffset(n, 0)+suffix, atrium.DeliveryPending, nowArg, nowArg)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	ids := []any{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim deliveries: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if len(ids) == 0 {
		return []*atrium.Delivery{}, nil
	}
	in := "id IN (" + placeholders(len(ids)) + ")"
	if _, err := tx.exec(ctx, "UPDATE deliveries SET lease_until = ?, attempts = attempts + 1 WHERE "+in,
		append([]any{tx.d.timeArg(lease)}, ids...)...); err != nil {
		return nil, fmt.Errorf("lease deliveries: %w", err)
	}
	ds, err := queryDeliveries(ctx, tx, in, " ORDER BY next_attempt_at, id", ids...)
	if err != nil {
		return nil, err
	}
	return ds, tx.Commit()
}

// FinishDelivery records an attempt's result and ends the lease;
// DeliveredAt is set when res.Status is Delivered. ENOTFOUND if absent.
func (db *DB) FinishDelivery(ctx context.Context, id int64, res atrium.DeliveryResult) error {
	switch res.Status {
	case atrium.DeliveryPending, atrium.DeliveryDelivered, atrium.DeliveryFailed:
	default:
		return atrium.FieldErrorf("status", "must be %s, %s or %s", atrium.DeliveryPending, atrium.DeliveryDelivered, atrium.DeliveryFailed)
	}
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var delivered *time.Time
	if res.Status == atrium.DeliveryDelivered {
		delivered = &tx.now
	}
	q := "UPDATE deliveries SET status = ?, last_error = ?, response_code = ?, latency_ms = ?, delivered_at = ?, lease_until = NULL"
	args := []any{res.Status, res.Error, res.ResponseCode, res.LatencyMs, tx.d.timePtrArg(delivered)}
	if !res.Next.IsZero() {
		q, args = q+", next_attempt_at = ?", append(args, tx.d.timeArg(res.Next))
	}
	r, err := tx.exec(ctx, q+" WHERE id = ?", append(args, id)...)
	if err != nil {
		return fmt.Errorf("finish delivery: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return fmt.Errorf("finish delivery: %w", err)
	} else if n == 0 {
		return atrium.Errorf(atrium.ENOTFOUND, "delivery %d not found", id)
	}
	return tx.Commit()
}

// FindDeliveries lists a rule's deliveries, newest first, at most limit
// (0: all).
func (db *DB) FindDeliveries(ctx context.Context, ruleID string, limit int) ([]*atrium.Delivery, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return queryDeliveries(ctx, tx, "rule_id = ?", " ORDER BY id DESC"+tx.d.limitOffset(limit, 0), ruleID)
}

func checkAlertRuleName(ctx context.Context, tx *txn, workspaceID, name, id string) error {
	n, err := tx.count(ctx, "SELECT count(*) FROM alert_rules WHERE workspace_id = ? AND name = ? AND id <> ?", workspaceID, name, id)
	if err != nil {
		return fmt.Errorf("find alert rule: %w", err)
	} else if n > 0 {
		return atrium.Errorf(atrium.ECONFLICT, "an alert rule named %q already exists in this workspace", name)
	}
	return nil
}

func normAlertRule(r *atrium.AlertRule) {
	r.CreatedAt, r.UpdatedAt = normTime(r.CreatedAt), normTime(r.UpdatedAt)
	if r.EventTypes == nil {
		r.EventTypes = []string{}
	}
	if r.Targets == nil {
		r.Targets = []atrium.AlertTarget{}
	}
	for i := range r.Targets {
		r.Targets[i].Secret = normSecret(r.Targets[i].Secret)
		r.Targets[i].HasSecret = r.Targets[i].Secret != nil
	}
}

const alertRuleColumns = `id, workspace_id, name, owner, owner_name, event_types, scope, resource_id, filter,
	throttle, enabled, targets, secrets, created_at, updated_at`

var alertRuleColumnCount = strings.Count(alertRuleColumns, ",") + 1

// storedTarget is a target as kept in the targets column: no secret.
type storedTarget struct {
	Type string   `json:"type"`
	URL  string   `json:"url,omitempty"`
	To   []string `json:"to,omitempty"`
}

func alertRuleArgs(tx *txn, r *atrium.AlertRule) ([]any, error) {
	filter, err := json.Marshal(r.Filter)
	if err != nil {
		return nil, fmt.Errorf("encode filter: %w", err)
	}
	targets := make([]storedTarget, len(r.Targets))
	secrets := make([][]byte, len(r.Targets)) // nil marshals as null
	for i, t := range r.Targets {
		targets[i] = storedTarget{Type: t.Type, URL: t.URL, To: t.To}
		secrets[i] = t.Secret
	}
	tj, err := json.Marshal(targets)
	if err != nil {
		return nil, fmt.Errorf("encode targets: %w", err)
	}
	sj, err := json.Marshal(secrets)
	if err != nil {
		return nil, fmt.Errorf("encode secrets: %w", err)
	}
	return []any{r.ID, r.WorkspaceID, r.Name, r.Owner, r.OwnerName, listArg(r.EventTypes), r.Scope, r.ResourceID, string(filter),
		int64(r.Throttle), r.Enabled, string(tj), string(sj), tx.d.timeArg(r.CreatedAt), tx.d.timeArg(r.UpdatedAt)}, nil
}

func findAlertRuleByID(ctx context.Context, tx *txn, id string, lock bool) (*atrium.AlertRule, error) {
	suffix := ""
	if lock {
		suffix = tx.d.forUpdate
	}
	rs, err := queryAlertRules(ctx, tx, "id = ?", suffix, id)
	if err != nil {
		return nil, err
	} else if len(rs) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "alert rule %q not found", id)
	}
	return rs[0], nil
}

func queryAlertRules(ctx context.Context, tx *txn, cond, suffix string, args ...any) ([]*atrium.AlertRule, error) {
	order := ""
	if suffix == "" {
		order = " ORDER BY name" + tx.d.collate + ", id"
	}
	rows, err := tx.query(ctx, "SELECT "+alertRuleColumns+" FROM alert_rules WHERE "+cond+order+suffix, args...)
	if err != nil {
		return nil, fmt.Errorf("find alert rules: %w", err)
	}
	defer rows.Close()
	rs := []*atrium.AlertRule{}
	for rows.Next() {
		var (
			r                        atrium.AlertRule
			filter, targets, secrets string
			throttle                 int64
		)
		if err := rows.Scan(&r.ID, &r.WorkspaceID, &r.Name, &r.Owner, &r.OwnerName, listCol{&r.EventTypes}, &r.Scope, &r.ResourceID,
			&filter, &throttle, &r.Enabled, &targets, &secrets, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("scan alert rule: %w", err)
		}
		r.Throttle = atrium.Duration(throttle)
		if err := json.Unmarshal([]byte(filter), &r.Filter); err != nil {
			return nil, fmt.Errorf("decode alert filter: %w", err)
		}
		var ts []storedTarget
		var ss [][]byte
		if err := json.Unmarshal([]byte(targets), &ts); err != nil {
			return nil, fmt.Errorf("decode alert targets: %w", err)
		}
		if err := json.Unmarshal([]byte(secrets), &ss); err != nil {
			return nil, fmt.Errorf("decode alert secrets: %w", err)
		}
		r.Targets = make([]atrium.AlertTarget, len(ts))
		for i, t := range ts {
			r.Targets[i] = atrium.AlertTarget{Type: t.Type, URL: t.URL, To: t.To}
			if i < len(ss) {
				r.Targets[i].Secret = normSecret(ss[i])
				r.Targets[i].HasSecret = r.Targets[i].Secret != nil
			}
		}
		rs = append(rs, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find alert rules: %w", err)
	}
	return rs, nil
}

const deliveryColumns = `id, rule_id, workspace_id, target_index, target_type, event_id, event_type, status, attempts,
	next_attempt_at, last_error, response_code, latency_ms, test, payload, created_at, delivered_at`

func queryDeliveries(ctx context.Context, tx *txn, cond, order string, args ...any) ([]*atrium.Delivery, error) {
	rows, err := tx.query(ctx, "SELECT "+deliveryColumns+" FROM deliveries WHERE "+cond+order, args...)
	if err != nil {
		return nil, fmt.Errorf("find deliveries: %w", err)
	}
	defer rows.Close()
	ds := []*atrium.Delivery{}
	for rows.Next() {
		var d atrium.Delivery
		var payload string
		if err := rows.Scan(&d.ID, &d.RuleID, &d.WorkspaceID, &d.TargetIndex, &d.TargetType, &d.EventID, &d.EventType, &d.Status,
			&d.Attempts, timeCol{&d.NextAttempt}, &d.LastError, &d.ResponseCode, &d.LatencyMs, &d.Test, &payload,
			timeCol{&d.CreatedAt}, nullTimeCol{&d.DeliveredAt}); err != nil {
			return nil, fmt.Errorf("scan delivery: %w", err)
		}
		d.Payload = json.RawMessage(payload)
		ds = append(ds, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find deliveries: %w", err)
	}
	return ds, nil
}

// isForeignKeyViolation reports whether err is a foreign-key violation.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// CountPendingDeliveries counts deliveries still to be sent (the queue
// depth the delivery engine reports).
func (db *DB) CountPendingDeliveries(ctx context.Context) (int, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n, err := tx.count(ctx, "SELECT count(*) FROM deliveries WHERE status = ?", atrium.DeliveryPending)
	if err != nil {
		return 0, fmt.Errorf("count pending deliveries: %w", err)
	}
	return n, nil
}
