package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"atrium"
)

// CreatePipelineRun inserts r (id, Version 1 and times set here) and its
// pipeline.run.status.changed event. ENOTFOUND for an unknown workspace.
func (db *DB) CreatePipelineRun(ctx context.Context, r *atrium.PipelineRun) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := lockWorkspace(ctx, tx, r.WorkspaceID); err != nil {
		return err
	}
	if r.ID == "" {
		r.ID = atrium.NewID(atrium.PrefixPipelineRun)
	}
	if r.Status == "" {
		r.Status = atrium.RunInitialized
	}
	if r.Accessibility == "" {
		r.Accessibility = atrium.AccessPrivate
	}
	r.Attempt = max(r.Attempt, 1)
	r.CreatedAt, r.UpdatedAt, r.Version = tx.now, tx.now, 1
	r.StatusHistory = normHistory(r.StatusHistory)
	args, err := runArgs(tx, r)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO pipeline_runs ("+runColumns+") VALUES ("+placeholders(runColumnCount)+")", args...)
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "pipeline run %q already exists", r.ID)
	} else if err != nil {
		return fmt.Errorf("insert pipeline run: %w", err)
	}
	if err := tx.recordAudit(ctx, r.WorkspaceID, r.ID); err != nil {
		return err
	}
	if err := insertRunEvents(ctx, tx, r, "", nil, tx.now); err != nil {
		return err
	}
	return tx.Commit()
}

const runColumns = `id, workspace_id, pipeline_id, pipeline_version, display_name, creator, creator_name, accessibility,
	arguments, spec, components, status, reason_code, reason_message, status_history, nodes, attempt,
	created_at, started_at, finished_at, updated_at, version`

const runColumnCount = 22

func runArgs(tx *txn, r *atrium.PipelineRun) ([]any, error) {
	enc := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}
	if r.Arguments == nil {
		r.Arguments = map[string]any{}
	}
	if r.Nodes == nil {
		r.Nodes = []atrium.PipelineNode{}
	}
	var cols [5]string
	for i, v := range []any{r.Arguments, r.Spec, r.Components, r.StatusHistory, r.Nodes} {
		s, err := enc(v)
		if err != nil {
			return nil, fmt.Errorf("encode pipeline run: %w", err)
		}
		cols[i] = s
	}
	return []any{r.ID, r.WorkspaceID, r.PipelineID, r.PipelineVersion, r.DisplayName, r.Creator, r.CreatorName, r.Accessibility,
		cols[0], cols[1], cols[2], r.Status, r.ReasonCode, r.ReasonMessage, cols[3], cols[4], r.Attempt,
		tx.d.timeArg(r.CreatedAt), tx.d.timePtrArg(r.StartedAt), tx.d.timePtrArg(r.FinishedAt), tx.d.timeArg(r.UpdatedAt), r.Version}, nil
}

func queryRuns(ctx context.Context, tx *txn, cond, page, suffix string, args ...any) ([]*atrium.PipelineRun, error) {
	rows, err := tx.query(ctx, "SELECT "+runColumns+" FROM pipeline_runs WHERE "+cond+
		" ORDER BY created_at DESC, id"+tx.d.collate+" DESC"+page+suffix, args...)
	if err != nil {
		return nil, fmt.Errorf("find pipeline runs: %w", err)
	}
	defer rows.Close()
	out := []*atrium.PipelineRun{}
	for rows.Next() {
		var r atrium.PipelineRun
		if err := rows.Scan(&r.ID, &r.WorkspaceID, &r.PipelineID, &r.PipelineVersion, &r.DisplayName, &r.Creator, &r.CreatorName,
			&r.Accessibility, jsonCol{&r.Arguments}, jsonCol{&r.Spec}, jsonCol{&r.Components}, &r.Status, &r.ReasonCode,
			&r.ReasonMessage, jsonCol{&r.StatusHistory}, jsonCol{&r.Nodes}, &r.Attempt, timeCol{&r.CreatedAt},
			nullTimeCol{&r.StartedAt}, nullTimeCol{&r.FinishedAt}, timeCol{&r.UpdatedAt}, &r.Version); err != nil {
			return nil, fmt.Errorf("scan pipeline run: %w", err)
		}
		if r.Arguments == nil {
			r.Arguments = map[string]any{}
		}
		r.StatusHistory = normHistory(r.StatusHistory)
		out = append(out, &r)
	}
	return out, rows.Err()
}

func findRun(ctx context.Context, tx *txn, id string, lock bool) (*atrium.PipelineRun, error) {
	suffix := ""
	if lock {
		suffix = tx.d.forUpdate
	}
	rs, err := queryRuns(ctx, tx, "id = ?", "", suffix, id)
	if err != nil {
		return nil, err
	} else if len(rs) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "pipeline run %q not found", id)
	}
	return rs[0], nil
}

// FindPipelineRunByID returns ENOTFOUND if absent.
func (db *DB) FindPipelineRunByID(ctx context.Context, id string) (*atrium.PipelineRun, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findRun(ctx, tx, id, false)
}

// runLiveCond names the statuses inline, as pipeline_runs_live_idx does.
var runLiveCond = "status NOT IN ('" + atrium.RunSucceeded + "', '" + atrium.RunFailed + "', '" + atrium.RunTerminated + "')"

// FindPipelineRuns returns a page, newest first, and the total.
func (db *DB) FindPipelineRuns(ctx context.Context, f atrium.PipelineRunFilter) ([]*atrium.PipelineRun, int, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	where, args := []string{"1 = 1"}, []any{}
	if f.WorkspaceID != "" {
		where, args = append(where, "workspace_id = ?"), append(args, f.WorkspaceID)
	}
	if f.PipelineID != "" {
		where, args = append(where, "pipeline_id = ?"), append(args, f.PipelineID)
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, s := range f.Statuses {
			args = append(args, s)
		}
	}
	if f.Live {
		where = append(where, runLiveCond)
	}
	if f.VisibleTo != "" {
		where, args = append(where, "(creator = ? OR accessibility = ?)"), append(args, f.VisibleTo, atrium.AccessPublic)
	}
	cond := strings.Join(where, " AND ")
	n, err := tx.count(ctx, "SELECT count(*) FROM pipeline_runs WHERE "+cond, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("count pipeline runs: %w", err)
	}
	rs, err := queryRuns(ctx, tx, cond, tx.d.limitOffset(f.Limit, f.Offset), "", args...)
	if err != nil {
		return nil, 0, err
	}
	return rs, n, nil
}

// UpdatePipelineRun applies upd if the run is still at version: it creates
// upd.Jobs, writes the run, and the events of its status change and of
// every node whose status changed, in one transaction. ENOTFOUND if
// absent, ECONFLICT if its version moved on.
func (db *DB) UpdatePipelineRun(ctx context.Context, id string, version int64, upd atrium.PipelineRunUpdate) (*atrium.PipelineRun, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, err := findRun(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if r.Version != version {
		return nil, atrium.Errorf(atrium.ECONFLICT, "pipeline run %s was changed concurrently; re-read it", id)
	}
	for _, j := range upd.Jobs {
		if err := createJob(ctx, tx, j); err != nil {
			return nil, err
		}
	}
	from, prevNodes, prevUpdated := r.Status, r.Nodes, r.UpdatedAt
	if v := upd.ReasonCode; v != nil {
		r.ReasonCode = *v
	}
	if v := upd.ReasonMessage; v != nil {
		r.ReasonMessage = *v
	}
	if v := upd.Status; v != nil && *v != r.Status {
		r.Status = *v
		r.StatusHistory = append(r.StatusHistory, atrium.StatusChange{Status: r.Status, ReasonCode: r.ReasonCode,
			ReasonMessage: r.ReasonMessage, Time: tx.now})
	}
	if upd.Nodes != nil {
		r.Nodes = slices.Clone(upd.Nodes)
	}
	if upd.Arguments != nil {
		r.Arguments = upd.Arguments
	}
	if v := upd.Attempt; v != nil {
		r.Attempt = *v
	}
	if v := upd.StartedAt; v != nil {
		r.StartedAt = normTimePtr(*v)
	}
	if v := upd.FinishedAt; v != nil {
		r.FinishedAt = normTimePtr(*v)
	}
	r.Version, r.UpdatedAt = version+1, tx.now
	args, err := runArgs(tx, r)
	if err != nil {
		return nil, err
	}
	res, err := tx.exec(ctx, `UPDATE pipeline_runs SET arguments = ?, spec = ?, components = ?, status = ?, reason_code = ?,
		reason_message = ?, status_history = ?, nodes = ?, attempt = ?, created_at = ?, started_at = ?, finished_at = ?,
		updated_at = ?, version = ? WHERE id = ? AND version = ?`, append(args[8:], id, version)...)
	if err != nil {
		return nil, fmt.Errorf("update pipeline run: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("update pipeline run: %w", err)
	} else if n == 0 {
		return nil, atrium.Errorf(atrium.ECONFLICT, "pipeline run %s was changed concurrently; re-read it", id)
	}
	if err := tx.recordAudit(ctx, r.WorkspaceID, r.ID); err != nil {
		return nil, err
	}
	var before map[string]string
	if r.Status != from {
		before = map[string]string{"": from}
	} else {
		before = map[string]string{}
	}
	for _, n := range prevNodes {
		before[n.Name] = n.Status
	}
	if err := insertRunEvents(ctx, tx, r, from, before, prevUpdated); err != nil {
		return nil, err
	}
	return r, tx.Commit()
}

// DeletePipelineRun removes a finished run. ENOTFOUND if absent, ECONFLICT
// while it is live.
func (db *DB) DeletePipelineRun(ctx context.Context, id string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r, err := findRun(ctx, tx, id, true)
	if err != nil {
		return err
	}
	if !atrium.RunFinished(r.Status) {
		return atrium.Errorf(atrium.ECONFLICT, "pipeline run %s is %s; terminate it before deleting it", id, r.Status)
	}
	if _, err := tx.exec(ctx, "DELETE FROM pipeline_runs WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete pipeline run: %w", err)
	}
	if err := tx.recordAudit(ctx, r.WorkspaceID, r.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// runEventData is the data of pipeline run and node events.
type runEventData struct {
	RunID         string `json:"runId"`
	PipelineID    string `json:"pipelineId"`
	DisplayName   string `json:"displayName"`
	Node          string `json:"node,omitempty"`
	JobID         string `json:"jobId,omitempty"`
	From          string `json:"from"`
	To            string `json:"to"`
	ReasonCode    string `json:"reasonCode,omitempty"`
	ReasonMessage string `json:"reasonMessage,omitempty"`
	Creator       string `json:"creator"`
	Accessibility string `json:"accessibility"`
	Attempt       int    `json:"attempt"`
	Actor         string `json:"actor"`
}

// insertRunEvents writes the run's status event when before[""] is set
// (or before is nil: the run was created) and a node event for every node
// whose status differs from before[name] (nodes absent from before count
// as new only when the run was created: they start Pending, no event).
func insertRunEvents(ctx context.Context, tx *txn, r *atrium.PipelineRun, from string, before map[string]string, notBefore time.Time) error {
	at := tx.now
	if at.Before(notBefore) {
		at = notBefore
	}
	source := "/workspaces/" + r.WorkspaceID + "/pipeline-runs/" + r.ID
	emit := func(typ string, d runEventData) error {
		d.RunID, d.PipelineID, d.DisplayName = r.ID, r.PipelineID, r.DisplayName
		d.Creator, d.Accessibility, d.Attempt, d.Actor = r.Creator, r.Accessibility, r.Attempt, eventActor(ctx)
		data, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("pipeline run event data: %w", err)
		}
		return insertEvent(ctx, tx, &atrium.Event{Type: typ, Source: source, Subject: r.ID, Time: at, WorkspaceID: r.WorkspaceID, Data: data})
	}
	if _, changed := before[""]; before == nil || changed {
		if err := emit(atrium.EventPipelineRunChanged, runEventData{From: from, To: r.Status, ReasonCode: r.ReasonCode, ReasonMessage: r.ReasonMessage}); err != nil {
			return err
		}
	}
	for _, n := range r.Nodes {
		prev, ok := before[n.Name]
		if !ok || prev == n.Status {
			continue
		}
		if err := emit(atrium.EventPipelineNodeChanged, runEventData{Node: n.Name, JobID: n.JobID, From: prev, To: n.Status, ReasonMessage: n.ReasonMessage}); err != nil {
			return err
		}
	}
	return nil
}
