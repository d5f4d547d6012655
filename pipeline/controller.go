// Package pipeline is the pipeline controller: it advances pipeline runs
// by watching their nodes' jobs. A node whose upstream nodes all succeeded
// becomes a normal job (DLC for job and algorithm nodes, SQL for SQL nodes)
// that the scheduling loop or the SQL runner runs, so quotas, priorities
// and max runtime apply; parallel branches run in parallel.
//
// All state is in the store. A node's job is created in the same
// transaction that records its id on the run, guarded by the run's
// version, so a crash (or a second server) never submits a node twice and
// never loses one. Node inputs and outputs are paths under RunDir/<runId>.
package pipeline

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"atrium"
	"atrium/cluster"
)

// Store is what the controller reads and writes.
type Store interface {
	cluster.PrepareStore
	FindPipelineRuns(ctx context.Context, f atrium.PipelineRunFilter) ([]*atrium.PipelineRun, int, error)
	UpdatePipelineRun(ctx context.Context, id string, version int64, upd atrium.PipelineRunUpdate) (*atrium.PipelineRun, error)
	UpdateJob(ctx context.Context, id string, version int64, upd atrium.JobUpdate) (*atrium.Job, error)
	FindMemberByUser(ctx context.Context, workspaceID, userID string) (*atrium.Member, error)
}

// Config configures a Controller.
type Config struct {
	Store Store
	// RunDir holds each run's directory (<RunDir>/<runId>/<node>/<output>).
	RunDir string
	Logger *slog.Logger
	Now    func() time.Time
	// Interval between passes when nothing wakes the controller (default 1s).
	Interval time.Duration
	// WakeJobs and WakeSQL nudge the scheduling loop and the SQL runner
	// after node jobs were submitted or stopped; nil is fine.
	WakeJobs, WakeSQL func()
	// MakeDir makes a directory the run's pods write in (a run's directory,
	// then a node's, before the node's job starts); its parent exists. Nil
	// makes it 0755 for this process's user; the server gives one that
	// hands it to the pods' user.
	MakeDir func(path string) error
}

// Controller advances runs in the background; Pass runs one pass in the
// foreground.
type Controller struct {
	cfg  Config
	wake chan struct{}
	mu   sync.Mutex // one pass at a time
	stop chan struct{}
	done chan struct{}
}

// New validates cfg and fills defaults.
func New(cfg Config) (*Controller, error) {
	if cfg.Store == nil {
		return nil, errors.New("pipeline: Store is required")
	}
	if cfg.RunDir == "" {
		return nil, errors.New("pipeline: RunDir is required")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Interval = cmp.Or(cfg.Interval, time.Second)
	return &Controller{cfg: cfg, wake: make(chan struct{}, 1)}, nil
}

// Wake asks for a pass soon.
func (c *Controller) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Start runs passes until Stop or ctx ends.
func (c *Controller) Start(ctx context.Context) {
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.cfg.Interval)
		defer t.Stop()
		for {
			if err := c.Pass(ctx); err != nil && ctx.Err() == nil {
				c.cfg.Logger.Warn("pipeline: pass", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-c.stop:
				return
			case <-c.wake:
			case <-t.C:
			}
		}
	}()
}

// Stop ends the background passes and waits for the current one.
func (c *Controller) Stop() {
	if c.stop == nil {
		return
	}
	close(c.stop)
	<-c.done
	c.stop = nil
}

// Pass advances every live run once.
func (c *Controller) Pass(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	runs, _, err := c.cfg.Store.FindPipelineRuns(ctx, atrium.PipelineRunFilter{Live: true, Limit: 10000})
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range runs {
		err := c.advance(ctx, r)
		if atrium.ErrorCode(err) == atrium.ECONFLICT || atrium.ErrorCode(err) == atrium.ENOTFOUND {
			continue // changed or deleted meanwhile: next pass
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runDir is where run r's nodes read and write.
func (c *Controller) runDir(r *atrium.PipelineRun) string { return filepath.Join(c.cfg.RunDir, r.ID) }

// advance follows r's node jobs, submits the nodes that became ready,
// stops jobs of a terminating run, and settles the run's status.
func (c *Controller) advance(ctx context.Context, r *atrium.PipelineRun) error {
	jobs, err := c.nodeJobs(ctx, r)
	if err != nil {
		return err
	}
	nodes := slices.Clone(r.Nodes)
	terminating := r.Status == atrium.RunTerminating
	live := false
	for i := range nodes {
		n := &nodes[i]
		if n.JobID == "" {
			continue
		}
		j := jobs[n.JobID]
		follow(n, j, terminating, r, c.runDir(r))
		if j != nil && !atrium.JobFinished(j.Status) {
			live = true
			if terminating {
				c.stopJob(ctx, j)
			}
		}
	}
	upd := atrium.PipelineRunUpdate{Nodes: nodes}
	now := c.cfg.Now().UTC()
	if terminating {
		for i := range nodes {
			if nodes[i].Status == atrium.NodePending {
				nodes[i].Status, nodes[i].ReasonMessage = atrium.NodeTerminated, "the run was terminated"
			}
		}
		if !live {
			setStatus(&upd, atrium.RunTerminated, r.ReasonCode, r.ReasonMessage)
			upd.FinishedAt = ptr(&now)
		}
		return c.write(ctx, r, upd)
	}
	submitted, err := c.submitReady(ctx, r, nodes, &upd)
	if err != nil {
		return err
	}
	switch {
	case live || submitted:
		if r.Status == atrium.RunInitialized {
			setStatus(&upd, atrium.RunRunning, atrium.ReasonRunStarted, "running")
			upd.StartedAt = ptr(&now)
		}
	default:
		st, code, msg := settle(nodes)
		setStatus(&upd, st, code, msg)
		upd.FinishedAt = ptr(&now)
	}
	return c.write(ctx, r, upd)
}

// write stores upd unless it changes nothing, then wakes the runners of
// any job it created.
func (c *Controller) write(ctx context.Context, r *atrium.PipelineRun, upd atrium.PipelineRunUpdate) error {
	if upd.Status == nil && len(upd.Jobs) == 0 && slices.EqualFunc(upd.Nodes, r.Nodes, sameNode) {
		return nil
	}
	if _, err := c.cfg.Store.UpdatePipelineRun(ctx, r.ID, r.Version, upd); err != nil {
		return err
	}
	for _, j := range upd.Jobs {
		c.wakeFor(j.Kind)
	}
	return nil
}

func (c *Controller) wakeFor(kind string) {
	if kind == atrium.KindSQL && c.cfg.WakeSQL != nil {
		c.cfg.WakeSQL()
	} else if kind != atrium.KindSQL && c.cfg.WakeJobs != nil {
		c.cfg.WakeJobs()
	}
}

func (c *Controller) nodeJobs(ctx context.Context, r *atrium.PipelineRun) (map[string]*atrium.Job, error) {
	ids := []string{}
	for _, n := range r.Nodes {
		if n.JobID != "" {
			ids = append(ids, n.JobID)
		}
	}
	out := map[string]*atrium.Job{}
	if len(ids) == 0 {
		return out, nil
	}
	js, _, err := c.cfg.Store.FindJobs(ctx, atrium.JobFilter{IDs: ids, Limit: len(ids)})
	if err != nil {
		return nil, err
	}
	for _, j := range js {
		out[j.ID] = j
	}
	return out, nil
}

// stopJob asks a node's job to stop, as a user's stop does: a queued job
// ends at once, a running one goes Stopping. A conflict is retried next pass.
func (c *Controller) stopJob(ctx context.Context, j *atrium.Job) {
	if j.Status == atrium.JobStopping {
		return
	}
	st, code, msg := atrium.JobStopping, atrium.ReasonStoppedByUser, "the pipeline run was terminated"
	upd := atrium.JobUpdate{Status: &st, ReasonCode: &code, ReasonMessage: &msg,
		Events: []atrium.JobEvent{{Type: "Normal", Reason: code, Message: msg}}}
	if j.Status == atrium.JobQueuing || j.Status == atrium.JobCreating {
		st = atrium.JobStopped
		now := c.cfg.Now().UTC()
		upd.FinishedAt, upd.QueuePosition = ptr(&now), ptr(0)
	}
	if _, err := c.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd); err != nil {
		if atrium.ErrorCode(err) != atrium.ECONFLICT {
			c.cfg.Logger.Warn("pipeline: stop node job", "job", j.ID, "err", err)
		}
		return
	}
	c.wakeFor(j.Kind)
}

// follow sets a node's status, times and outputs from its job.
func follow(n *atrium.PipelineNode, j *atrium.Job, terminating bool, r *atrium.PipelineRun, runDir string) {
	if j == nil {
		if !atrium.NodeFinished(n.Status) {
			n.Status, n.ReasonMessage = atrium.NodeFailed, "its job "+n.JobID+" was deleted"
		}
		return
	}
	n.StartedAt, n.FinishedAt = j.StartedAt, j.FinishedAt
	switch j.Status {
	case atrium.JobCreating, atrium.JobQueuing, atrium.JobRestarting:
		n.Status, n.ReasonMessage = atrium.NodeQueuing, j.ReasonMessage
	case atrium.JobEnvPreparing, atrium.JobRunning, atrium.JobStopping:
		n.Status, n.ReasonMessage = atrium.NodeRunning, ""
	case atrium.JobSucceeded:
		n.Status, n.ReasonMessage = atrium.NodeSucceeded, ""
		n.Outputs = r.NodeOutputs(n.Name, runDir)
	case atrium.JobFailed:
		n.Status, n.ReasonMessage = atrium.NodeFailed, "job "+j.ID+" failed: "+j.ReasonMessage
	case atrium.JobStopped:
		if terminating {
			n.Status, n.ReasonMessage = atrium.NodeTerminated, "the run was terminated"
		} else {
			n.Status, n.ReasonMessage = atrium.NodeFailed, "job "+j.ID+" was stopped: "+j.ReasonMessage
		}
	}
}

// settle is the final status of a run none of whose nodes is live: Failed
// when a node that is not optional did not succeed.
func settle(nodes []atrium.PipelineNode) (status, code, msg string) {
	for _, n := range nodes {
		if n.Status == atrium.NodeSucceeded || (n.Optional && n.Status == atrium.NodeFailed) {
			continue
		}
		if n.Status == atrium.NodeFailed {
			return atrium.RunFailed, atrium.ReasonNodeFailed, "node " + n.Name + " failed: " + n.ReasonMessage
		}
	}
	for _, n := range nodes {
		if n.Status != atrium.NodeSucceeded && !(n.Optional && n.Status == atrium.NodeFailed) {
			return atrium.RunFailed, atrium.ReasonNodeFailed, "node " + n.Name + " is " + n.Status
		}
	}
	return atrium.RunSucceeded, atrium.ReasonRunCompleted, "every node succeeded"
}

func setStatus(upd *atrium.PipelineRunUpdate, st, code, msg string) {
	upd.Status, upd.ReasonCode, upd.ReasonMessage = &st, &code, &msg
}

func sameNode(a, b atrium.PipelineNode) bool {
	return a.Status == b.Status && a.JobID == b.JobID && a.ReasonMessage == b.ReasonMessage &&
		timeEq(a.StartedAt, b.StartedAt) && timeEq(a.FinishedAt, b.FinishedAt) && len(a.Outputs) == len(b.Outputs)
}

func timeEq(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

func ptr[T any](v T) *T { return &v }

// mkdirNode makes the run's and the node's directories before the node's
// job starts.
func (c *Controller) mkdirNode(runDir, node string) error {
	mk := c.cfg.MakeDir
	if mk == nil {
		mk = func(path string) error {
			if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			return nil
		}
	}
	if err := os.MkdirAll(c.cfg.RunDir, 0o755); err != nil {
		return err
	}
	if err := mk(runDir); err != nil {
		return err
	}
	return mk(filepath.Join(runDir, node))
}
