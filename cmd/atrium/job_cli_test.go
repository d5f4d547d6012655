package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"atrium"
	"atrium/dispatch"
	"atrium/executor"
	"atrium/executor/local"
	"atrium/hostcap"
	"atrium/httpapi"
	"atrium/resource"
	"atrium/secret"
	"atrium/sqlstore"
)

// jobEnv is testEnv with a server that runs jobs: the scheduling loop and
// a real local executor over rg-local (cpu 8, memory 16Gi, 4 T4 GPUs) with
// quota-public offered to every workspace, as 'atrium serve
// --local-capacity cpu=8,memory=16Gi,gpu=4,gpuType=T4' sets it up. The
// admin is logged in and uses workspace team_a.
type jobEnv struct {
	*testEnv
	ex *local.Executor
}

func newJobEnv(t *testing.T) *jobEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, filepath.Join(dir, "a.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	tok := secret.NewToken()
	if ok, err := store.BootstrapAdmin(ctx, &atrium.User{Name: "admin", PlatformRoles: []string{atrium.RoleResourceAdmin}},
		&atrium.Token{Name: "t", Hash: secret.HashToken(tok)}); err != nil || !ok {
		t.Fatalf("BootstrapAdmin = %v, %v", ok, err)
	}
	capacity := hostcap.Capacity{Vector: resource.Vector{MilliCPU: 8000, Memory: 16 << 30, GPU: 4}, GPUType: "T4"}
	if err := registerLocal(ctx, store, capacity, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	ex, err := local.New(filepath.Join(dir, "pods"), nil)
	if err != nil {
		t.Fatal(err)
	}
	exs := map[string]executor.Executor{atrium.BackendLocal: ex}
	loop, err := dispatch.New(dispatch.Config{Store: store, Executors: exs, Grace: time.Second, Interval: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	loopCtx, cancel := context.WithCancel(ctx)
	loop.Start(loopCtx)
	api := httpapi.NewServer(store, nil)
	api.Jobs = &jobRuntime{loop: loop, executors: exs}
	ts := httptest.NewServer(api)
	dsw := httptest.NewUnstartedServer(nil)
	if dsw.Config.Handler, err = httpapi.NewDSWOrigin(api, httpapi.DSWOriginConfig{URL: "http://" + dsw.Listener.Addr().String(),
		Key: []byte("0123456789abcdef")}); err != nil {
		t.Fatal(err)
	}
	dsw.Start()
	t.Cleanup(func() {
		// The loop first, so it starts nothing more; then every attempt
		// of every job, so no process outlives the test.
		loop.Stop()
		cancel()
		jobs, _, _ := store.FindJobs(context.Background(), atrium.JobFilter{})
		for _, j := range jobs {
			for a := 1; a <= j.Attempt; a++ {
				_ = ex.Stop(context.Background(), executor.Handle{Backend: atrium.BackendLocal, JobID: j.ID, Attempt: a}, 0)
			}
		}
		ts.Close()
		dsw.Close()
		store.Close()
	})
	e := &jobEnv{testEnv: &testEnv{t: t, url: ts.URL, token: tok, tokenFile: filepath.Join(dir, "admin.token"),
		cfgPath: filepath.Join(dir, "cfg", "atrium", "config.json"), store: store}, ex: ex}
	if err := os.WriteFile(e.tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ATRIUM_CONFIG", e.cfgPath)
	for _, v := range []string{"ATRIUM_SERVER", "ATRIUM_TOKEN", "ATRIUM_WORKSPACE"} {
		t.Setenv(v, "")
	}
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	e.ok("workspace", "create", "team_a")
	e.ok("workspace", "use", "team_a")
	return e
}

// runLimited is run with a deadline, so a wait that never ends fails the
// test instead of hanging it.
func (e *jobEnv) runLimited(stdin string, args ...string) (string, string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil {
		e.t.Fatalf("atrium %s: still running after 60s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errb.String())
	}
	return out.String(), errb.String(), err
}

// job reads a job from the store.
func (e *jobEnv) job(id string) *atrium.Job {
	e.t.Helper()
	j, err := e.store.FindJobByID(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

// until waits (30 s at most) for the job to satisfy cond.
func (e *jobEnv) until(id, what string, cond func(*atrium.Job) bool) *atrium.Job {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
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

func (e *jobEnv) status(id, status string) *atrium.Job {
	e.t.Helper()
	return e.until(id, "became "+status, func(j *atrium.Job) bool { return j.Status == status })
}

// submit submits a spec from stdin and returns the new job's id.
func (e *jobEnv) submit(spec string) string {
	e.t.Helper()
	out, errOut, err := e.runLimited(spec, "job", "submit", "-f", "-", "-o", "json")
	if err != nil {
		e.t.Fatalf("job submit: %v\n%s%s", err, out, errOut)
	}
	var j atrium.Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		e.t.Fatalf("job submit -o json: %v\n%s", err, out)
	}
	return j.ID
}

var jobIDRE = regexp.MustCompile(`dlc-[a-z0-9]+`)

const example = "../../examples/jobs/"

// sqlExamples holds the SQL job examples (TestSQLCLI runs one).
const sqlExamples = "../../examples/sql/"

// gpuHog takes the quota's four GPUs until stopped.
const gpuHog = `displayName: hog
jobType: CustomJob
command: sleep 60
jobSpecs:
  - {type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 1Gi, gpu: 4, gpuType: T4}}
`

func TestJobSubmitWaitAndLogs(t *testing.T) {
	e := newJobEnv(t)

	// Acceptance 1: the DDP example ends Succeeded; the command's exit
	// status says so.
	out, errOut, err := e.runLimited("", "job", "submit", "-f", example+"gpu-gang.yaml", "--wait", "--poll-interval", "100ms")
	if err != nil {
		t.Fatalf("submit --wait: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	contains(t, out, "Submitted job dlc-", "(gpu-gang) to quota quota-public at priority 1: Queuing", "Succeeded: Completed")
	id := jobIDRE.FindString(out)
	// Not a terminal: plain progress lines, one per change, no \r.
	contains(t, errOut, id+" Queuing", id+" Succeeded")
	if strings.Contains(errOut, "\r") {
		t.Errorf("progress redrawn with \\r on a non-terminal:\n%q", errOut)
	}

	// Its logs: every pod, prefixed, ranks 0–3, world size 4, four GPUs.
	logs := e.ok("job", "logs", id)
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) != 4 {
		t.Fatalf("logs have %d lines, want 4:\n%s", len(lines), logs)
	}
	lineRE := regexp.MustCompile(`^\[(master-0|worker-[0-2])\] rank=(\d) world_size=(\d) gpus=(\d)$`)
	ranks, gpus := map[string]bool{}, map[string]bool{}
	for _, l := range lines {
		m := lineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("log line %q", l)
		}
		if m[3] != "4" {
			t.Errorf("world size in %q", l)
		}
		if m[1] == "master-0" && m[2] != "0" {
			t.Errorf("master is not rank 0: %q", l)
		}
		ranks[m[2]], gpus[m[4]] = true, true
	}
	if len(ranks) != 4 || !ranks["0"] || !ranks["3"] || len(gpus) != 4 {
		t.Errorf("ranks %v, gpus %v:\n%s", ranks, gpus, logs)
	}
	one := e.ok("job", "logs", id, "--pod", "worker-1")
	if !regexp.MustCompile(`^rank=\d world_size=4 gpus=\d\n$`).MatchString(one) {
		t.Errorf("logs --pod worker-1 = %q", one)
	}
	contains(t, e.fails("", "job", "logs", id, "--pod", "worker-9"), "400", "no pod", "master-0")

	contains(t, e.ok("job", "get", id), id, "gpu-gang", "PyTorchJob", "Succeeded", "Completed", "quota-public", "4 (0 running)")
	desc := e.ok("job", "describe", id)
	contains(t, desc, "Status history:", "TIME", "STATUS", "FOR", "Queuing", "EnvPreparing", "Succeeded",
		"ROLE", "PODS", "IMAGE", "Master", "localhost/atrium/busybox:latest", "2Gi", "T4",
		"Pods (4, 0 running):", "NAME", "RANK", "NODE", "GPUS", "EXIT", "master-0", "worker-2",
		"Events (", "ImageNotPulled")
	podRE := regexp.MustCompile(`(?m)^  worker-2\s+Worker\s+3\s+Succeeded\s+\S+\s+\d\s+0$`)
	if !podRE.MatchString(desc) {
		t.Errorf("describe lacks worker-2's pod row:\n%s", desc)
	}
	contains(t, e.ok("job", "events", id), "TIME", "REASON", "MESSAGE", "ImageNotPulled")
	var d struct {
		atrium.Job
		Events []*atrium.JobEvent `json:"events"`
	}
	if err := json.Unmarshal([]byte(e.ok("job", "describe", id, "-o", "json")), &d); err != nil || d.ID != id || len(d.Events) == 0 {
		t.Fatalf("describe -o json: %v %+v", err, d)
	}

	// logs -f waits for the job to start and follows it to the end; without
	// --pod every line carries its pod's name, even for a single pod.
	ticker := e.submit(`displayName: ticker
jobType: CustomJob
command: for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done
jobSpecs:
  - {type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 256Mi}}
`)
	out, errOut, err = e.runLimited("", "job", "logs", ticker, "-f")
	if err != nil {
		t.Fatalf("logs -f: %v\n%s", err, errOut)
	}
	if want := "[worker-0] tick 1\n[worker-0] tick 2\n[worker-0] tick 3\n[worker-0] tick 4\n[worker-0] tick 5\n"; out != want {
		t.Errorf("logs -f = %q, want %q", out, want)
	}
	e.status(ticker, atrium.JobSucceeded)

	// The list, with filters.
	list := e.ok("job", "list")
	contains(t, list, "ID", "NAME", "TYPE", "STATUS", "REASON", "PRIORITY", "QUOTA", "CREATOR", "AGE", id, ticker, "admin")
	if l := e.ok("job", "list", "--type", "pytorchjob", "--creator", "me", "--status", "succeeded"); !strings.Contains(l, id) || strings.Contains(l, ticker) {
		t.Errorf("list --type pytorchjob:\n%s", l)
	}
	var l httpapi.List[*atrium.Job]
	if err := json.Unmarshal([]byte(e.ok("job", "list", "--quota", "public", "--all-pages", "-o", "json")), &l); err != nil || l.TotalCount != 2 {
		t.Fatalf("list -o json: %v %+v", err, l)
	}
	contains(t, e.fails("", "job", "list", "--status", "Sleeping"), "--status", `"Sleeping" is not one of`)

	// Update, then delete a finished job.
	contains(t, e.ok("job", "update", id, "--public", "--description", "baseline"), "PUBLIC")
	contains(t, e.fails("", "job", "update", id, "--priority", "3"), "409", "has ended")
	contains(t, e.fails("", "job", "update", id), "nothing to change")
	contains(t, e.fails("", "job", "delete", id), "--yes")
	contains(t, e.ok("job", "delete", id, ticker, "--yes"), "Deleted job "+id, "Deleted job "+ticker)
	contains(t, e.fails("", "job", "get", id), "404", "not found")
}

func TestJobQueueDryRunStop(t *testing.T) {
	e := newJobEnv(t)
	node := nodeName(hostnameForTest(t))

	// Dry run on an idle cluster: it would start now, and where.
	out := e.ok("job", "submit", "-f", example+"gpu-gang.yaml", "--dry-run")
	contains(t, out, "Would start now in quota quota-public at priority 1 on "+node+" (master-0, worker-0, worker-1, worker-2)")
	var dr httpapi.DryRunResult
	if err := json.Unmarshal([]byte(e.ok("job", "submit", "-f", example+"gpu-gang.yaml", "--dry-run", "-o", "json")), &dr); err != nil || !dr.Admitted || len(dr.Pods) != 4 {
		t.Fatalf("dry run -o json: %v %+v", err, dr)
	}
	if l, _, _ := e.store.FindJobs(context.Background(), atrium.JobFilter{}); len(l) != 0 {
		t.Fatalf("a dry run created %d jobs", len(l))
	}

	// A job takes all four GPUs; the DDP job then waits for the quota.
	hog := e.submit(gpuHog)
	e.status(hog, atrium.JobRunning)
	out = e.ok("job", "submit", "-f", example+"gpu-gang.yaml", "--dry-run")
	contains(t, out, "Would wait in quota quota-public at priority 1: QuotaExhausted — quota quota-public has", "available for gpuType T4; requested", "gpu=4", ", position 1 in the queue")
	ddp := jobIDRE.FindString(e.ok("job", "submit", "-f", example+"gpu-gang.yaml"))
	e.until(ddp, "reported QuotaExhausted", func(j *atrium.Job) bool { return j.ReasonCode == "QuotaExhausted" && j.QueuePosition == 1 })
	list := e.ok("job", "list")
	if !regexp.MustCompile(ddp + `\s+gpu-gang\s+PyTorchJob\s+Queuing\s+#1 QuotaExhausted\s+1\s+quota-public\s+admin\s+\d+s`).MatchString(list) {
		t.Errorf("list does not show the queued job as #1 QuotaExhausted:\n%s", list)
	}
	if l := e.ok("job", "list", "--status", "Queuing"); !strings.Contains(l, ddp) || strings.Contains(l, hog) {
		t.Errorf("list --status Queuing:\n%s", l)
	}
	desc := e.ok("job", "describe", ddp)
	contains(t, desc, "Status:", "Queuing", "Reason:", "QuotaExhausted", "Message:", "quota quota-public has", "requested",
		"Queue position:", "1 in quota quota-public", "What it waits for:", "room in the quota", "--quota quota-public --status Running",
		"so far", "Pods: none yet")
	contains(t, e.ok("job", "get", ddp), "Queue position:", "1 in quota quota-public")
	out = e.ok("job", "submit", "-f", example+"gpu-gang.yaml", "--dry-run")
	contains(t, out, "QuotaExhausted", "position 2 in the queue")

	// Raising the queued job's priority is allowed within the cap.
	contains(t, e.ok("job", "update", ddp, "--priority", "2"), "Priority:", "2")

	// A third job queues behind it; stopping it while queued is immediate.
	third := e.submit(strings.Replace(gpuHog, "hog", "third", 1))
	e.until(third, "queued #2", func(j *atrium.Job) bool { return j.QueuePosition == 2 })
	contains(t, e.ok("job", "stop", third), "Job "+third+" is Stopped")
	if j := e.job(third); j.ReasonCode != atrium.ReasonStoppedByUser {
		t.Errorf("third = %s/%s", j.Status, j.ReasonCode)
	}
	contains(t, e.fails("", "job", "delete", hog, "--yes"), "409", "stop it before deleting")

	// Stopping the hog frees the GPUs: the DDP job starts and succeeds.
	contains(t, e.ok("job", "stop", hog), "Job "+hog+" is Stopping")
	j := e.status(hog, atrium.JobStopped)
	if j.ReasonCode != atrium.ReasonStoppedByUser {
		t.Errorf("hog ended %s/%s", j.Status, j.ReasonCode)
	}
	e.status(ddp, atrium.JobSucceeded)
	// Stopping ended jobs fails, one report per job, exit status 1.
	errOut := e.fails("", "job", "stop", hog, ddp)
	contains(t, errOut, "409", hog, ddp, "2 of 2 jobs not stopped")
}

func TestJobTimeoutAndBadSpecs(t *testing.T) {
	e := newJobEnv(t)

	// Acceptance 3: maxRunningTime 5s, sleep 60 → Stopped,
	// MaxRunningTimeExceeded; --wait exits 1 saying so.
	out, errOut, err := e.runLimited("", "job", "submit", "-f", example+"sleep-timeout.yaml", "--wait", "--poll-interval", "200ms")
	var ee exitError
	if !errors.As(err, &ee) || ee != 1 {
		t.Fatalf("submit --wait of a job that times out: err = %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	id := jobIDRE.FindString(out)
	contains(t, out, "Job "+id+" Stopped: MaxRunningTimeExceeded")
	contains(t, errOut, id+" Running", "Error: job "+id+" ended Stopped: MaxRunningTimeExceeded", "atrium job describe "+id)
	j := e.job(id)
	if j.Status != atrium.JobStopped || j.ReasonCode != atrium.ReasonMaxRunningTimeExceeded || j.StartedAt == nil || j.FinishedAt.Sub(*j.StartedAt) > 20*time.Second {
		t.Errorf("job = %s/%s %v–%v", j.Status, j.ReasonCode, j.StartedAt, j.FinishedAt)
	}
	for _, p := range j.Pods {
		if p.Status == atrium.PodRunning {
			t.Errorf("pod %s still Running", p.Name)
		}
	}
	contains(t, e.ok("job", "logs", id), "sleeping 60s")

	// Acceptance 6, through the CLI: a 400 naming the field.
	chief := `jobType: PyTorchJob
command: python train.py
jobSpecs:
  - {type: Chief, podCount: 1, image: pytorch, resources: {cpu: 1, memory: 1Gi}}
`
	errOut = e.fails(chief, "job", "submit", "-f", "-")
	contains(t, errOut, "400", "jobSpecs[0].type", `"Chief" is not a role of a PyTorchJob`, "Master or Worker")
	contains(t, e.fails(chief, "job", "submit", "-f", "-", "--dry-run"), "400", "jobSpecs[0].type")
	contains(t, e.fails("", "job", "submit", "-f", "-"), "the job spec is empty")
	contains(t, e.fails("", "job", "submit"), "-f is required", "examples/jobs/")
	contains(t, e.fails("", "job", "submit", "-f", "nosuch.yaml"), "nosuch.yaml")
	contains(t, e.fails("jobType: Fancy\n", "job", "submit", "-f", "-"), "400", "jobType")
	contains(t, e.fails(strings.Replace(gpuHog, "memory: 1Gi", "memory: -1Gi", 1), "job", "submit", "-f", "-"), "400", "jobSpecs[0].resources")
	contains(t, e.fails(gpuHog+"priority: 9\n", "job", "submit", "-f", "-", "--token", e.memberToken(t, "AlgoDeveloper")), "400", "priority", "cap")
	contains(t, e.fails("", "job", "logs", "dlc-nosuch"), "404")
}

// memberToken adds a user with role to team_a and returns their token.
func (e *jobEnv) memberToken(t *testing.T, role string) string {
	t.Helper()
	if _, errOut, err := e.run("bob password\n", "user", "create", "bob", "--password-stdin"); err != nil {
		t.Fatalf("user create: %v\n%s", err, errOut)
	}
	e.ok("member", "add", "bob", "--role", role)
	tok, err := (&httpapi.Client{BaseURL: e.url}).CreateTokenWithPassword(context.Background(), "bob", "bob password", httpapi.CreateTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

func hostnameForTest(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestProgressAndFormats(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	j := &atrium.Job{ID: "dlc-x", Status: atrium.JobQueuing, QueuePosition: 3, ReasonCode: "QuotaExhausted",
		ReasonMessage: "quota q has gpu=0 available", SubmittedAt: start}

	// On a terminal the line is redrawn in place and cut to the width.
	var b bytes.Buffer
	p := &progress{w: &b, tty: true, width: func() int { return 40 }}
	p.show(j, start.Add(2*time.Second))
	j.Status, j.ReasonCode, j.ReasonMessage, j.QueuePosition = atrium.JobRunning, atrium.ReasonStarted, "", 0
	j.Pods = []atrium.Pod{{Name: "a", Status: atrium.PodRunning}, {Name: "b", Status: atrium.PodPending}}
	p.show(j, start.Add(3*time.Second))
	p.done()
	want := "\r[2s] dlc-x Queuing #3 QuotaExhausted: …\x1b[K\r[3s] dlc-x Running Started | pods 1/2 …\x1b[K\n"
	if b.String() != want {
		t.Errorf("terminal progress = %q\nwant               %q", b.String(), want)
	}

	// Elsewhere: a line per change.
	b.Reset()
	p = &progress{w: &b}
	p.show(j, start.Add(3*time.Second))
	p.show(j, start.Add(4*time.Second))
	j.Status, j.ReasonCode, j.Pods = atrium.JobSucceeded, atrium.ReasonCompleted, nil
	p.show(j, start.Add(5*time.Second))
	p.done()
	if want := "[3s] dlc-x Running Started | pods 1/2 running\n[5s] dlc-x Succeeded Completed\n"; b.String() != want {
		t.Errorf("plain progress = %q, want %q", b.String(), want)
	}

	for d, want := range map[time.Duration]string{500 * time.Millisecond: "500ms", 42 * time.Second: "42s",
		185 * time.Second: "3m05s", 2*time.Hour + 4*time.Minute: "2h04m", 50 * time.Hour: "2d02h"} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
	pods := []atrium.Pod{{Name: "master-0", Node: "n1"}, {Name: "worker-0", Node: "n2"}, {Name: "worker-1", Node: "n1"}}
	got := dryRunText(&httpapi.DryRunResult{Admitted: true, QuotaID: "quota-q", Priority: 5, Pods: pods, Preempts: []string{"dlc-a", "dlc-b"}})
	if want := "Would start now in quota quota-q at priority 5 on n1 (master-0, worker-1) and n2 (worker-0); preempting dlc-a, dlc-b (they return to the queue)"; got != want {
		t.Errorf("dryRunText = %q", got)
	}
}
