package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"atrium"
)

// CreateJob inserts j with the status and history the caller set, its
// first event, and its status event in the outbox (dlc.job.status.changed
// or dsw.instance.status.changed, from ""). It sets the id (when empty, by kind), Version 1, SubmittedAt
// and UpdatedAt (when zero). ENOTFOUND for an unknown workspace, EINVALID
// (kind) for a kind other than DLC or DSW, ECONFLICT on a taken id.
func (db *DB) CreateJob(ctx context.Context, j *atrium.Job) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createJob(ctx, tx, j); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, j.WorkspaceID, j.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// FindJobByID returns ENOTFOUND if absent.
func (db *DB) FindJobByID(ctx context.Context, id string) (*atrium.Job, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findJobByID(ctx, tx, id, false)
}

// FindJobs returns a page, newest first, and the total.
func (db *DB) FindJobs(ctx context.Context, f atrium.JobFilter) ([]*atrium.Job, int, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findJobs(ctx, tx, f)
}

// UpdateJob applies upd if the job is still at version, appending to its
// status history on a status change, inserting upd.Events and writing the
// usage ledger (closing the job's open allocations, then inserting
// upd.OpenAllocations), writing the outbox events of a status change
// (status changed; timeout, preempted by reason), and returns the job as written. ENOTFOUND if
// absent, ECONFLICT if its version moved on.
func (db *DB) UpdateJob(ctx context.Context, id string, version int64, upd atrium.JobUpdate) (*atrium.Job, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	j, err := updateJob(ctx, tx, id, version, upd)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, j.WorkspaceID, j.ID); err != nil {
		return nil, err
	}
	return j, tx.Commit()
}

// DeleteJob removes a finished job and its events. ENOTFOUND if absent,
// ECONFLICT while it is live.
func (db *DB) DeleteJob(ctx context.Context, id string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	j, err := deleteJob(ctx, tx, id)
	if err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, j.WorkspaceID, j.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// FindJobEvents lists a job's events, oldest first (by time, then in the
// order they were written). ENOTFOUND for an unknown job.
func (db *DB) FindJobEvents(ctx context.Context, id string) ([]*atrium.JobEvent, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findJobEvents(ctx, tx, id)
}

// Event types.
const (
	eventNormal = "Normal"
)

// liveCond selects jobs that are not finished. It names the statuses inline,
// as the partial index jobs_live_idx does, so both engines can use it.
var liveCond = "status NOT IN ('" + atrium.JobSucceeded + "', '" + atrium.JobFailed + "', '" + atrium.JobStopped + "')"

func createJob(ctx context.Context, tx *txn, j *atrium.Job) error {
	var prefix string
	switch j.Kind {
	case atrium.KindDLC:
		prefix = atrium.PrefixDLCJob
	case atrium.KindDSW:
		prefix = atrium.PrefixDSW
	case atrium.KindSQL:
		prefix = atrium.PrefixSQLJob
	default:
		return atrium.FieldErrorf("kind", "must be %s, %s or %s", atrium.KindDLC, atrium.KindDSW, atrium.KindSQL)
	}
	// Locking the workspace keeps it from being deleted before the job lands.
	if _, err := lockWorkspace(ctx, tx, j.WorkspaceID); err != nil {
		return err
	}
	if j.ID == "" {
		j.ID = atrium.NewID(prefix)
	}
	if j.Status == "" {
		j.Status = atrium.JobCreating
	}
	if j.Accessibility == "" {
		j.Accessibility = atrium.AccessPrivate
	}
	if j.SubmittedAt.IsZero() {
		j.SubmittedAt = tx.now
	}
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = tx.now
	}
	j.SubmittedAt, j.UpdatedAt = normTime(j.SubmittedAt), normTime(j.UpdatedAt)
	j.StartedAt, j.FinishedAt = normTimePtr(j.StartedAt), normTimePtr(j.FinishedAt)
	j.StatusHistory = normHistory(j.StatusHistory)
	j.Pods = normPods(j.Pods)
	j.Version = 1

	args, err := jobArgs(tx, j)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO jobs ("+jobColumns+") VALUES ("+placeholders(jobColumnCount)+")", args...)
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "job %q already exists", j.ID)
	} else if err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	if err := insertJobStatusEvents(ctx, tx, j, "", tx.now); err != nil {
		return err
	}
	reason := j.ReasonCode
	if reason == "" {
		reason = atrium.ReasonSubmitted
	}
	return insertJobEvents(ctx, tx, j.ID, []atrium.JobEvent{
		{Time: j.SubmittedAt, Type: eventNormal, Reason: reason, Message: j.ReasonMessage},
	})
}

func findJobByID(ctx context.Context, tx *txn, id string, lock bool) (*atrium.Job, error) {
	suffix := ""
	if lock {
		suffix = tx.d.forUpdate
	}
	js, err := queryJobs(ctx, tx, "id = ?", "", suffix, id)
	if err != nil {
		return nil, err
	} else if len(js) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "job %q not found", id)
	}
	return js[0], nil
}

func findJobs(ctx context.Context, tx *txn, f atrium.JobFilter) ([]*atrium.Job, int, error) {
	where, args := []string{"1 = 1"}, []any{}
	if f.WorkspaceID != "" {
		where, args = append(where, "workspace_id = ?"), append(args, f.WorkspaceID)
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
	}
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return []*atrium.Job{}, 0, nil
		}
		where = append(where, "id IN ("+placeholders(len(f.IDs))+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	if f.Creator != "" {
		where, args = append(where, "creator = ?"), append(args, f.Creator)
	}
	if f.JobType != "" {
		where, args = append(where, "job_type = ?"), append(args, f.JobType)
	}
	if f.QuotaID != "" {
		where, args = append(where, "quota_id = ?"), append(args, f.QuotaID)
	}
	if f.VisibleTo != "" {
		where, args = append(where, "(creator = ? OR accessibility = ?)"), append(args, f.VisibleTo, atrium.AccessPublic)
	}
	if f.Live {
		where = append(where, liveCond)
	}
	cond := strings.Join(where, " AND ")

	n, err := tx.count(ctx, "SELECT count(*) FROM jobs WHERE "+cond, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("count jobs: %w", err)
	}
	js, err := queryJobs(ctx, tx, cond, tx.d.limitOffset(f.Limit, f.Offset), "", args...)
	if err != nil {
		return nil, 0, err
	}
	return js, n, nil
}

const jobColumns = `id, workspace_id, kind, display_name, description, job_type, creator, creator_name,
	quota_id, priority, accessibility, max_running_time, spec, status, reason_code, reason_message,
	status_history, queue_position, pods, attempt, resource_group_id, backend, executor_handle,
	submitted_at, started_at, finished_at, updated_at, version, last_active_at`

const jobColumnCount = 29

// jobArgs returns j's column values in jobColumns order.
func jobArgs(tx *txn, j *atrium.Job) ([]any, error) {
	spec, err := json.Marshal(j.Spec)
	if err != nil {
		return nil, fmt.Errorf("encode job spec: %w", err)
	}
	history, err := json.Marshal(j.StatusHistory)
	if err != nil {
		return nil, fmt.Errorf("encode job status history: %w", err)
	}
	pods, err := json.Marshal(j.Pods)
	if err != nil {
		return nil, fmt.Errorf("encode job pods: %w", err)
	}
	return []any{
		j.ID, j.WorkspaceID, j.Kind, j.DisplayName, j.Description, j.JobType, j.Creator, j.CreatorName,
		j.QuotaID, j.Priority, j.Accessibility, int64(j.MaxRunningTime), string(spec), j.Status, j.ReasonCode, j.ReasonMessage,
		string(history), j.QueuePosition, string(pods), j.Attempt, j.ResourceGroupID, j.Backend, j.ExecutorHandle,
		tx.d.timeArg(j.SubmittedAt), tx.d.timePtrArg(j.StartedAt), tx.d.timePtrArg(j.FinishedAt), tx.d.timeArg(j.UpdatedAt), j.Version,
		tx.d.timePtrArg(j.LastActiveAt),
	}, nil
}

// queryJobs lists the jobs matching cond, newest first; page is a
// LIMIT/OFFSET clause and suffix may lock the rows.
func queryJobs(ctx context.Context, tx *txn, cond, page, suffix string, args ...any) ([]*atrium.Job, error) {
	rows, err := tx.query(ctx, "SELECT "+jobColumns+" FROM jobs WHERE "+cond+
		" ORDER BY submitted_at DESC, id"+tx.d.collate+" DESC"+page+suffix, args...)
	if err != nil {
		return nil, fmt.Errorf("find jobs: %w", err)
	}
	defer rows.Close()
	js := []*atrium.Job{}
	for rows.Next() {
		var j atrium.Job
		var maxRun int64
		if err := rows.Scan(&j.ID, &j.WorkspaceID, &j.Kind, &j.DisplayName, &j.Description, &j.JobType, &j.Creator, &j.CreatorName,
			&j.QuotaID, &j.Priority, &j.Accessibility, &maxRun, jsonCol{&j.Spec}, &j.Status, &j.ReasonCode, &j.ReasonMessage,
			jsonCol{&j.StatusHistory}, &j.QueuePosition, jsonCol{&j.Pods}, &j.Attempt, &j.ResourceGroupID, &j.Backend, &j.ExecutorHandle,
			timeCol{&j.SubmittedAt}, nullTimeCol{&j.StartedAt}, nullTimeCol{&j.FinishedAt}, timeCol{&j.UpdatedAt}, &j.Version,
			nullTimeCol{&j.LastActiveAt}); err != nil {
			return nil, fmt.Errorf("scan job: %w", err)
		}
		j.MaxRunningTime = atrium.Duration(maxRun)
		j.StatusHistory = normHistory(j.StatusHistory)
		j.Pods = normPods(j.Pods)
		js = append(js, &j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find jobs: %w", err)
	}
	return js, nil
}

func updateJob(ctx context.Context, tx *txn, id string, version int64, upd atrium.JobUpdate) (*atrium.Job, error) {
	j, err := findJobByID(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if j.Version != version {
		return nil, jobConflict(id)
	}
	if v := upd.Spec; v != nil {
		j.Spec = *v
	}
	if v := upd.Priority; v != nil {
		j.Priority = *v
	}
	if v := upd.Accessibility; v != nil {
		j.Accessibility = *v
	}
	if v := upd.Description; v != nil {
		j.Description = *v
	}
	if v := upd.ReasonCode; v != nil {
		j.ReasonCode = *v
	}
	if v := upd.ReasonMessage; v != nil {
		j.ReasonMessage = *v
	}
	from, prevUpdated := j.Status, j.UpdatedAt
	if v := upd.Status; v != nil && *v != j.Status {
		j.Status = *v
		j.StatusHistory = append(j.StatusHistory, atrium.StatusChange{
			Status: j.Status, ReasonCode: j.ReasonCode, ReasonMessage: j.ReasonMessage, Time: tx.now,
		})
	}
	if v := upd.QueuePosition; v != nil {
		j.QueuePosition = *v
	}
	if v := upd.Pods; v != nil {
		j.Pods = normPods(slices.Clone(*v))
	}
	if v := upd.Attempt; v != nil {
		j.Attempt = *v
	}
	if v := upd.ResourceGroupID; v != nil {
		j.ResourceGroupID = *v
	}
	if v := upd.Backend; v != nil {
		j.Backend = *v
	}
	if v := upd.ExecutorHandle; v != nil {
		j.ExecutorHandle = *v
	}
	if v := upd.StartedAt; v != nil {
		j.StartedAt = normTimePtr(*v)
	}
	if v := upd.FinishedAt; v != nil {
		j.FinishedAt = normTimePtr(*v)
	}
	if v := upd.LastActiveAt; v != nil {
		j.LastActiveAt = normTimePtr(v)
	}
	j.Version, j.UpdatedAt = version+1, tx.now

	args, err := jobArgs(tx, j)
	if err != nil {
		return nil, err
	}
	// args start with id, workspace_id, kind, which never change; the id
	// and the version read go in the WHERE clause.
	res, err := tx.exec(ctx, `
		UPDATE jobs SET display_name = ?, description = ?, job_type = ?, creator = ?, creator_name = ?,
			quota_id = ?, priority = ?, accessibility = ?, max_running_time = ?, spec = ?, status = ?,
			reason_code = ?, reason_message = ?, status_history = ?, queue_position = ?, pods = ?,
			attempt = ?, resource_group_id = ?, backend = ?, executor_handle = ?, submitted_at = ?,
			started_at = ?, finished_at = ?, updated_at = ?, version = ?, last_active_at = ?
		WHERE id = ? AND version = ?`, append(args[3:], id, version)...)
	if err != nil {
		return nil, fmt.Errorf("update job: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("update job: %w", err)
	} else if n == 0 {
		// Not reached while the row is locked (PostgreSQL) or writers are
		// serialized (SQLite); kept so a lost lock cannot lose an update.
		return nil, jobConflict(id)
	}
	if len(upd.Events) > 0 {
		if err := insertJobEvents(ctx, tx, id, upd.Events); err != nil {
			return nil, err
		}
	}
	if len(upd.OpenAllocations) > 0 || upd.CloseAllocations {
		if err := writeAllocations(ctx, tx, j, upd.OpenAllocations, upd.CloseAllocations); err != nil {
			return nil, err
		}
	}
	// Last: on PostgreSQL the outbox lock is held from here to commit.
	if j.Status != from {
		if err := insertJobStatusEvents(ctx, tx, j, from, prevUpdated); err != nil {
			return nil, err
		}
	}
	return j, nil
}

func jobConflict(id string) error {
	return atrium.Errorf(atrium.ECONFLICT, "job %s was changed concurrently; re-read it", id)
}

func deleteJob(ctx context.Context, tx *txn, id string) (*atrium.Job, error) {
	j, err := findJobByID(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if !atrium.JobFinished(j.Status) {
		return nil, atrium.Errorf(atrium.ECONFLICT, "job %s is %s; stop it before deleting it", id, j.Status)
	}
	if _, err := tx.exec(ctx, "DELETE FROM job_events WHERE job_id = ?", id); err != nil {
		return nil, fmt.Errorf("delete job events: %w", err)
	}
	if _, err := tx.exec(ctx, "DELETE FROM jobs WHERE id = ?", id); err != nil {
		return nil, fmt.Errorf("delete job: %w", err)
	}
	return j, nil
}

// insertJobEvents appends events to the job's list, numbering them after
// the ones it has. The caller holds the job's row (or SQLite's write lock),
// so the numbers cannot collide.
func insertJobEvents(ctx context.Context, tx *txn, jobID string, events []atrium.JobEvent) error {
	var seq int64
	if err := tx.queryRow(ctx, "SELECT coalesce(max(seq), 0) FROM job_events WHERE job_id = ?", jobID).Scan(&seq); err != nil {
		return fmt.Errorf("find job events: %w", err)
	}
	for _, e := range events {
		seq++
		if e.Time.IsZero() {
			e.Time = tx.now
		}
		if e.Type == "" {
			e.Type = eventNormal
		}
		if _, err := tx.exec(ctx, `
			INSERT INTO job_events (job_id, seq, time, type, reason, message) VALUES (?, ?, ?, ?, ?, ?)`,
			jobID, seq, tx.d.timeArg(e.Time), e.Type, e.Reason, e.Message); err != nil {
			return fmt.Errorf("insert job event: %w", err)
		}
	}
	return nil
}

func findJobEvents(ctx context.Context, tx *txn, id string) ([]*atrium.JobEvent, error) {
	n, err := tx.count(ctx, "SELECT count(*) FROM jobs WHERE id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("find job: %w", err)
	} else if n == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "job %q not found", id)
	}
	rows, err := tx.query(ctx, "SELECT job_id, time, type, reason, message FROM job_events WHERE job_id = ? ORDER BY time, seq", id)
	if err != nil {
		return nil, fmt.Errorf("find job events: %w", err)
	}
	defer rows.Close()
	es := []*atrium.JobEvent{}
	for rows.Next() {
		var e atrium.JobEvent
		if err := rows.Scan(&e.JobID, timeCol{&e.Time}, &e.Type, &e.Reason, &e.Message); err != nil {
			return nil, fmt.Errorf("scan job event: %w", err)
		}
		es = append(es, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find job events: %w", err)
	}
	return es, nil
}

// normHistory gives a status history its stored form: never nil, times in
// UTC microseconds.
func normHistory(h []atrium.StatusChange) []atrium.StatusChange {
	if h == nil {
		return []atrium.StatusChange{}
	}
	for i := range h {
		h[i].Time = normTime(h[i].Time)
	}
	return h
}

// normPods gives pods their stored form: never nil, GPU lists never nil,
// times in UTC microseconds.
func normPods(ps []atrium.Pod) []atrium.Pod {
	if ps == nil {
		return []atrium.Pod{}
	}
	for i := range ps {
		p := &ps[i]
		if p.GPUs == nil {
			p.GPUs = []int{}
		}
		p.StartedAt, p.FinishedAt = normTimePtr(p.StartedAt), normTimePtr(p.FinishedAt)
	}
	return ps
}
