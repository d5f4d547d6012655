package slurm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"atrium"
	"atrium/executor"
)

// ---- without Slurm ----

func TestBuildScript(t *testing.T) {
	t.Parallel()
	task := executor.Task{
		JobID: "job-abc", WorkspaceID: "ws-1", Attempt: 2, MaxRunningTime: 90 * time.Second,
		Pods: []executor.PodTask{
			{Name: "worker-0", Rank: 1, Node: "n1", Command: "echo w", CPU: 1500, Memory: 3 << 30, GPU: 1, GPUType: "T4",
				Env: map[string]string{"RANK": "1", "WORLD_SIZE": "2", "QUOTE": "it's"}},
			{Name: "master-0", Rank: 0, Node: "n1", Command: "echo m", CPU: 500, Memory: 1 << 30, GPU: 1, GPUType: "T4",
				Env: map[string]string{"RANK": "0", "WORLD_SIZE": "2"}},
		},
	}
	s, err := buildScript(task, "/data/slurm/job-abc/2", "gpu", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#!/bin/bash\n",
		"#SBATCH --job-name=atrium-job-abc-2\n",
		"#SBATCH --partition=gpu\n",
		"#SBATCH --nodes=1\n",
		"#SBATCH --ntasks-per-node=2\n",
		"#SBATCH --ntasks=2\n",
		"#SBATCH --cpus-per-task=2\n",
		"#SBATCH --mem-per-cpu=1536M\n", // 3 GiB over 2 CPUs
		"#SBATCH --gres=gpu:T4:2\n",     // 1 per task, 2 tasks on the node
		"#SBATCH --time=2\n",            // 90s rounded up
		"#SBATCH --nodelist=n1\n",
		"#SBATCH --output=/data/slurm/job-abc/2/batch.log\n",
		"#SBATCH --export=NONE\n",
		"#SBATCH --no-requeue\n",
		"srun --kill-on-bad-exit=1 --output=/data/slurm/job-abc/2/task-%t.log --error=/data/slurm/job-abc/2/task-%t.log /bin/sh /data/slurm/job-abc/2/wrapper.sh\n",
	} {
		if !strings.Contains(s.Batch, want) {
			t.Errorf("batch script lacks %q:\n%s", want, s.Batch)
		}
	}
	// task order is rank order
	if s.Pods[0].Name != "master-0" || s.Pods[1].Name != "worker-0" {
		t.Errorf("task order = %s, %s", s.Pods[0].Name, s.Pods[1].Name)
	}
	if !strings.Contains(s.Env[1], "export QUOTE='it'\\''s'\n") || !strings.Contains(s.Env[1], "atrium_cmd='echo w'\n") {
		t.Errorf("env of task 1:\n%s", s.Env[1])
	}
	if !strings.Contains(s.Env[0], "export RANK='0'\n") {
		t.Errorf("env of task 0:\n%s", s.Env[0])
	}
	if !strings.Contains(s.Wrapper, `. "$d/env-$i.sh"`) || !strings.Contains(s.Wrapper, `"$d/task-$i.exit"`) {
		t.Errorf("wrapper:\n%s", s.Wrapper)
	}
}

func TestBuildScriptTimeAndNoGPU(t *testing.T) {
	t.Parallel()
	task := executor.Task{JobID: "j1", Attempt: 1, MaxRunningTime: time.Minute,
		Pods: []executor.PodTask{{Name: "p", Command: "true"}}}
	s, err := buildScript(task, "/w/j1/1", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Batch, "#SBATCH --time=1\n") {
		t.Errorf("no --time=1:\n%s", s.Batch)
	}
	for _, absent := range []string{"--gres", "--partition", "--mem", "--nodes", "--nodelist"} {
		if strings.Contains(s.Batch, absent) {
			t.Errorf("batch script has %s:\n%s", absent, s.Batch)
		}
	}
	if !strings.Contains(s.Batch, "#SBATCH --cpus-per-task=1\n") {
		t.Errorf("cpus-per-task not 1:\n%s", s.Batch)
	}
	task.MaxRunningTime = 0
	s, _ = buildScript(task, "/w/j1/1", "", false)
	if strings.Contains(s.Batch, "--time") {
		t.Errorf("--time without MaxRunningTime:\n%s", s.Batch)
	}
}

func TestBuildScriptRejects(t *testing.T) {
	t.Parallel()
	ok := executor.PodTask{Name: "p", Command: "true"}
	for name, tc := range map[string]struct {
		task executor.Task
		dir  string
	}{
		"noPods":       {executor.Task{JobID: "j"}, "/w"},
		"duplicatePod": {executor.Task{JobID: "j", Pods: []executor.PodTask{ok, ok}}, "/w"},
		"badEnvName":   {executor.Task{JobID: "j", Pods: []executor.PodTask{{Name: "p", Env: map[string]string{"A-B": "1"}}}}, "/w"},
		"spaceInDir":   {executor.Task{JobID: "j", Pods: []executor.PodTask{ok}}, "/w w"},
		"twoGPUTypes": {executor.Task{JobID: "j", Pods: []executor.PodTask{
			{Name: "a", GPU: 1, GPUType: "T4"}, {Name: "b", GPU: 1, GPUType: "A100"}}}, "/w"},
	} {
		if _, err := buildScript(tc.task, tc.dir, "", false); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTimeLimit(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int{0: 0, time.Second: 1, time.Minute: 1, 61 * time.Second: 2, 2 * time.Hour: 120} {
		if got := timeLimit(d); got != want {
			t.Errorf("timeLimit(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestParseJob(t *testing.T) {
	t.Parallel()
	out := "JobId=7 JobName=atrium-j-1 UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=3:0 " +
		"StartTime=2026-11-29T19:38:15 EndTime=2026-11-29T19:38:16 NodeList=vm Comment=two words here StdOut=/x\n"
	ji, err := parseJob(out)
	if err != nil {
		t.Fatal(err)
	}
	if !ji.Found || ji.State != "FAILED" || ji.ExitCode != 3 || ji.Signal != 0 || ji.NodeList != "vm" || ji.Reason != "NonZeroExitCode" {
		t.Errorf("parsed %+v", ji)
	}
	if ji.Start.IsZero() || ji.End.Sub(ji.Start) != time.Second {
		t.Errorf("times %v %v", ji.Start, ji.End)
	}
	if m := parseKV(out); m["Comment"] != "two words here" {
		t.Errorf("Comment = %q", m["Comment"])
	}
	if _, err := parseJob("garbage"); err == nil {
		t.Error("no error for garbage")
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for state, want := range map[string]stateClass{
		"PENDING": classPending, "CONFIGURING": classPending,
		"RUNNING": classRunning, "COMPLETING": classRunning,
		"COMPLETED": classSucceeded,
		"FAILED":    classFailed, "TIMEOUT": classFailed, "OUT_OF_MEMORY": classFailed, "NODE_FAIL": classFailed,
		"CANCELLED": classStopped, "CANCELLED by 0": classStopped,
	} {
		if got := classify(state); got != want {
			t.Errorf("classify(%q) = %d, want %d", state, got, want)
		}
	}
}

func TestPodStatuses(t *testing.T) {
	t.Parallel()
	names := []string{"master-0", "worker-0"}
	exited := func(code int) taskRecord {
		return taskRecord{Started: time.Unix(100, 0), Node: "n1", Exited: true, ExitCode: code, Finished: time.Unix(200, 0)}
	}
	started := taskRecord{Started: time.Unix(100, 0), Node: "n1"}
	code := func(st executor.PodStatus) int {
		if st.ExitCode == nil {
			return -1
		}
		return *st.ExitCode
	}
	for name, tc := range map[string]struct {
		ji      jobInfo
		recs    []taskRecord
		stopped bool
		phases  []executor.PodPhase
		codes   []int
		message string
	}{
		"pending": {jobInfo{Found: true, State: "PENDING", Reason: "Resources"}, []taskRecord{{}, {}}, false,
			[]executor.PodPhase{executor.PodPending, executor.PodPending}, []int{-1, -1}, "Slurm: Resources"},
		"runningOneDone": {jobInfo{Found: true, State: "RUNNING"}, []taskRecord{exited(0), started}, false,
			[]executor.PodPhase{executor.PodSucceeded, executor.PodRunning}, []int{0, -1}, ""},
		"runningOneFailed": {jobInfo{Found: true, State: "COMPLETING"}, []taskRecord{exited(3), started}, false,
			[]executor.PodPhase{executor.PodRunning, executor.PodRunning}, []int{3, -1}, "exited with code 3"},
		"completed": {jobInfo{Found: true, State: "COMPLETED"}, []taskRecord{exited(0), {}}, false,
			[]executor.PodPhase{executor.PodSucceeded, executor.PodSucceeded}, []int{0, 0}, ""},
		"failed": {jobInfo{Found: true, State: "FAILED", ExitCode: 3}, []taskRecord{exited(3), exited(143)}, false,
			[]executor.PodPhase{executor.PodFailed, executor.PodFailed}, []int{3, 143}, "Slurm job FAILED"},
		"timeout": {jobInfo{Found: true, State: "TIMEOUT"}, []taskRecord{exited(143), {}}, false,
			[]executor.PodPhase{executor.PodFailed, executor.PodFailed}, []int{143, -1}, "Slurm job TIMEOUT"},
		"oom": {jobInfo{Found: true, State: "OUT_OF_MEMORY"}, []taskRecord{started, started}, false,
			[]executor.PodPhase{executor.PodFailed, executor.PodFailed}, []int{-1, -1}, "OUT_OF_MEMORY"},
		"cancelled": {jobInfo{Found: true, State: "CANCELLED"}, []taskRecord{exited(143), {}}, true,
			[]executor.PodPhase{executor.PodStopped, executor.PodStopped}, []int{143, -1}, "CANCELLED"},
		"forgottenWithRecords": {jobInfo{}, []taskRecord{exited(0), exited(3)}, false,
			[]executor.PodPhase{executor.PodSucceeded, executor.PodFailed}, []int{0, 3}, ""},
		"forgottenStopped": {jobInfo{}, []taskRecord{started, {}}, true,
			[]executor.PodPhase{executor.PodStopped, executor.PodStopped}, []int{-1, -1}, "stopped"},
		"forgottenNoRecord": {jobInfo{}, []taskRecord{started, exited(0)}, false,
			[]executor.PodPhase{executor.PodLost, executor.PodSucceeded}, []int{-1, 0}, "no longer knows"},
	} {
		got := podStatuses("42", names, tc.ji, tc.recs, tc.stopped)
		for i, st := range got {
			if st.Name != names[i] || st.Phase != tc.phases[i] || code(st) != tc.codes[i] {
				t.Errorf("%s: pod %d = %s %s exit %d, want %s exit %d", name, i, st.Name, st.Phase, code(st), tc.phases[i], tc.codes[i])
			}
		}
		if tc.message != "" && !strings.Contains(got[0].Message, tc.message) {
			t.Errorf("%s: message %q lacks %q", name, got[0].Message, tc.message)
		}
	}
	// a one-task job without a record takes the batch exit code
	got := podStatuses("1", []string{"p"}, jobInfo{Found: true, State: "FAILED", Signal: 9}, []taskRecord{{}}, false)
	if code(got[0]) != 137 {
		t.Errorf("one task killed by 9: exit %d", code(got[0]))
	}
}

func TestParseNodes(t *testing.T) {
	t.Parallel()
	out := strings.Join([]string{
		"NodeName=vm Arch=x86_64 CoresPerSocket=2 CPUAlloc=0 CPUTot=2 CPULoad=0.5 Gres=(null) NodeAddr=127.0.0.1 RealMemory=24105 State=IDLE Partitions=atrium",
		"NodeName=g1 CPUTot=64 Gres=gpu:a100:8(S:0-1) RealMemory=515000 State=MIXED+DRAIN Partitions=gpu,all",
		"NodeName=g2 CPUTot=64 Gres=gpu:t4:2,gpu:t4:2(S:0),shard:4 RealMemory=1000 State=DOWN* Partitions=gpu",
		"NodeName=g3 CPUTot=8 Gres=gpu:4 RealMemory=1000 State=ALLOCATED Partitions=gpu",
	}, "\n")
	nodes := parseNodes(out)
	if len(nodes) != 4 {
		t.Fatalf("%d nodes", len(nodes))
	}
	want := []NodeInfo{
		{Name: "vm", CPUs: 2, MemoryMiB: 24105, State: atrium.NodeReady, Partitions: []string{"atrium"}},
		{Name: "g1", CPUs: 64, MemoryMiB: 515000, GPUs: 8, GPUType: "a100", State: atrium.NodeDraining},
		{Name: "g2", CPUs: 64, MemoryMiB: 1000, GPUs: 4, GPUType: "t4", State: atrium.NodeNotReady},
		{Name: "g3", CPUs: 8, MemoryMiB: 1000, GPUs: 4, State: atrium.NodeReady},
	}
	for i, w := range want {
		n := nodes[i]
		if n.Name != w.Name || n.CPUs != w.CPUs || n.MemoryMiB != w.MemoryMiB || n.GPUs != w.GPUs || n.GPUType != w.GPUType || n.State != w.State {
			t.Errorf("node %d = %+v, want %+v", i, n, w)
		}
	}
	if c := nodes[1].Capacity(); c.MilliCPU != 64000 || c.GPU != 8 || c.Memory != 515000<<20 {
		t.Errorf("capacity %+v", c)
	}
	for state, want := range map[string]string{
		"IDLE": atrium.NodeReady, "MIXED": atrium.NodeReady, "ALLOCATED+COMPLETING": atrium.NodeReady,
		"IDLE+DRAIN": atrium.NodeDraining, "DRAINED": atrium.NodeDraining, "DRAINING": atrium.NodeDraining,
		"DOWN": atrium.NodeNotReady, "DOWN+DRAIN": atrium.NodeNotReady, "IDLE*": atrium.NodeNotReady,
		"IDLE+NOT_RESPONDING": atrium.NodeNotReady, "UNKNOWN": atrium.NodeNotReady,
	} {
		if got := nodeState(state); got != want {
			t.Errorf("nodeState(%q) = %s, want %s", state, got, want)
		}
	}
}

// ---- against a real Slurm (scripts/slurm-up.sh, ATRIUM_TEST_SLURM=1) ----

func setup(t *testing.T) *Executor {
	t.Helper()
	if os.Getenv("ATRIUM_TEST_SLURM") == "" {
		t.Skip("ATRIUM_TEST_SLURM not set (start a cluster with scripts/slurm-up.sh)")
	}
	// the attempt directories must be readable by the nodes: a temp dir on
	// this one-node cluster, which the job's account can pass through
	e, err := New(Config{WorkDir: searchableTempDir(t), PollInterval: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// testAccount is the non-root account the tests' jobs run as
// (scripts/slurm-up.sh creates it).
const testAccount = "atrium-job"

// searchableTempDir is a temp dir that other accounts may pass through
// (t.TempDir's parent is private to this user).
func searchableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// gang returns a task of n pods running command, with the distributed env.
func gang(jobID string, n int, command string) executor.Task {
	t := executor.Task{JobID: jobID, WorkspaceID: "ws-test", Attempt: 1, RunAs: testAccount}
	for i := range n {
		name := "worker-" + strconv.Itoa(i-1)
		if i == 0 {
			name = "master-0"
		}
		t.Pods = append(t.Pods, executor.PodTask{Name: name, Rank: i, Command: command, CPU: 1000, Memory: 64 << 20,
			Env: map[string]string{"RANK": strconv.Itoa(i), "WORLD_SIZE": strconv.Itoa(n), "MASTER_ADDR": "somewhere"}})
	}
	return t
}

func uniqueID(t *testing.T) string {
	return "job-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
}

// wait polls Inspect until every pod satisfies ok.
func wait(t *testing.T, e *Executor, h executor.Handle, what string, ok func(executor.PodStatus) bool) []executor.PodStatus {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := e.Inspect(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		all := true
		for _, s := range st {
			all = all && ok(s)
		}
		if all {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods not %s: %+v", what, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func done(s executor.PodStatus) bool { return s.Phase.Done() }

func scontrolJob(t *testing.T, id string) map[string]string {
	t.Helper()
	out, err := exec.Command("scontrol", "show", "job", "-o", id).CombinedOutput()
	if err != nil {
		t.Fatalf("scontrol show job %s: %v: %s", id, err, out)
	}
	return parseKV(string(out))
}

func TestSlurmGangSucceeds(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	task := gang(uniqueID(t), 2, `echo "$RANK $WORLD_SIZE"; echo "master=$MASTER_ADDR" >&2`)
	task.MaxRunningTime = time.Minute
	h, err := e.Start(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	if h.Backend != "slurm" || h.Ref == "" || len(h.Pods) != 2 {
		t.Fatalf("handle %+v", h)
	}
	if m := scontrolJob(t, h.Ref); m["TimeLimit"] != "00:01:00" || m["JobName"] != "atrium-"+task.JobID+"-1" || m["NumTasks"] != "2" {
		t.Errorf("Slurm job: TimeLimit=%s JobName=%s NumTasks=%s", m["TimeLimit"], m["JobName"], m["NumTasks"])
	}
	// follow the master's log while the job runs
	var followed bytes.Buffer
	if err := e.Logs(ctx, h, "master-0", true, &followed); err != nil {
		t.Fatal(err)
	}
	st := wait(t, e, h, "done", done)
	for _, s := range st {
		if s.Phase != executor.PodSucceeded || s.ExitCode == nil || *s.ExitCode != 0 || s.Node == "" || s.StartedAt.IsZero() {
			t.Errorf("pod %+v", s)
		}
	}
	if !strings.Contains(followed.String(), "0 2\n") {
		t.Errorf("followed master log %q", followed.String())
	}
	for pod, want := range map[string]string{"master-0": "0 2\n", "worker-0": "1 2\n"} {
		var b bytes.Buffer
		if err := e.Logs(ctx, h, pod, false, &b); err != nil {
			t.Fatal(err)
		}
		// stderr goes to the same file; MASTER_ADDR is Slurm's batch host
		if !strings.HasPrefix(b.String(), want) && !strings.Contains(b.String(), "\n"+want) {
			t.Errorf("%s log %q lacks %q", pod, b.String(), want)
		}
		if strings.Contains(b.String(), "master=somewhere") {
			t.Errorf("%s: MASTER_ADDR not set from Slurm: %q", pod, b.String())
		}
	}
	if err := e.Recover(ctx, h); err != nil {
		t.Errorf("Recover: %v", err)
	}
	// once Slurm forgets the job (MinJobAge), the exit records still answer
	forgotten := h
	forgotten.Ref = "999999999"
	st, err = e.Inspect(ctx, forgotten)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Phase != executor.PodSucceeded || *s.ExitCode != 0 {
			t.Errorf("from records: %+v", s)
		}
	}
	if err := e.Recover(ctx, forgotten); err != nil {
		t.Errorf("Recover from records: %v", err)
	}
	if err := e.Cleanup(ctx, h); err != nil {
		t.Fatal(err)
	}
	dir, _ := e.attemptDir(h.JobID, h.Attempt)
	if _, err := os.Stat(filepath.Join(dir, "env-0.sh")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("env file left after Cleanup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "task-0.log")); err != nil {
		t.Errorf("log removed by Cleanup: %v", err)
	}
}

func TestSlurmFailingCommand(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	h, err := e.Start(ctx, gang(uniqueID(t), 1, "echo bye; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	st := wait(t, e, h, "done", done)
	s := st[0]
	if s.Phase != executor.PodFailed || s.ExitCode == nil || *s.ExitCode != 3 || !strings.Contains(s.Message, "FAILED") {
		t.Errorf("pod %+v (exit %v)", s, s.ExitCode)
	}
	if m := scontrolJob(t, h.Ref); m["JobState"] != "FAILED" || m["ExitCode"] != "3:0" {
		t.Errorf("Slurm: JobState=%s ExitCode=%s", m["JobState"], m["ExitCode"])
	}
}

func TestSlurmStop(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	task := gang(uniqueID(t), 1, `sleep 60 & echo $! > sleep.pid; wait`)
	h, err := e.Start(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, e, h, "running", func(s executor.PodStatus) bool { return s.Phase == executor.PodRunning })
	dir, _ := e.attemptDir(h.JobID, h.Attempt)
	pidFile := filepath.Join(dir, "work-0", "sleep.pid")
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid == 0 {
		t.Fatal("the pod never wrote its pid")
	}
	if err := e.Stop(ctx, h, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if m := scontrolJob(t, h.Ref); m["JobState"] != "CANCELLED" {
		t.Errorf("Slurm JobState=%s after Stop", m["JobState"])
	}
	st, err := e.Inspect(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Phase != executor.PodStopped {
		t.Errorf("pod %+v", st[0])
	}
	// the sleep is gone (a zombie awaiting its reaper counts as gone)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleep (pid %d) still running after Stop", pid)
		}
	}
	if err := syscall.Kill(pid, 0); err == nil {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if !strings.Contains(string(b), ") Z ") {
			t.Errorf("pid %d alive", pid)
		}
	}
	// stopping again is fine
	if err := e.Stop(ctx, h, time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestSlurmGPUJobRejected(t *testing.T) {
	e := setup(t)
	task := gang(uniqueID(t), 1, "true")
	task.Pods[0].GPU, task.Pods[0].GPUType = 1, "T4"
	_, err := e.Start(context.Background(), task)
	if err == nil || !strings.Contains(err.Error(), "gres") {
		t.Fatalf("Start with a GPU on a cluster without GRES: %v", err)
	}
	dir, _ := e.attemptDir(task.JobID, 1)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("attempt directory left behind: %v", err)
	}
}

func TestSlurmRecoverUnknown(t *testing.T) {
	e := setup(t)
	h := executor.Handle{Backend: "slurm", JobID: "job-never", Attempt: 1, Ref: "999999998", Pods: map[string]string{"p": "0"}}
	if err := e.Recover(context.Background(), h); !errors.Is(err, executor.ErrNotFound) {
		t.Errorf("Recover = %v, want ErrNotFound", err)
	}
	if _, err := e.Inspect(context.Background(), h); !errors.Is(err, executor.ErrNotFound) {
		t.Errorf("Inspect = %v, want ErrNotFound", err)
	}
}

func TestSlurmImportNodes(t *testing.T) {
	e := setup(t)
	nodes, err := e.ImportNodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	for _, n := range nodes {
		if n.Name == host {
			if want := runtime.NumCPU(); os.Getenv("ATRIUM_SLURM_CPUS") == "" && n.CPUs != want {
				t.Errorf("node %s has %d CPUs, want %d", n.Name, n.CPUs, want)
			}
			if n.MemoryMiB <= 0 || n.State != atrium.NodeReady || n.GPUs != 0 {
				t.Errorf("node %+v", n)
			}
			return
		}
	}
	t.Errorf("host %s not among %+v", host, nodes)
}

// ---- Unix accounts ----

func TestLookupAccountRefuses(t *testing.T) {
	t.Parallel()
	for runAs, want := range map[string]string{
		"":                      "names no Unix account",
		"root":                  "root (uid 0)",
		"no-such-account-xyzzy": "unknown on Atrium's host",
	} {
		_, err := lookupAccount(executor.Task{JobID: "j", RunAs: runAs})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("RunAs %q: %v, want an error saying %q", runAs, err, want)
		}
	}
	if os.Geteuid() == 0 {
		a, err := lookupAccount(executor.Task{JobID: "j", RunAs: "nobody"})
		if err != nil || a.Self || a.UID == 0 || a.Name != "nobody" {
			t.Errorf("nobody: %+v, %v", a, err)
		}
	}
}

func TestCheckImages(t *testing.T) {
	t.Parallel()
	ok := executor.Task{Pods: []executor.PodTask{{Name: "a", Image: "host"}, {Name: "b"}}}
	if err := checkImages(ok); err != nil {
		t.Errorf("host images: %v", err)
	}
	bad := executor.Task{Pods: []executor.PodTask{{Name: "a", Image: "host"}, {Name: "worker-0", Image: "busybox:1.36"}}}
	if err := checkImages(bad); err == nil || !strings.Contains(err.Error(), `pod worker-0 asks for image "busybox:1.36"`) ||
		!strings.Contains(err.Error(), "cannot run images") {
		t.Errorf("busybox: %v", err)
	}
}

// TestJobFilesNotFollowed: the attempt directory is the job account's, so
// Atrium reads only regular files of that account there and writes its
// stop marker without following links.
func TestJobFilesNotFollowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("root:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "task-0.log"), []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := readJobFile(dir, "task-0.log", 100); err != nil || string(b) != "hello\n" {
		t.Errorf("regular file: %q, %v", b, err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "task-1.log")); err != nil {
		t.Fatal(err)
	}
	if b, err := readJobFile(dir, "task-1.log", 100); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlink read: %q, %v", b, err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "task-2.log"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readJobFile(dir, "task-2.log", 100); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("fifo read: %v", err)
	}
	if os.Geteuid() == 0 {
		// a file of another owner (a hard link to someone else's file)
		other := filepath.Join(dir, "task-3.log")
		if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := readJobFile(dir, "task-3.log", 100); err == nil || !strings.Contains(err.Error(), "not a regular file of the job's account") {
			t.Errorf("foreign file read: %v", err)
		}
	}
	// the stop marker does not write through a link
	if err := os.Symlink(secret, filepath.Join(dir, "stopped")); err != nil {
		t.Fatal(err)
	}
	if err := writeMarker(filepath.Join(dir, "stopped"), []byte("now\n")); err != nil {
		t.Errorf("writeMarker over a link: %v", err)
	}
	if b, _ := os.ReadFile(secret); string(b) != "root:secret\n" {
		t.Errorf("written through the link: %q", b)
	}
	if err := writeMarker(filepath.Join(dir, "fresh"), []byte("now\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "fresh")); string(b) != "now\n" {
		t.Errorf("marker %q", b)
	}
}

func TestSearchBlocker(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (another account's view of the directories)")
	}
	t.Parallel()
	base := searchableTempDir(t)
	private := filepath.Join(base, "private", "slurm")
	if err := os.MkdirAll(private, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(private, 0o711); err != nil {
		t.Fatal(err)
	}
	a := &account{Name: "nobody", UID: 65534, GID: 65534}
	if where := a.searchBlocker(private); !strings.Contains(where, filepath.Join(base, "private")+" (mode 0700") {
		t.Errorf("blocker of a private tree: %q", where)
	}
	if err := os.Chmod(filepath.Join(base, "private"), 0o711); err != nil {
		t.Fatal(err)
	}
	if where := a.searchBlocker(private); where != "" {
		t.Errorf("searchable tree blocked at %q", where)
	}
	if where := (&account{Self: true}).searchBlocker("/nonexistent"); where != "" {
		t.Errorf("Atrium's own account: %q", where)
	}
}

// ---- Unix accounts, against a real Slurm ----

// TestSlurmRunsAsAccount: the job runs as the mapped account, not as
// Atrium's root; its attempt directory and output belong to the account.
func TestSlurmRunsAsAccount(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	h, err := e.Start(ctx, gang(uniqueID(t), 1, `id -un; id -u; touch made-here`))
	if err != nil {
		t.Fatal(err)
	}
	if m := scontrolJob(t, h.Ref); !strings.HasPrefix(m["UserId"], testAccount+"(") {
		t.Errorf("Slurm job UserId=%s, want %s", m["UserId"], testAccount)
	}
	st := wait(t, e, h, "done", done)
	if st[0].Phase != executor.PodSucceeded {
		t.Fatalf("pod %+v", st[0])
	}
	var b bytes.Buffer
	if err := e.Logs(ctx, h, "master-0", false, &b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) < 2 || lines[0] != testAccount || lines[1] == "0" {
		t.Fatalf("id -un; id -u printed %q, want %s and its uid", b.String(), testAccount)
	}
	dir, _ := e.attemptDir(h.JobID, h.Attempt)
	for _, p := range []string{dir, filepath.Join(dir, "task-0.log"), filepath.Join(dir, "work-0", "made-here")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != lines[1] {
			t.Errorf("%s is owned by uid %d, want %s (%s)", p, uid, lines[1], testAccount)
		}
	}
}

// TestSlurmRefusesBeforeSubmitting: root, no account and images are
// refused before sbatch, leaving nothing behind.
func TestSlurmRefusesBeforeSubmitting(t *testing.T) {
	e := setup(t)
	for name, tc := range map[string]struct {
		mod  func(*executor.Task)
		want string
	}{
		"root":      {func(t *executor.Task) { t.RunAs = "root" }, "never run as root"},
		"noAccount": {func(t *executor.Task) { t.RunAs = "" }, "names no Unix account"},
		"image":     {func(t *executor.Task) { t.Pods[0].Image = "busybox:1.36" }, "cannot run images"},
	} {
		task := gang(uniqueID(t)+"-"+strings.ToLower(name), 1, "true")
		tc.mod(&task)
		_, err := e.Start(context.Background(), task)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
		dir, _ := e.attemptDir(task.JobID, 1)
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: attempt directory left behind: %v", name, err)
		}
	}
}

// TestSlurmLogsIgnoreLinks: a job that swaps its log for a link to a file
// only root can read does not get that file shown as its log.
func TestSlurmLogsIgnoreLinks(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	h, err := e.Start(ctx, gang(uniqueID(t), 1, `echo mine; rm -f ../task-0.log; ln -s /etc/shadow ../task-0.log`))
	if err != nil {
		t.Fatal(err)
	}
	wait(t, e, h, "done", done)
	var b bytes.Buffer
	err = e.Logs(ctx, h, "master-0", false, &b)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") || strings.Contains(b.String(), "root:") {
		t.Errorf("Logs through a link: %v, %q", err, b.String())
	}
}
