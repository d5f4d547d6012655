package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"atrium"
)

// FindAllocations lists the allocations overlapping [f.From, f.To) — begun
// before To and not ended by From — oldest first (by start, then in the
// order they were written). A zero From or To leaves that side open; an
// empty WorkspaceID means every workspace.
func (db *DB) FindAllocations(ctx context.Context, f atrium.AllocationFilter) ([]*atrium.Allocation, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findAllocations(ctx, tx, f)
}

const allocationColumns = `job_id, workspace_id, quota_id, user_id, user_name, job_kind, job_type,
	attempt, pod, node, gpu_type, milli_cpu, memory, gpu, started_at, ended_at`

const allocationColumnCount = 16

func findAllocations(ctx context.Context, tx *txn, f atrium.AllocationFilter) ([]*atrium.Allocation, error) {
	where, args := []string{"1 = 1"}, []any{}
	if f.WorkspaceID != "" {
		where, args = append(where, "workspace_id = ?"), append(args, f.WorkspaceID)
	}
	if !f.To.IsZero() {
		where, args = append(where, "started_at < ?"), append(args, tx.d.timeArg(f.To))
	}
	if !f.From.IsZero() {
		where, args = append(where, "(ended_at IS NULL OR ended_at > ?)"), append(args, tx.d.timeArg(f.From))
	}
	rows, err := tx.query(ctx, "SELECT id, "+allocationColumns+" FROM allocations WHERE "+
		strings.Join(where, " AND ")+" ORDER BY started_at, id", args...)
	if err != nil {
		return nil, fmt.Errorf("find allocations: %w", err)
	}
	defer rows.Close()
	as := []*atrium.Allocation{}
	for rows.Next() {
		var a atrium.Allocation
		if err := rows.Scan(&a.ID, &a.JobID, &a.WorkspaceID, &a.QuotaID, &a.UserID, &a.UserName, &a.JobKind, &a.JobType,
			&a.Attempt, &a.Pod, &a.Node, &a.GPUType, &a.MilliCPU, &a.Memory, &a.GPU,
			timeCol{&a.StartedAt}, nullTimeCol{&a.EndedAt}); err != nil {
			return nil, fmt.Errorf("scan allocation: %w", err)
		}
		as = append(as, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find allocations: %w", err)
	}
	return as, nil
}

// writeAllocations applies a job update's ledger changes to job j, inside
// the update's transaction: with closeOpen it first ends every open
// allocation of the job at the transaction's time, then it inserts open.
// An allocation names j (JobID and WorkspaceID default to j's, others are
// EINVALID) and starts at the transaction's time unless it says otherwise.
func writeAllocations(ctx context.Context, tx *txn, j *atrium.Job, open []atrium.Allocation, closeOpen bool) error {
	if closeOpen {
		if _, err := tx.exec(ctx, "UPDATE allocations SET ended_at = ? WHERE job_id = ? AND ended_at IS NULL",
			tx.d.timeArg(tx.now), j.ID); err != nil {
			return fmt.Errorf("close allocations: %w", err)
		}
	}
	for i, a := range open {
		field := "openAllocations[" + strconv.Itoa(i) + "]"
		if a.JobID == "" {
			a.JobID = j.ID
		} else if a.JobID != j.ID {
			return atrium.FieldErrorf(field+".jobId", "must be the updated job %s", j.ID)
		}
		if a.WorkspaceID == "" {
			a.WorkspaceID = j.WorkspaceID
		} else if a.WorkspaceID != j.WorkspaceID {
			return atrium.FieldErrorf(field+".workspaceId", "must be the job's workspace %s", j.WorkspaceID)
		}
		if a.MilliCPU < 0 || a.Memory < 0 || a.GPU < 0 {
			return atrium.FieldErrorf(field, "resources must not be negative")
		}
		if a.StartedAt.IsZero() {
			a.StartedAt = tx.now
		}
		if _, err := tx.exec(ctx, "INSERT INTO allocations ("+allocationColumns+") VALUES ("+placeholders(allocationColumnCount)+")",
			a.JobID, a.WorkspaceID, a.QuotaID, a.UserID, a.UserName, a.JobKind, a.JobType,
			a.Attempt, a.Pod, a.Node, a.GPUType, a.MilliCPU, a.Memory, a.GPU,
			tx.d.timeArg(a.StartedAt), tx.d.timePtrArg(a.EndedAt)); err != nil {
			return fmt.Errorf("insert allocation: %w", err)
		}
	}
	return nil
}
