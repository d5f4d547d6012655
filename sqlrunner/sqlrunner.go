// Package sqlrunner runs SQL jobs (jobs of Kind SQL, the MaxCompute
// analogue): it claims Queuing SQL jobs (Queuing → Running, guarded by the
// job's version so one server claims each), runs their script against the
// job's warehouse connection with the job's timeout, records the result in
// the job's spec (spec.sql.result: rows affected and a preview of the last
// statement that returned rows) and ends them Succeeded or Failed. A stop
// (Stopping) cancels the query's context; pgconn then sends PostgreSQL a
// cancel request, and the job ends Stopped. Status changes go through
// Store.UpdateJob, so history, events and the outbox are written as for
// every job.
package sqlrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"atrium"
	"atrium/secret"
)

// Store is what the runner needs from the store.
type Store interface {
	FindJobs(ctx context.Context, f atrium.JobFilter) ([]*atrium.Job, int, error)
	FindJobByID(ctx context.Context, id string) (*atrium.Job, error)
	UpdateJob(ctx context.Context, id string, version int64, upd atrium.JobUpdate) (*atrium.Job, error)
	FindAssetByID(ctx context.Context, id string) (*atrium.Asset, error)
}

// Reason codes of SQL jobs besides the common ones.
const (
	ReasonSQLError    = "SQLError"
	ReasonInterrupted = "Interrupted"
)

// InterruptedMessage is the reason of a job that was Running when its
// server died.
const InterruptedMessage = "interrupted: the server restarted; the query was cancelled by PostgreSQL when its connection closed"

// Runner runs SQL jobs. Start it with Run; Wake asks for a pass soon.
type Runner struct {
	store   Store
	secrets *secret.Box
	logger  *slog.Logger
	// Poll is how often the runner looks for work without a Wake.
	Poll time.Duration
	// MaxConcurrent caps the queries running at once on this server.
	MaxConcurrent int

	wake    chan struct{}
	mu      sync.Mutex
	running map[string]*run
	wg      sync.WaitGroup
}

type run struct {
	cancel  context.CancelFunc
	stopped bool // a user asked to stop
	by      string
}

// New returns a runner; secrets opens connection passwords (nil: only
// connections without password work).
func New(store Store, secrets *secret.Box, logger *slog.Logger) *Runner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{store: store, secrets: secrets, logger: logger, Poll: time.Second, MaxConcurrent: 8,
		wake: make(chan struct{}, 1), running: map[string]*run{}}
}

// Wake asks for a pass soon.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run recovers jobs a dead server left Running, then runs passes until ctx
// ends; it then cancels the running queries and waits for them.
func (r *Runner) Run(ctx context.Context) {
	if err := r.Recover(ctx); err != nil && ctx.Err() == nil {
		r.logger.Warn("sqlrunner: recover interrupted SQL jobs", "err", err)
	}
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for {
		if err := r.pass(ctx); err != nil && ctx.Err() == nil {
			r.logger.Warn("sqlrunner: pass", "err", err)
		}
		select {
		case <-ctx.Done():
			r.mu.Lock()
			for _, ru := range r.running {
				ru.cancel()
			}
			r.mu.Unlock()
			r.wg.Wait()
			return
		case <-r.wake:
		case <-t.C:
		}
	}
}

// Recover ends SQL jobs left Running (Failed: their connection died with
// the server, so PostgreSQL cancelled the query) or Stopping (Stopped).
// Call it once at start-up, before any pass of this server.
func (r *Runner) Recover(ctx context.Context) error {
	jobs, _, err := r.store.FindJobs(ctx, atrium.JobFilter{Kind: atrium.KindSQL, Statuses: []string{atrium.JobRunning, atrium.JobStopping}, Limit: 10000})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Status == atrium.JobRunning {
			err = r.finish(ctx, j.ID, atrium.JobFailed, ReasonInterrupted, InterruptedMessage, nil)
		} else {
			err = r.finish(ctx, j.ID, atrium.JobStopped, atrium.ReasonStoppedByUser, "stopped: the server restarted and the query was cancelled when its connection closed", nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) pass(ctx context.Context) error {
	stopping, _, err := r.store.FindJobs(ctx, atrium.JobFilter{Kind: atrium.KindSQL, Statuses: []string{atrium.JobStopping}, Limit: 1000})
	if err != nil {
		return err
	}
	for _, j := range stopping {
		r.mu.Lock()
		ru := r.running[j.ID]
		if ru != nil && !ru.stopped {
			ru.stopped, ru.by = true, j.ReasonMessage
			ru.cancel()
		}
		r.mu.Unlock()
		if ru == nil { // not running here (claimed but never started): end it
			if err := r.finish(ctx, j.ID, atrium.JobStopped, atrium.ReasonStoppedByUser, j.ReasonMessage, nil); err != nil {
				return err
			}
		}
	}
	r.mu.Lock()
	free := r.MaxConcurrent - len(r.running)
	r.mu.Unlock()
	if free <= 0 {
		return nil
	}
	queued, _, err := r.store.FindJobs(ctx, atrium.JobFilter{Kind: atrium.KindSQL, Statuses: []string{atrium.JobQueuing}, Limit: 1000})
	if err != nil {
		return err
	}
	// FindJobs is newest first; start the oldest first.
	for i := len(queued) - 1; i >= 0 && free > 0; i-- {
		j := queued[i]
		now := time.Now().UTC()
		upd := status(atrium.JobRunning, atrium.ReasonStarted, "running on connection "+sqlSpec(j).ConnectionID)
		upd.StartedAt, upd.QueuePosition = ptr(&now), ptr(0)
		j2, err := r.store.UpdateJob(ctx, j.ID, j.Version, upd)
		if atrium.ErrorCode(err) == atrium.ECONFLICT || atrium.ErrorCode(err) == atrium.ENOTFOUND {
			continue // stopped, deleted or claimed meanwhile
		} else if err != nil {
			return err
		}
		free--
		qctx, cancel := context.WithCancel(ctx)
		r.mu.Lock()
		r.running[j.ID] = &run{cancel: cancel}
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer cancel()
			r.execute(qctx, j2)
			r.mu.Lock()
			delete(r.running, j2.ID)
			r.mu.Unlock()
		}()
	}
	return nil
}

func sqlSpec(j *atrium.Job) *atrium.SQLJobSpec {
	if j.Spec.SQL == nil {
		return &atrium.SQLJobSpec{}
	}
	return j.Spec.SQL
}

// execute runs j's script and ends the job.
func (r *Runner) execute(ctx context.Context, j *atrium.Job) {
	spec := sqlSpec(j)
	timeout := time.Duration(spec.Timeout)
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := r.query(qctx, j.WorkspaceID, spec)

	r.mu.Lock()
	ru := r.running[j.ID]
	stopped, by := ru != nil && ru.stopped, ""
	if ru != nil {
		by = ru.by
	}
	r.mu.Unlock()
	// The job's final write must land even when the server is shutting down.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer wcancel()
	var st, code, msg string
	switch {
	case err == nil:
		st, code, msg = atrium.JobSucceeded, atrium.ReasonCompleted, fmt.Sprintf("completed: %d rows affected", res.RowsAffected)
	case stopped:
		st, code, msg = atrium.JobStopped, atrium.ReasonStoppedByUser, "query cancelled; "+by
	case errors.Is(qctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		st, code, msg = atrium.JobFailed, atrium.ReasonMaxRunningTimeExceeded, fmt.Sprintf("timed out after %s; the query was cancelled", timeout)
	case ctx.Err() != nil:
		st, code, msg = atrium.JobFailed, ReasonInterrupted, "interrupted: the server stopped; the query was cancelled"
	default:
		st, code, msg = atrium.JobFailed, ReasonSQLError, errorMessage(err)
	}
	if err := r.finish(wctx, j.ID, st, code, msg, res); err != nil {
		r.logger.Warn("sqlrunner: end SQL job", "job", j.ID, "err", err)
	}
}

func errorMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %s (SQLSTATE %s)", pe.Severity, pe.Message, pe.Code)
	}
	return err.Error()
}

// query connects and runs the script; res holds what was read even on error.
func (r *Runner) query(ctx context.Context, workspaceID string, spec *atrium.SQLJobSpec) (*atrium.SQLResult, error) {
	res := &atrium.SQLResult{}
	a, err := r.store.FindAssetByID(ctx, spec.ConnectionID)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (a.WorkspaceID != workspaceID || a.Kind != atrium.AssetConnection)) {
		return res, fmt.Errorf("connection %s no longer exists", spec.ConnectionID)
	} else if err != nil {
		return res, err
	}
	var cs atrium.ConnectionSpec
	if err := json.Unmarshal(a.Spec, &cs); err != nil {
		return res, fmt.Errorf("connection %s: %w", a.ID, err)
	}
	cfg, err := pgconn.ParseConfig(cs.URL)
	if err != nil {
		return res, fmt.Errorf("connection %s: bad url", a.ID)
	}
	if len(a.Secret) > 0 {
		if r.secrets == nil {
			return res, fmt.Errorf("connection %s: this server has no secret key to open its password", a.ID)
		}
		pw, err := r.secrets.Open(a.Secret, []byte(a.ID))
		if err != nil {
			return res, fmt.Errorf("connection %s: its password cannot be opened with this server's key", a.ID)
		}
		cfg.Password = string(pw)
	}
	// A cancelled context sends PostgreSQL a cancel request (the default
	// only closes the socket, which a sleeping backend does not notice).
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return res, scrub(err, cfg.Password)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	mrr := conn.Exec(ctx, spec.Script)
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		fields := rr.FieldDescriptions()
		if len(fields) > 0 {
			res.Columns, res.Rows, res.Truncated = make([]string, len(fields)), [][]string{}, false
			for i, f := range fields {
				res.Columns[i] = f.Name
			}
			for rr.NextRow() {
				if len(res.Rows) >= atrium.SQLPreviewRows {
					res.Truncated = true
					continue
				}
				vals := rr.Values()
				row := make([]string, len(vals))
				for i, v := range vals {
					row[i] = string(v)
				}
				res.Rows = append(res.Rows, row)
			}
		}
		tag, err := rr.Close()
		if err != nil {
			_ = mrr.Close()
			return res, err
		}
		if !tag.Select() {
			res.RowsAffected += tag.RowsAffected()
		}
	}
	if err := mrr.Close(); err != nil {
		return res, err
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// scrub keeps a password out of an error message.
func scrub(err error, password string) error {
	if password == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, password) {
		return err
	}
	return errors.New(strings.ReplaceAll(msg, password, "***"))
}

// finish ends job id (unless it already ended), retrying on conflicts.
func (r *Runner) finish(ctx context.Context, id, st, code, msg string, res *atrium.SQLResult) error {
	for range 10 {
		j, err := r.store.FindJobByID(ctx, id)
		if atrium.ErrorCode(err) == atrium.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		if atrium.JobFinished(j.Status) {
			return nil
		}
		upd := status(st, code, msg)
		if st == atrium.JobFailed {
			upd.Events[0].Type = "Warning"
		}
		now := time.Now().UTC()
		upd.FinishedAt = ptr(&now)
		if res != nil && j.Spec.SQL != nil {
			spec := j.Spec
			s := *spec.SQL
			s.Result = res
			spec.SQL = &s
			upd.Spec = &spec
		}
		_, err = r.store.UpdateJob(ctx, id, j.Version, upd)
		if atrium.ErrorCode(err) == atrium.ECONFLICT {
			continue
		}
		return err
	}
	return fmt.Errorf("job %s kept changing", id)
}

func status(st, code, msg string) atrium.JobUpdate {
	return atrium.JobUpdate{Status: &st, ReasonCode: &code, ReasonMessage: &msg,
		Events: []atrium.JobEvent{{Type: "Normal", Reason: code, Message: msg}}}
}

func ptr[T any](v T) *T { return &v }
