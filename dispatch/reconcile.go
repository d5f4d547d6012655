package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"atrium"
	"atrium/executor"
)

// reconcile brings one live job up to date with its executor and the
// clock. It reports whether it wrote the job (the pass then re-reads the
// view, so later writes carry the new version).
func (s *Service) reconcile(ctx context.Context, j *atrium.Job, now time.Time) (bool, error) {
	if j.Status == atrium.JobQueuing {
		return s.checkQueueTimeout(ctx, j, now)
	}
	ex, err := s.executorFor(j.Backend)
	if err != nil {
		return false, err
	}
	h := handleOf(j)
	if j.ExecutorHandle == "" {
		// Admitted, but the start was not recorded: a crash came between.
		// Recover finds the attempt if it began; otherwise start it now.
		if err := ex.Recover(ctx, h); errors.Is(err, executor.ErrNotFound) {
			if j.Status != atrium.JobEnvPreparing {
				return s.finish(ctx, j, h, ex, atrium.JobStopped, j.ReasonCode, j.ReasonMessage)
			}
			return true, s.start(ctx, j, ex)
		} else if err != nil {
			return false, err
		}
	}
	pods, err := ex.Inspect(ctx, h)
	if err != nil {
		return false, fmt.Errorf("inspect: %w", err)
	}
	merged, sum := mergePods(j.Pods, pods)

	switch j.Status {
	case atrium.JobStopping, atrium.JobRestarting:
		if !sum.allDone {
			// Stop is idempotent: repeat it until the pods are gone.
			return false, ex.Stop(ctx, h, s.cfg.Grace)
		}
		if j.Status == atrium.JobRestarting {
			return true, s.requeue(ctx, j, merged, h, ex)
		}
		return s.finish(ctx, j, h, ex, atrium.JobStopped, j.ReasonCode, j.ReasonMessage, merged...)
	}

	// EnvPreparing or Running. A gang that started, however briefly, is
	// recorded Running first, so its history and startedAt say it ran.
	if j.Status == atrium.JobEnvPreparing && !sum.firstStart.IsZero() {
		upd := status(atrium.JobRunning, atrium.ReasonStarted, fmt.Sprintf("%d of %d pods started", countStarted(merged), len(merged)), "Normal")
		at := sum.firstStart
		upd.StartedAt, upd.Pods = ptr(&at), &merged
		if j, err = s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd); err != nil {
			return false, err
		}
		if !sum.allDone && sum.failed == nil {
			return true, nil
		}
	}
	if sum.failed != nil {
		if j.Spec.RestartPolicy == "OnFailure" && j.Attempt <= j.Spec.MaxRestarts {
			msg := fmt.Sprintf("pod %s %s; restarting the gang (restart %d of %d)", sum.failed.Name, sum.describeEnd(), j.Attempt, j.Spec.MaxRestarts)
			if err := ex.Stop(ctx, h, s.cfg.Grace); err != nil {
				return false, err
			}
			upd := status(atrium.JobRestarting, atrium.ReasonRestartedByPolicy, msg, "Warning")
			upd.Pods = &merged
			j2, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd)
			if err != nil {
				return false, err
			}
			return true, s.requeue(ctx, j2, merged, h, ex)
		}
		if err := ex.Stop(ctx, h, s.cfg.Grace); err != nil {
			return false, err
		}
		pods, err := ex.Inspect(ctx, h)
		if err == nil {
			merged, _ = mergePods(merged, pods)
		}
		code := atrium.ReasonPodFailed
		if sum.failedReason != "" {
			code = sum.failedReason // OOMKilled: the cause, not only the symptom
		}
		return s.finish(ctx, j, h, ex, atrium.JobFailed, code,
			fmt.Sprintf("pod %s %s", sum.failed.Name, sum.describeEnd()), merged...)
	}
	if sum.allDone && j.Kind == atrium.KindDSW {
		return s.finish(ctx, j, h, ex, atrium.JobStopped, atrium.ReasonProcessEnded, "the instance's process ended (exit code 0)", merged...)
	}
	if sum.allDone {
		return s.finish(ctx, j, h, ex, atrium.JobSucceeded, atrium.ReasonCompleted, fmt.Sprintf("all %d pods exited 0", len(merged)), merged...)
	}
	if limit := time.Duration(j.MaxRunningTime); limit > 0 && j.StartedAt != nil && now.Sub(*j.StartedAt) >= limit {
		if err := ex.Stop(ctx, h, s.cfg.Grace); err != nil {
			return false, err
		}
		if pods, err := ex.Inspect(ctx, h); err == nil {
			merged, _ = mergePods(merged, pods)
		}
		return s.finish(ctx, j, h, ex, atrium.JobStopped, atrium.ReasonMaxRunningTimeExceeded,
			fmt.Sprintf("ran longer than its maximum running time of %s", limit), merged...)
	}
	if idle, since := idleFor(j, merged, now); idle > 0 {
		// Record before acting: the Stopping pass stops the pods and ends
		// the instance Stopped, keeping the reason.
		upd := status(atrium.JobStopping, atrium.ReasonIdleTimeout,
			fmt.Sprintf("not used through its proxy since %s (idleTimeout %s)", since.Format(time.RFC3339), idle), "Normal")
		upd.Pods = &merged
		if _, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd); err != nil {
			return false, err
		}
		return true, ex.Stop(ctx, h, s.cfg.Grace)
	}
	if podsEqual(j.Pods, merged) {
		return false, nil
	}
	_, err = s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{Pods: &merged})
	return err == nil, err
}

func countStarted(pods []atrium.Pod) int {
	n := 0
	for _, p := range pods {
		if p.StartedAt != nil {
			n++
		}
	}
	return n
}

// idleFor returns the idle timeout of a running DSW instance that has been
// idle that long, and since when; 0 when it is not idle. Idle time counts
// from the last use through the proxy, or from the start of the current
// attempt when that is later.
func idleFor(j *atrium.Job, pods []atrium.Pod, now time.Time) (time.Duration, time.Time) {
	idle := time.Duration(j.Spec.IdleTimeout)
	if j.Kind != atrium.KindDSW || j.Status != atrium.JobRunning || idle <= 0 {
		return 0, time.Time{}
	}
	var since time.Time
	for _, t := range []*time.Time{j.LastActiveAt, j.StartedAt} {
		if t != nil && t.After(since) {
			since = *t
		}
	}
	for _, p := range pods {
		if p.StartedAt != nil && p.StartedAt.After(since) {
			since = *p.StartedAt
		}
	}
	if since.IsZero() || now.Sub(since) < idle {
		return 0, time.Time{}
	}
	return idle, since
}

// checkQueueTimeout stops a job queued longer than its workspace allows.
func (s *Service) checkQueueTimeout(ctx context.Context, j *atrium.Job, now time.Time) (bool, error) {
	cfg, err := s.cfg.Store.FindWorkspaceConfig(ctx, j.WorkspaceID)
	if err != nil {
		return false, err
	}
	limit := time.Duration(cfg.QueueTimeout)
	if limit <= 0 || now.Sub(queuedSince(j)) < limit {
		return false, nil
	}
	upd := status(atrium.JobStopped, atrium.ReasonQueueTimeout, fmt.Sprintf("queued longer than the workspace's queue timeout of %s", limit), "Warning")
	upd.FinishedAt = ptr(&now)
	upd.QueuePosition = ptr(0)
	_, err = s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd)
	return true, err
}

// queuedSince is when the job last entered Queuing.
func queuedSince(j *atrium.Job) time.Time {
	for i := len(j.StatusHistory) - 1; i >= 0; i-- {
		if j.StatusHistory[i].Status == atrium.JobQueuing {
			return j.StatusHistory[i].Time
		}
	}
	return j.SubmittedAt
}

// finish ends a job in a final status and cleans the attempt up.
func (s *Service) finish(ctx context.Context, j *atrium.Job, h executor.Handle, ex executor.Executor, st, code, msg string, pods ...atrium.Pod) (bool, error) {
	now := s.cfg.Now()
	ev := "Normal"
	if st != atrium.JobSucceeded {
		ev = "Warning"
	}
	upd := status(st, code, msg, ev)
	upd.FinishedAt = ptr(&now)
	upd.CloseAllocations = true
	if pods != nil {
		upd.Pods = &pods
	}
	if _, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd); err != nil {
		return false, err
	}
	if err := ex.Cleanup(ctx, h); err != nil && !errors.Is(err, executor.ErrNotFound) {
		s.cfg.Logger.Warn("cleanup", "job", j.ID, "err", err)
	}
	return true, nil
}

// requeue returns a stopped gang to the queue (after preemption or a
// restart by policy), keeping its reason.
func (s *Service) requeue(ctx context.Context, j *atrium.Job, pods []atrium.Pod, h executor.Handle, ex executor.Executor) error {
	code, msg := j.ReasonCode, j.ReasonMessage
	upd := status(atrium.JobQueuing, code, msg, "Normal")
	upd.CloseAllocations = true // preempted and restarted time counts until here
	upd.Pods = &[]atrium.Pod{}
	upd.ExecutorHandle = ptr("")
	upd.ResourceGroupID, upd.Backend = ptr(""), ptr("")
	if _, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd); err != nil {
		return err
	}
	if err := ex.Cleanup(ctx, h); err != nil && !errors.Is(err, executor.ErrNotFound) {
		s.cfg.Logger.Warn("cleanup", "job", j.ID, "err", err)
	}
	return nil
}

// podSummary condenses executor reports.
type podSummary struct {
	running   int
	allDone   bool
	failed    *atrium.Pod // the first pod that failed or was lost
	failedMsg string      // the executor's word on it
	// failedReason is the executor's cause (OOMKilled), if it knows one.
	failedReason string
	firstStart   time.Time
}

// mergePods copies what the executor reports into the job's pods.
func mergePods(old []atrium.Pod, st []executor.PodStatus) ([]atrium.Pod, podSummary) {
	by := map[string]executor.PodStatus{}
	for _, p := range st {
		by[p.Name] = p
	}
	out := make([]atrium.Pod, len(old))
	sum := podSummary{allDone: len(old) > 0}
	for i, p := range old {
		out[i] = p
		r, ok := by[p.Name]
		if !ok {
			sum.allDone = false
			continue
		}
		switch r.Phase {
		case executor.PodPending:
			out[i].Status = atrium.PodPending
		case executor.PodRunning:
			out[i].Status = atrium.PodRunning
			sum.running++
		case executor.PodSucceeded:
			out[i].Status = atrium.PodSucceeded
		case executor.PodStopped:
			out[i].Status = atrium.PodStopped
		case executor.PodFailed, executor.PodLost:
			out[i].Status = atrium.PodFailed
		}
		if !r.Phase.Done() {
			sum.allDone = false
		}
		if r.ExitCode != nil {
			out[i].ExitCode = r.ExitCode
		}
		// A pod with a network of its own (a container) serves its DSW
		// port on its own address, not on the host's loopback.
		if _, port, err := net.SplitHostPort(p.Endpoint); err == nil && r.Address != "" {
			out[i].Endpoint = net.JoinHostPort(r.Address, port)
		}
		if !r.StartedAt.IsZero() {
			t := r.StartedAt.UTC()
			out[i].StartedAt = &t
			if sum.firstStart.IsZero() || t.Before(sum.firstStart) {
				sum.firstStart = t
			}
		}
		if !r.FinishedAt.IsZero() {
			t := r.FinishedAt.UTC()
			out[i].FinishedAt = &t
		}
		if (r.Phase == executor.PodFailed || r.Phase == executor.PodLost) && sum.failed == nil {
			f := out[i]
			sum.failed, sum.failedMsg, sum.failedReason = &f, r.Message, r.Reason
		}
	}
	return out, sum
}

// describeEnd says how the failed pod ended.
func (sum podSummary) describeEnd() string {
	switch {
	case sum.failedReason != "" && sum.failedMsg != "":
		return "was " + strings.TrimPrefix(sum.failedMsg, "was ")
	case sum.failed.ExitCode != nil:
		return fmt.Sprintf("exited with code %d", *sum.failed.ExitCode)
	case sum.failedMsg != "":
		return "was lost: " + sum.failedMsg
	}
	return "was lost"
}

func podsEqual(a, b []atrium.Pod) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Status != y.Status || !intPtrEq(x.ExitCode, y.ExitCode) || !timePtrEq(x.StartedAt, y.StartedAt) || !timePtrEq(x.FinishedAt, y.FinishedAt) {
			return false
		}
	}
	return true
}

func intPtrEq(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
func timePtrEq(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

func sortStrings(s []string) { sort.Strings(s) }
