package dispatch_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
	"atrium/dispatch"
	"atrium/executor"
	"atrium/resource"
)

// slurmRecorder stands in for the slurm executor: it records the tasks it
// is given and reports their pods succeeded.
type slurmRecorder struct {
	mu    sync.Mutex
	tasks map[string]executor.Task
}

func (r *slurmRecorder) Name() string { return atrium.BackendSlurm }
func (r *slurmRecorder) Capabilities() executor.Capabilities {
	return executor.Capabilities{Recover: true, Logs: true}
}
func (r *slurmRecorder) Start(_ context.Context, t executor.Task) (executor.Handle, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tasks[t.JobID] = t
	h := executor.Handle{Backend: atrium.BackendSlurm, JobID: t.JobID, Attempt: t.Attempt, Ref: "1", Pods: map[string]string{}}
	for i, p := range t.Pods {
		h.Pods[p.Name] = string(rune('0' + i))
	}
	return h, nil
}
func (r *slurmRecorder) Inspect(_ context.Context, h executor.Handle) ([]executor.PodStatus, error) {
	var out []executor.PodStatus
	zero := 0
	for name := range h.Pods {
		out = append(out, executor.PodStatus{Name: name, Phase: executor.PodSucceeded, ExitCode: &zero, StartedAt: time.Now(), FinishedAt: time.Now()})
	}
	return out, nil
}
func (r *slurmRecorder) Stop(context.Context, executor.Handle, time.Duration) error { return nil }
func (r *slurmRecorder) Recover(context.Context, executor.Handle) error             { return nil }
func (r *slurmRecorder) Logs(context.Context, executor.Handle, string, bool, io.Writer) error {
	return nil
}
func (r *slurmRecorder) Cleanup(context.Context, executor.Handle) error { return nil }

func (r *slurmRecorder) runAs(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tasks[id].RunAs
}

// TestSlurmJobsRunAsMappedAccount: the loop starts a slurm group's job as
// the Unix account that applies to its creator: the group's default, then
// the workspace's mapping, then the user's, which wins; with none (mapping
// removed after submission) the start fails saying how to map one.
func TestSlurmJobsRunAsMappedAccount(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	rec := &slurmRecorder{tasks: map[string]executor.Task{}}
	d, err := dispatchWith(e, rec)
	must(t, err)
	e.d = d
	g := &atrium.ResourceGroup{ID: "rg-hpc", Name: "hpc", Backend: atrium.BackendSlurm, DefaultUnixAccount: "atrium-job"}
	must(t, e.store.CreateResourceGroup(ctx, g))
	must(t, e.store.PutNode(ctx, &atrium.Node{Name: "hpc-1", GroupID: g.ID, Capacity: resource.Vector{MilliCPU: 4000, Memory: 8 << 30}, State: atrium.NodeReady}))
	must(t, e.store.CreateQuota(ctx, &atrium.Quota{ID: "quota-hpc", Name: "hpc", ResourceGroups: []string{g.ID},
		Max: resource.List{"": {MilliCPU: 4000, Memory: 8 << 30}}, QueueStrategy: atrium.RoundRobin, OfferedToAll: true}))
	spec := `
jobType: PyTorchJob
command: id -un
quotaId: quota-hpc
jobSpecs:
  - {type: Master, podCount: 1, image: host, resources: {cpu: 1, memory: 1Gi}}
`
	run := func() *atrium.Job {
		t.Helper()
		j := e.submit(spec)
		return e.until(j.ID, "ended", func(j *atrium.Job) bool { return j.Status == atrium.JobSucceeded || j.Status == atrium.JobFailed })
	}

	j := run()
	if j.Status != atrium.JobSucceeded || rec.runAs(j.ID) != "atrium-job" {
		t.Fatalf("default: %s as %q (%s)", j.Status, rec.runAs(j.ID), j.ReasonMessage)
	}
	// image "host" is what runs on Slurm: nothing to say about pulling
	evs, err := e.store.FindJobEvents(ctx, j.ID)
	must(t, err)
	for _, ev := range evs {
		if ev.Reason == "ImageNotPulled" {
			t.Errorf("ImageNotPulled for image host: %s", ev.Message)
		}
	}

	must(t, e.store.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: g.ID, WorkspaceID: e.ws.ID, UnixAccount: "team"}))
	if j := run(); rec.runAs(j.ID) != "team" {
		t.Fatalf("workspace mapping: as %q", rec.runAs(j.ID))
	}
	must(t, e.store.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: g.ID, UserID: e.user.ID, UnixAccount: "alice"}))
	if j := run(); rec.runAs(j.ID) != "alice" {
		t.Fatalf("user mapping: as %q, want the user's over the workspace's", rec.runAs(j.ID))
	}

	must(t, e.store.DeleteAccountMapping(ctx, g.ID, e.ws.ID, ""))
	must(t, e.store.DeleteAccountMapping(ctx, g.ID, "", e.user.ID))
	_, err = e.store.UpdateResourceGroup(ctx, g.ID, atrium.ResourceGroupUpdate{DefaultUnixAccount: new(string)})
	must(t, err)
	j = run()
	if j.Status != atrium.JobFailed || j.ReasonCode != "StartFailed" ||
		!strings.Contains(j.ReasonMessage, "no Unix account is mapped for workspace "+e.ws.ID) ||
		!strings.Contains(j.ReasonMessage, "atrium rg account set hpc") {
		t.Fatalf("without an account: %s %s: %s", j.Status, j.ReasonCode, j.ReasonMessage)
	}
	if rec.runAs(j.ID) != "" {
		t.Errorf("started without an account")
	}
}

// dispatchWith is the env's dispatcher with one more executor.
func dispatchWith(e *env, extra executor.Executor) (*dispatch.Service, error) {
	return dispatch.New(dispatch.Config{Store: e.store, Grace: time.Second,
		Executors: map[string]executor.Executor{atrium.BackendLocal: e.ex, extra.Name(): extra}})
}
