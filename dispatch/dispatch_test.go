package dispatch_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
	"atrium/cluster"
	"atrium/dispatch"
	"atrium/executor"
	"atrium/executor/local"
	"atrium/resource"
	"atrium/sqlstore"
)

// env is a real store, a real local executor and a dispatcher over a local
// group with 8 cpu, 16Gi and 4 T4 GPUs (the machine's own GPUs do not
// matter: the scheduler hands out device indices).
type env struct {
	t     *testing.T
	store *sqlstore.DB
	ex    *local.Executor
	d     *dispatch.Service
	ws    *atrium.Workspace
	user  *atrium.User
	dir   string
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlstore.Open(ctx, filepath.Join(dir, "atrium.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ex, err := local.New(filepath.Join(dir, "pods"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: db, ex: ex, dir: dir}
	e.d = e.dispatcher()
	u := &atrium.User{Name: "alice", PlatformRoles: []string{}}
	must(t, db.CreateUser(ctx, u))
	ws := &atrium.Workspace{Name: "team", EnvTypes: []string{"prod"}, Status: atrium.WorkspaceEnabled, Creator: u.ID}
	must(t, db.CreateWorkspace(ctx, ws))
	e.ws, e.user = ws, u
	must(t, db.CreateResourceGroup(ctx, &atrium.ResourceGroup{ID: atrium.LocalResourceGroupID, Name: "local", Backend: atrium.BackendLocal}))
	must(t, db.PutNode(ctx, &atrium.Node{Name: "host", GroupID: atrium.LocalResourceGroupID, GPUType: "T4",
		Capacity: resource.Vector{MilliCPU: 8000, Memory: 16 << 30, GPU: 4}, State: atrium.NodeReady}))
	t.Cleanup(e.stopAll)
	return e
}

func (e *env) dispatcher() *dispatch.Service {
	d, err := dispatch.New(dispatch.Config{Store: e.store, Executors: map[string]executor.Executor{"local": e.ex}, Grace: time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// stopAll leaves no process behind whatever a test did.
func (e *env) stopAll() {
	jobs, _, _ := e.store.FindJobs(context.Background(), atrium.JobFilter{})
	for _, j := range jobs {
		for a := 1; a <= j.Attempt; a++ {
			_ = e.ex.Stop(context.Background(), executor.Handle{Backend: "local", JobID: j.ID, Attempt: a}, 0)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) quota(id string, max resource.List, strategy string, preemptor, preempted int) {
	e.t.Helper()
	must(e.t, e.store.CreateQuota(context.Background(), &atrium.Quota{ID: id, Name: id[len("quota-"):], ResourceGroups: []string{atrium.LocalResourceGroupID},
		Max: max, QueueStrategy: strategy, PreemptorPriority: preemptor, PreemptedPriority: preempted, OfferedToAll: true}))
}

// submit stores a job as the API would after validation.
func (e *env) submit(specYAML string) *atrium.Job {
	e.t.Helper()
	spec, err := atrium.ParseJobSpec([]byte(specYAML))
	must(e.t, err)
	must(e.t, spec.Normalize())
	_, err = cluster.FillCPUOnlyType(context.Background(), e.store, spec.QuotaID, spec)
	must(e.t, err)
	prio := spec.Priority
	if prio == 0 {
		prio = 1
	}
	now := time.Now().UTC()
	j := &atrium.Job{WorkspaceID: e.ws.ID, Kind: atrium.KindDLC, DisplayName: spec.DisplayName, JobType: spec.JobType,
		Creator: e.user.ID, CreatorName: e.user.Name, QuotaID: spec.QuotaID, Priority: prio, Accessibility: spec.Accessibility,
		MaxRunningTime: spec.MaxRunningTime, Spec: *spec, Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted,
		StatusHistory: []atrium.StatusChange{{Status: atrium.JobCreating, Time: now}, {Status: atrium.JobQueuing, Time: now}},
		Pods:          []atrium.Pod{}, SubmittedAt: now}
	must(e.t, e.store.CreateJob(context.Background(), j))
	return j
}

func (e *env) job(id string) *atrium.Job {
	e.t.Helper()
	j, err := e.store.FindJobByID(context.Background(), id)
	must(e.t, err)
	return j
}

// until runs passes until cond holds for the job (30 s at most).
func (e *env) until(id string, what string, cond func(j *atrium.Job) bool) *atrium.Job {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		must(e.t, e.d.Pass(context.Background()))
		j := e.job(id)
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s never %s; it is %s (%s: %s)", id, what, j.Status, j.ReasonCode, j.ReasonMessage)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func status(s string) func(*atrium.Job) bool {
	return func(j *atrium.Job) bool { return j.Status == s }
}

func (e *env) logs(j *atrium.Job, pod string) string {
	var b bytes.Buffer
	must(e.t, e.ex.Logs(context.Background(), executor.Handle{Backend: "local", JobID: j.ID, Attempt: j.Attempt}, pod, false, &b))
	return b.String()
}

func history(j *atrium.Job) string {
	var s []string
	for _, h := range j.StatusHistory {
		s = append(s, h.Status)
	}
	return strings.Join(s, "→")
}

// Acceptance 1: a PyTorchJob of 1 Master + 3 Workers with a GPU each ends
// Succeeded; ranks 0–3, world size 4, four distinct GPUs.
func TestGangRunsToSuccess(t *testing.T) {
	e := setup(t)
	e.quota("quota-team", resource.List{"T4": {MilliCPU: 8000, Memory: 16 << 30, GPU: 4}}, atrium.RoundRobin, 0, 0)
	j := e.submit(`
jobType: PyTorchJob
command: echo "rank=$RANK world=$WORLD_SIZE gpus=$CUDA_VISIBLE_DEVICES master=$MASTER_ADDR:$MASTER_PORT local=$LOCAL_RANK"
quotaId: quota-team
jobSpecs:
  - {type: Master, podCount: 1, image: pytorch:2.4, resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}}
  - {type: Worker, podCount: 3, image: pytorch:2.4, resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}}
`)
	j = e.until(j.ID, "succeeded", status(atrium.JobSucceeded))
	if h := history(j); h != "Creating→Queuing→EnvPreparing→Running→Succeeded" && h != "Creating→Queuing→EnvPreparing→Succeeded" {
		t.Errorf("history %s", h)
	}
	re := regexp.MustCompile(`rank=(\d) world=4 gpus=(\d) master=127\.0\.0\.1:\d+ local=\d`)
	ranks, gpus := map[string]bool{}, map[string]bool{}
	for _, p := range j.Pods {
		out := e.logs(j, p.Name)
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("pod %s printed %q", p.Name, out)
		}
		if m[1] != fmt.Sprint(p.Rank) || p.ExitCode == nil || *p.ExitCode != 0 || p.Status != atrium.PodSucceeded {
			t.Errorf("pod %+v printed %q", p, out)
		}
		ranks[m[1]], gpus[m[2]] = true, true
	}
	if len(ranks) != 4 || len(gpus) != 4 || j.Pods[0].Name != "master-0" || j.Pods[0].Rank != 0 {
		t.Fatalf("ranks %v gpus %v pods %+v", ranks, gpus, j.Pods)
	}
	evs, err := e.store.FindJobEvents(context.Background(), j.ID)
	must(t, err)
	var reasons []string
	for _, ev := range evs {
		reasons = append(reasons, ev.Reason)
	}
	if !strings.Contains(strings.Join(reasons, ","), "ImageNotPulled") {
		t.Errorf("no event says the image was not pulled: %v", reasons)
	}
}

const sleeper = `
jobType: CustomJob
command: sleep %d
quotaId: %s
priority: %d
jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 1Gi, gpu: %d, gpuType: T4}}]
`

// Acceptance 2: over quota stays Queuing with QuotaExhausted and the
// numbers, and starts when capacity frees.
func TestQueuesOnQuotaThenStarts(t *testing.T) {
	e := setup(t)
	e.quota("quota-small", resource.List{"T4": {MilliCPU: 4000, Memory: 8 << 30, GPU: 2}}, atrium.RoundRobin, 0, 0)
	first := e.submit(fmt.Sprintf(sleeper, 60, "quota-small", 1, 2))
	e.until(first.ID, "runs", status(atrium.JobRunning))
	second := e.submit(fmt.Sprintf(sleeper, 0, "quota-small", 1, 1))
	j := e.until(second.ID, "is explained", func(j *atrium.Job) bool { return j.ReasonCode == "QuotaExhausted" })
	if j.Status != atrium.JobQueuing || j.QueuePosition != 1 || !strings.Contains(j.ReasonMessage, "gpu=0") || !strings.Contains(j.ReasonMessage, "quota-small") {
		t.Fatalf("queued job: %s %s %q pos %d", j.Status, j.ReasonCode, j.ReasonMessage, j.QueuePosition)
	}
	// Stop the first: the second starts and finishes.
	must(t, stop(e, first.ID))
	e.until(first.ID, "stopped", status(atrium.JobStopped))
	e.until(second.ID, "succeeded", status(atrium.JobSucceeded))
}

// stop does what POST …/stop does for a running job.
func stop(e *env, id string) error {
	j := e.job(id)
	st, code, msg := atrium.JobStopping, atrium.ReasonStoppedByUser, "stopped by alice"
	_, err := e.store.UpdateJob(context.Background(), id, j.Version, atrium.JobUpdate{Status: &st, ReasonCode: &code, ReasonMessage: &msg})
	return err
}

// Acceptance 2, preemption: a priority-9 job preempts a priority-1 one of
// the same quota; the victim goes back to Queuing with reason Preempted and
// runs again later.
func TestPriorityPreemption(t *testing.T) {
	e := setup(t)
	e.quota("quota-team", resource.List{"T4": {MilliCPU: 8000, Memory: 16 << 30, GPU: 4}}, atrium.RoundRobin, 7, 3)
	low := e.submit(fmt.Sprintf(sleeper, 60, "quota-team", 1, 4))
	e.until(low.ID, "runs", status(atrium.JobRunning))
	pidLow := podPID(t, e, e.job(low.ID))
	high := e.submit(fmt.Sprintf(sleeper, 1, "quota-team", 9, 4))
	e.until(high.ID, "runs", func(j *atrium.Job) bool { return j.Status == atrium.JobRunning || j.Status == atrium.JobSucceeded })
	v := e.job(low.ID)
	if v.Status != atrium.JobQueuing && v.Status != atrium.JobEnvPreparing && v.Status != atrium.JobRunning {
		t.Fatalf("victim %s", v.Status)
	}
	if !strings.Contains(history(v), "Running→Restarting→Queuing") {
		t.Fatalf("victim history %s", history(v))
	}
	var preempted bool
	for _, h := range v.StatusHistory {
		preempted = preempted || (h.Status == atrium.JobRestarting && h.ReasonCode == atrium.ReasonPreempted && strings.Contains(h.ReasonMessage, high.ID))
	}
	if !preempted {
		t.Fatalf("no Preempted reason naming %s: %+v", high.ID, v.StatusHistory)
	}
	if alive(pidLow) {
		t.Fatalf("victim's process %d still runs", pidLow)
	}
	// The victim runs again (attempt 2) once the preemptor is done.
	v = e.until(low.ID, "runs again", func(j *atrium.Job) bool { return j.Status == atrium.JobRunning && j.Attempt == 2 })
	// The usage ledger counts both attempts: the preempted one closed, the
	// new one open.
	all, err := e.store.FindAllocations(context.Background(), atrium.AllocationFilter{WorkspaceID: e.ws.ID})
	must(t, err)
	var mine []*atrium.Allocation
	for _, a := range all {
		if a.JobID == low.ID {
			mine = append(mine, a)
		}
	}
	if len(mine) != 2 || mine[0].Attempt != 1 || mine[0].EndedAt == nil || mine[1].Attempt != 2 || mine[1].EndedAt != nil || mine[0].GPU != 4 {
		t.Fatalf("victim's allocations: %+v", mine)
	}
	must(t, stop(e, low.ID))
	e.until(low.ID, "stopped", status(atrium.JobStopped))
}

// Acceptance 3: maxRunningTime 2s on sleep 60 → Stopped,
// MaxRunningTimeExceeded, processes gone.
func TestMaxRunningTime(t *testing.T) {
	e := setup(t)
	e.quota("quota-team", resource.List{"T4": {MilliCPU: 8000, Memory: 16 << 30, GPU: 4}}, atrium.RoundRobin, 0, 0)
	j := e.submit(fmt.Sprintf(sleeper, 60, "quota-team", 1, 0) + "maxRunningTime: 2s\n")
	j = e.until(j.ID, "runs", status(atrium.JobRunning))
	pid := podPID(t, e, j)
	j = e.until(j.ID, "stopped", status(atrium.JobStopped))
	if j.ReasonCode != atrium.ReasonMaxRunningTimeExceeded || j.FinishedAt == nil {
		t.Fatalf("stopped with %s: %s", j.ReasonCode, j.ReasonMessage)
	}
	if alive(pid) {
		t.Fatalf("process %d survived", pid)
	}
}

// A failing pod fails the job with its exit code, and the rest of the gang
// is stopped.
func TestPodFailureFailsGang(t *testing.T) {
	e := setup(t)
	e.quota("quota-team", resource.List{"T4": {MilliCPU: 8000, Memory: 16 << 30, GPU: 4}}, atrium.RoundRobin, 0, 0)
	j := e.submit(`
jobType: PyTorchJob
quotaId: quota-team
jobSpecs:
  - {type: Master, podCount: 1, image: x, command: "sleep 60", resources: {cpu: 1, memory: 1Gi}}
  - {type: Worker, podCount: 1, image: x, command: "exit 3", resources: {cpu: 1, memory: 1Gi}}
`)
	// The host has only T4 nodes: CPU-only pods were given that gpuType.
	if got := j.Spec.JobSpecs[0].Resources.GPUType; got != "T4" {
		t.Fatalf("CPU-only role got gpuType %q", got)
	}
	j = e.until(j.ID, "failed", status(atrium.JobFailed))
	if j.ReasonCode != atrium.ReasonPodFailed || !strings.Contains(j.ReasonMessage, "worker-0 exited with code 3") {
		t.Fatalf("failed with %s: %s", j.ReasonCode, j.ReasonMessage)
	}
	for _, p := range j.Pods {
		if p.Status == atrium.PodRunning {
			t.Fatalf("pod %s still running", p.Name)
		}
	}
}

// Acceptance 4 in-process: a new dispatcher (a restarted server) picks up
// running jobs, sees them end with their exit codes, and never starts an
// attempt twice — also when the crash came between admission and start.
func TestRestartAdoptsRunningJobs(t *testing.T) {
	e := setup(t)
	e.quota("quota-team", resource.List{"T4": {MilliCPU: 8000, Memory: 16 << 30, GPU: 4}}, atrium.RoundRobin, 0, 0)
	ok := e.submit(fmt.Sprintf(sleeper, 2, "quota-team", 1, 1))
	bad := e.submit(strings.Replace(fmt.Sprintf(sleeper, 2, "quota-team", 1, 1), "sleep 2", "sleep 2; exit 5", 1))
	e.until(ok.ID, "runs", status(atrium.JobRunning))
	e.until(bad.ID, "runs", status(atrium.JobRunning))
	// A crash right after admission: the start was never recorded.
	lost := e.submit(fmt.Sprintf(sleeper, 1, "quota-team", 1, 1))
	j := e.job(lost.ID)
	st, code, msg := atrium.JobEnvPreparing, atrium.ReasonAdmitted, "admitted before the crash"
	pods := []atrium.Pod{{Name: "worker-0", Role: "Worker", Node: "host", GPUs: []int{3}, Status: atrium.PodPending}}
	rg, be := atrium.LocalResourceGroupID, "local"
	_, err := e.store.UpdateJob(context.Background(), j.ID, j.Version, atrium.JobUpdate{Status: &st, ReasonCode: &code, ReasonMessage: &msg,
		Pods: &pods, Attempt: ptr(1), ResourceGroupID: &rg, Backend: &be})
	must(t, err)

	// The "restarted server": a fresh executor and dispatcher over the same dirs.
	ex2, err := local.New(filepath.Join(e.dir, "pods"), nil)
	must(t, err)
	e.ex = ex2
	e.d = e.dispatcher()
	j1 := e.until(ok.ID, "succeeded", status(atrium.JobSucceeded))
	j2 := e.until(bad.ID, "failed", status(atrium.JobFailed))
	j3 := e.until(lost.ID, "succeeded", status(atrium.JobSucceeded))
	if *j1.Pods[0].ExitCode != 0 || *j2.Pods[0].ExitCode != 5 || j3.Attempt != 1 {
		t.Fatalf("exit codes %d %d, attempt %d", *j1.Pods[0].ExitCode, *j2.Pods[0].ExitCode, j3.Attempt)
	}
	for _, x := range []*atrium.Job{j1, j2, j3} {
		if x.Attempt != 1 {
			t.Errorf("job %s ran %d attempts", x.ID, x.Attempt)
		}
	}
}

// Stops racing the loop (the API writing while a pass admits) never start
// an attempt twice nor leave a process behind: every job ends Stopped or
// Succeeded after at most one attempt.
func TestStopsRaceAdmission(t *testing.T) {
	e := setup(t)
	e.quota("quota-team", resource.List{"T4": {MilliCPU: 8000, Memory: 16 << 30, GPU: 4}}, atrium.RoundRobin, 0, 0)
	var ids []string
	for range 6 {
		ids = append(ids, e.submit(fmt.Sprintf(sleeper, 30, "quota-team", 1, 0)).ID)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 10 {
			_ = e.d.Pass(context.Background())
		}
	}()
	for _, id := range ids {
		for {
			j := e.job(id)
			st, code, msg := atrium.JobStopping, atrium.ReasonStoppedByUser, "stopped"
			if j.Status == atrium.JobQueuing {
				st = atrium.JobStopped
			}
			_, err := e.store.UpdateJob(context.Background(), id, j.Version, atrium.JobUpdate{Status: &st, ReasonCode: &code, ReasonMessage: &msg})
			if atrium.ErrorCode(err) != atrium.ECONFLICT {
				must(t, err)
				break
			}
		}
	}
	wg.Wait()
	sort.Strings(ids)
	for _, id := range ids {
		j := e.until(id, "ended", func(j *atrium.Job) bool { return atrium.JobFinished(j.Status) })
		if j.Status != atrium.JobStopped || j.Attempt > 1 {
			t.Errorf("job %s: %s after %d attempts", id, j.Status, j.Attempt)
		}
		if j.Attempt == 1 && len(j.Pods) > 0 {
			if pid := podPID(t, e, j); alive(pid) {
				t.Errorf("job %s: process %d survived", id, pid)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// A job queued longer than the workspace's queue timeout is Stopped with
// reason QueueTimeout.
func TestQueueTimeout(t *testing.T) {
	e := setup(t)
	e.quota("quota-small", resource.List{"T4": {MilliCPU: 1000, Memory: 1 << 30, GPU: 1}}, atrium.RoundRobin, 0, 0)
	cfg := atrium.DefaultWorkspaceConfig(e.ws.ID)
	cfg.QueueTimeout = atrium.Duration(time.Second)
	must(t, e.store.PutWorkspaceConfig(context.Background(), cfg))
	// Needs two GPUs where the quota caps at one: it can never start.
	j := e.submit(fmt.Sprintf(sleeper, 1, "quota-small", 1, 2))
	j = e.until(j.ID, "timed out", status(atrium.JobStopped))
	if j.ReasonCode != atrium.ReasonQueueTimeout || j.FinishedAt == nil || j.Attempt != 0 {
		t.Fatalf("ended %s %s: %s (attempt %d)", j.Status, j.ReasonCode, j.ReasonMessage, j.Attempt)
	}
}

// A pod that always fails is restarted maxRestarts times, then the job fails.
func TestRestartPolicyFailsAfterMax(t *testing.T) {
	e := setup(t)
	e.quota("quota-team", resource.List{"T4": {MilliCPU: 8000, Memory: 16 << 30, GPU: 4}}, atrium.RoundRobin, 0, 0)
	spec := strings.Replace(fmt.Sprintf(sleeper, 0, "quota-team", 1, 0), "sleep 0", "exit 9", 1) + "restartPolicy: OnFailure\nmaxRestarts: 2\n"
	j := e.submit(spec)
	j = e.until(j.ID, "failed", status(atrium.JobFailed))
	if j.Attempt != 3 || !strings.Contains(j.ReasonMessage, "exited with code 9") {
		t.Fatalf("failed after %d attempts: %s", j.Attempt, j.ReasonMessage)
	}
	restarts := 0
	for _, h := range j.StatusHistory {
		if h.Status == atrium.JobRestarting && h.ReasonCode == atrium.ReasonRestartedByPolicy {
			restarts++
		}
	}
	if restarts != 2 {
		t.Fatalf("%d restarts in %s", restarts, history(j))
	}
}
