// Package dispatch is the scheduling loop: it feeds the scheduler core from
// the store, persists its admissions and preemptions, starts admitted gangs
// on the executor of their resource group, follows running pods to their
// end, and enforces stops, maximum running times and queue timeouts.
//
// Every decision is written to the store (with the job's version, so a
// concurrent API change wins and the loop retries next pass) before it acts
// on an executor, and every action is idempotent, so a crash at any point
// neither loses a job nor runs one twice.
package dispatch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"atrium"
	"atrium/cluster"
	"atrium/executor"
	"atrium/scheduler"
)

// Store is what the loop reads and writes.
type Store interface {
	cluster.Store
	FindJobByID(ctx context.Context, id string) (*atrium.Job, error)
	UpdateJob(ctx context.Context, id string, version int64, upd atrium.JobUpdate) (*atrium.Job, error)
	FindWorkspaceConfig(ctx context.Context, workspaceID string) (*atrium.WorkspaceConfig, error)
	FindResourceGroupByID(ctx context.Context, id string) (*atrium.ResourceGroup, error)
	atrium.AccountMappings
}

// Config configures a Service.
type Config struct {
	Store     Store
	Executors map[string]executor.Executor // by backend name
	Logger    *slog.Logger
	Now       func() time.Time
	Policy    scheduler.Policy
	// Interval between passes when nothing wakes the loop (default 1s).
	Interval time.Duration
	// JobsChanged, when set, is called after a pass in which jobs ended or
	// changed state, so what waits on them (pipelines) can look at once.
	JobsChanged func()
	// Grace is how long pods get between SIGTERM and SIGKILL (default 5s).
	Grace time.Duration
	// DSWPageCommand is what a DSW instance without a command runs: by
	// default this binary's hidden subcommand "dsw-page", Atrium's built-in
	// page on $ATRIUM_DSW_PORT.
	DSWPageCommand string
	// Mounts, when set, returns the host paths a job's pods see (its
	// output directory, data sources, pipeline inputs and outputs); an
	// error fails the start with it.
	Mounts func(ctx context.Context, j *atrium.Job) ([]executor.Mount, error)
	// OutputDir holds each training job's output directory
	// (<OutputDir>/<jobId>, in $ATRIUM_OUTPUT_DIR) on the local backend,
	// kept after the job ends.
	OutputDir string
}

// Service runs passes in the background; Pass runs one in the foreground
// (tests drive the loop with it, deterministically).
type Service struct {
	cfg  Config
	wake chan struct{}
	mu   sync.Mutex // one pass at a time

	stop chan struct{}
	done chan struct{}
}

// New validates cfg and fills defaults.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("dispatch: Store is required")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Interval = cmp.Or(cfg.Interval, time.Second)
	cfg.Grace = cmp.Or(cfg.Grace, 5*time.Second)
	if cfg.DSWPageCommand == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("dispatch: locating this binary for the DSW page: %w", err)
		}
		cfg.DSWPageCommand = ShellQuote(exe) + " dsw-page"
	}
	return &Service{cfg: cfg, wake: make(chan struct{}, 1)}, nil
}

// Wake asks for a pass soon (after a submission or a stop).
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start runs passes until Stop or ctx ends.
func (s *Service) Start(ctx context.Context) {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		var swept time.Time
		for {
			if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("scheduling pass failed", "err", err)
			}
			if time.Since(swept) > sweepEvery {
				swept = time.Now()
				if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
					s.cfg.Logger.Warn("sweeping ended attempts", "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-s.stop:
				return
			case <-t.C:
			case <-s.wake:
			}
		}
	}()
}

// Stop ends the background loop and waits for the pass in flight; a second
// Stop does nothing.
func (s *Service) Stop() {
	if s.stop == nil {
		return
	}
	close(s.stop)
	<-s.done
	s.stop = nil // Start may run the loop again (a regained lead)
}

// Pass reconciles running jobs with their executors, applies timeouts, runs
// the scheduler over the result and carries out its decisions.
// sweepEvery paces Sweep in the loop: at the start, then now and then.
const sweepEvery = 10 * time.Minute

// Sweeper is an executor that can remove what attempts left behind when
// Atrium died between a job's end and its clean-up.
type Sweeper interface {
	Sweep(ctx context.Context, keep func(jobID string, attempt int) bool) error
}

// Sweep asks every executor that can to remove the leftovers of attempts
// that are not a live job's current one.
func (s *Service) Sweep(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := cluster.Load(ctx, s.cfg.Store, s.cfg.Now(), s.cfg.Policy)
	if err != nil {
		return err
	}
	keep := func(jobID string, attempt int) bool {
		j, ok := v.Jobs[jobID]
		return ok && j.Attempt == attempt && j.Status != atrium.JobQueuing
	}
	var errs []error
	for _, ex := range s.cfg.Executors {
		if sw, ok := ex.(Sweeper); ok {
			errs = append(errs, sw.Sweep(ctx, keep))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) Pass(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	v, err := cluster.Load(ctx, s.cfg.Store, now, s.cfg.Policy)
	if err != nil {
		return err
	}
	changed := false
	for _, id := range sortedIDs(v.Jobs) {
		c, err := s.reconcile(ctx, v.Jobs[id], now)
		if err != nil {
			s.cfg.Logger.Warn("reconcile job", "job", id, "err", err)
		}
		changed = changed || c
	}
	if changed && s.cfg.JobsChanged != nil {
		s.cfg.JobsChanged()
	}
	if changed {
		// Ended and stopped jobs give capacity back before scheduling.
		if v, err = cluster.Load(ctx, s.cfg.Store, now, s.cfg.Policy); err != nil {
			return err
		}
	}
	if len(v.Snapshot.Queued) == 0 {
		return nil
	}
	d, err := scheduler.Schedule(v.Snapshot)
	if err != nil {
		return err
	}
	for _, p := range d.Preempted {
		if err := s.preempt(ctx, v, p, now); err != nil {
			s.cfg.Logger.Warn("preempt", "job", p.Workload, "err", err)
		}
	}
	for _, a := range d.Admitted {
		if err := s.admit(ctx, v, a, now); err != nil {
			s.cfg.Logger.Warn("admit", "job", a.Workload, "err", err)
		}
	}
	for _, p := range d.Queued {
		if err := s.explain(ctx, v.Jobs[p.Workload], p); err != nil && atrium.ErrorCode(err) != atrium.ECONFLICT {
			s.cfg.Logger.Warn("explain", "job", p.Workload, "err", err)
		}
	}
	return nil
}

// explain records why a queued job waits, writing only when it changed.
func (s *Service) explain(ctx context.Context, j *atrium.Job, p scheduler.Pending) error {
	if j == nil {
		return nil
	}
	code, msg := string(p.Reason.Code), p.Reason.Message()
	if p.Reason.Code == scheduler.Preempted || p.Reason.Code == "" {
		return nil // keep the Preempted reason until the scheduler has a new one
	}
	if j.ReasonCode == code && j.ReasonMessage == msg && j.QueuePosition == p.Position {
		return nil
	}
	_, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{ReasonCode: &code, ReasonMessage: &msg, QueuePosition: &p.Position})
	return err
}

func sortedIDs(m map[string]*atrium.Job) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sortStrings(ids)
	return ids
}

// handleOf decodes a job's executor handle; a job admitted but not yet
// started (or whose start was not recorded before a crash) gets the handle
// its attempt would have, which Recover can look up.
func handleOf(j *atrium.Job) executor.Handle {
	var h executor.Handle
	if j.ExecutorHandle != "" && json.Unmarshal([]byte(j.ExecutorHandle), &h) == nil {
		return h
	}
	return executor.Handle{Backend: j.Backend, JobID: j.ID, Attempt: j.Attempt}
}

func (s *Service) executorFor(backend string) (executor.Executor, error) {
	ex, ok := s.cfg.Executors[backend]
	if !ok {
		return nil, fmt.Errorf("no executor for backend %q on this server", backend)
	}
	return ex, nil
}

// ShellQuote quotes s for /bin/sh as one word.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func ptr[T any](v T) *T { return &v }

// status builds the update for a status change with its event.
func status(st, code, msg, evType string) atrium.JobUpdate {
	return atrium.JobUpdate{Status: &st, ReasonCode: &code, ReasonMessage: &msg,
		Events: []atrium.JobEvent{{Type: evType, Reason: code, Message: msg}}}
}
