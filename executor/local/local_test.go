package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"atrium/executor"
)

// fakeServerEnv makes the test binary act as a short-lived Atrium server
// that starts a gang, prints its handle and waits to be killed.
const fakeServerEnv = "ATRIUM_LOCAL_TEST_FAKE_SERVER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(fakeServerEnv); dir != "" {
		fakeServer(dir)
		return
	}
	os.Exit(m.Run())
}

func fakeServer(dir string) {
	e, err := New(dir, nil)
	if err == nil {
		var h executor.Handle
		h, err = e.Start(context.Background(), executor.Task{JobID: "job-restart", Attempt: 1, Pods: []executor.PodTask{{
			Name: "master-0",
			// Runs until the test opens the gate, then fails on purpose.
			Command: `echo waiting; while [ ! -e "$GATE" ]; do sleep 0.05; done; echo finished; exit 7`,
			Env:     map[string]string{"GATE": os.Getenv("GATE")},
		}}})
		if err == nil {
			err = json.NewEncoder(os.Stdout).Encode(h)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	time.Sleep(time.Hour) // until SIGKILL
}

type bundle struct {
	dir string
}

// setup returns an executor on a fresh directory; every gang started
// through start is stopped when the test ends.
func setup(t *testing.T) (*Executor, bundle) {
	t.Helper()
	dir := t.TempDir()
	e, err := New(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return e, bundle{dir: dir}
}

func start(t *testing.T, e *Executor, task executor.Task) executor.Handle {
	t.Helper()
	if task.Attempt == 0 {
		task.Attempt = 1
	}
	h, err := e.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Stop(context.Background(), h, 0); err != nil {
			t.Errorf("cleanup Stop: %v", err)
		}
	})
	return h
}

func onePod(job, cmd string) executor.Task {
	return executor.Task{JobID: job, Attempt: 1, Pods: []executor.PodTask{{Name: "master-0", Command: cmd}}}
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func inspect(t *testing.T, e *Executor, h executor.Handle) []executor.PodStatus {
	t.Helper()
	st, err := e.Inspect(context.Background(), h)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return st
}

// waitDone waits until every pod has ended and returns their statuses.
func waitDone(t *testing.T, e *Executor, h executor.Handle) []executor.PodStatus {
	t.Helper()
	var st []executor.PodStatus
	eventually(t, "all pods to end", func() bool {
		st = inspect(t, e, h)
		for _, s := range st {
			if !s.Phase.Done() {
				return false
			}
		}
		return true
	})
	return st
}

func waitRunning(t *testing.T, e *Executor, h executor.Handle) {
	t.Helper()
	eventually(t, "all pods to run", func() bool {
		for _, s := range inspect(t, e, h) {
			if s.Phase != executor.PodRunning {
				if s.Phase.Done() {
					t.Fatalf("pod %s ended early: %+v", s.Name, s)
				}
				return false
			}
		}
		return true
	})
}

func logs(t *testing.T, e *Executor, h executor.Handle, pod string) string {
	t.Helper()
	var b bytes.Buffer
	if err := e.Logs(context.Background(), h, pod, false, &b); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	return b.String()
}

// gone reports whether pid has exited (a zombie has).
func gone(pid int) bool {
	st, err := readStat(pid)
	return err != nil || st.dead()
}

// Not parallel: t.Setenv.
func TestEnvReachesPod(t *testing.T) {
	e, b := setup(t)
	task := executor.Task{JobID: "job-env", WorkspaceID: "ws-1", Attempt: 2, Pods: []executor.PodTask{{
		Name: "worker-1", Rank: 1, GPUs: []int{1, 3},
		Command: `echo "rank=$RANK world=$WORLD_SIZE cuda=$CUDA_VISIBLE_DEVICES lr=$LR job=$ATRIUM_JOB_ID ws=$ATRIUM_WORKSPACE_ID"
echo "home=$HOME pwd=$(pwd)"
echo "sup=${` + supervisorEnv + `-unset} secret=${ATRIUM_TEST_SECRET-unset}"`,
		Env: map[string]string{"RANK": "1", "WORLD_SIZE": "4", "LR": "3e-5 x", "ATRIUM_JOB_ID": "job-env"},
	}}}
	t.Setenv("ATRIUM_TEST_SECRET", "server-only") // must not leak into pods
	h := start(t, e, task)
	if st := waitDone(t, e, h); st[0].Phase != executor.PodSucceeded {
		t.Fatalf("status %+v; log:\n%s", st[0], logs(t, e, h, "worker-1"))
	}
	work := filepath.Join(b.dir, "job-env", "2", "worker-1", "work")
	want := "rank=1 world=4 cuda=1,3 lr=3e-5 x job=job-env ws=ws-1\n" +
		"home=" + work + " pwd=" + work + "\n" +
		"sup=unset secret=unset\n"
	if got := logs(t, e, h, "worker-1"); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cmd     string
		phase   executor.PodPhase
		code    int
		message string
	}{
		{"succeeded0", "exit 0", executor.PodSucceeded, 0, ""},
		{"failed3", "echo bad >&2; exit 3", executor.PodFailed, 3, "exited with code 3"},
		{"failedKilledBySignal", "kill -KILL $$", executor.PodFailed, 137, "exited with code 137 (killed by signal 9, killed)"},
		{"failedTerminatedBySignal", "kill -TERM $$", executor.PodFailed, 143, "exited with code 143 (killed by signal 15, terminated)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := setup(t)
			h := start(t, e, onePod("job-"+tc.name, tc.cmd))
			s := waitDone(t, e, h)[0]
			if s.Phase != tc.phase || s.ExitCode == nil || *s.ExitCode != tc.code || s.Message != tc.message {
				t.Fatalf("status %+v (exit %v), want %s %d %q", s, deref(s.ExitCode), tc.phase, tc.code, tc.message)
			}
			if s.StartedAt.IsZero() || s.FinishedAt.IsZero() {
				t.Errorf("times not set: %+v", s)
			}
			// The supervisor is our child: reaped, not left a zombie.
			ref, _ := parseRef(h.Pods["master-0"])
			eventually(t, "the supervisor to be reaped", func() bool {
				_, err := os.Stat("/proc/" + strconv.Itoa(ref.PID))
				return err != nil
			})
		})
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestGangOfFourRunsTogether(t *testing.T) {
	t.Parallel()
	e, b := setup(t)
	shared := filepath.Join(b.dir, "rendezvous")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	task := executor.Task{JobID: "job-gang", Attempt: 1}
	for r := range 4 {
		task.Pods = append(task.Pods, executor.PodTask{
			Name: fmt.Sprintf("worker-%d", r), Rank: r, GPUs: []int{r},
			// Each pod waits for all four, so they must run at once.
			Command: `touch "$SHARED/$RANK"; n=0
while [ "$(ls "$SHARED" | wc -l)" -lt 4 ]; do n=$((n+1)); [ $n -gt 600 ] && exit 1; sleep 0.05; done
echo "$RANK $WORLD_SIZE $CUDA_VISIBLE_DEVICES"`,
			Env: map[string]string{"RANK": strconv.Itoa(r), "WORLD_SIZE": "4", "SHARED": shared},
		})
	}
	h := start(t, e, task)
	if len(h.Pods) != 4 || h.Backend != "local" || h.Ref != filepath.Join(b.dir, "job-gang", "1") {
		t.Fatalf("handle %+v", h)
	}
	for i, s := range waitDone(t, e, h) {
		if s.Phase != executor.PodSucceeded {
			t.Errorf("pod %s: %+v", s.Name, s)
		}
		if got, want := logs(t, e, h, s.Name), fmt.Sprintf("%d 4 %d\n", i, i); got != want {
			t.Errorf("pod %s log %q, want %q", s.Name, got, want)
		}
	}
}

func TestStopKillsWholeGroup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cmd  string
	}{
		{"stoppedBySIGTERM", `sh -c 'sleep 60 & sleep 60' & sleep 60`},
		// SIG_IGN is inherited: nothing but SIGKILL after the grace ends it.
		{"stoppedBySIGKILLWhenTERMIgnored", `trap "" TERM; sh -c 'sleep 60 & sleep 60' & sleep 60`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := setup(t)
			h := start(t, e, onePod("job-stop", tc.cmd))
			ref, err := parseRef(h.Pods["master-0"])
			if err != nil {
				t.Fatal(err)
			}
			var members []int
			eventually(t, "the pod's three sleeps", func() bool {
				members = groupMembers(ref.PID)
				sleeps := 0
				for _, pid := range members {
					if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(b) == "sleep\n" {
						sleeps++
					}
				}
				return sleeps == 3
			})
			if err := e.Stop(context.Background(), h, 300*time.Millisecond); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			for _, pid := range members {
				if !gone(pid) {
					t.Errorf("process %d survived Stop", pid)
				}
			}
			if left := groupMembers(ref.PID); len(left) > 0 {
				t.Errorf("group %d still has %v", ref.PID, left)
			}
			s := inspect(t, e, h)[0]
			if s.Phase != executor.PodStopped || s.FinishedAt.IsZero() {
				t.Errorf("status %+v", s)
			}
			if err := e.Stop(context.Background(), h, time.Second); err != nil {
				t.Errorf("second Stop: %v", err)
			}
			if s := inspect(t, e, h)[0]; s.Phase != executor.PodStopped {
				t.Errorf("after second Stop: %+v", s)
			}
		})
	}
}

func TestStopAfterEndKeepsOutcome(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	h := start(t, e, onePod("job-done", "exit 0"))
	waitDone(t, e, h)
	if err := e.Stop(context.Background(), h, time.Second); err != nil {
		t.Fatal(err)
	}
	if s := inspect(t, e, h)[0]; s.Phase != executor.PodSucceeded {
		t.Errorf("status %+v", s)
	}
	if err := e.Stop(context.Background(), executor.Handle{Backend: "local", JobID: "never-started", Attempt: 1}, 0); err != nil {
		t.Errorf("Stop of an unknown attempt: %v", err)
	}
}

func TestPodEndsWithItsCommand(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	// The background sleep would outlive the command; the pod's end takes it.
	h := start(t, e, onePod("job-straggler", "sleep 60 & echo $! > ../straggler; exit 0"))
	if s := waitDone(t, e, h)[0]; s.Phase != executor.PodSucceeded {
		t.Fatalf("status %+v", s)
	}
	b, err := os.ReadFile(filepath.Join(h.Ref, "master-0", "straggler"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	eventually(t, "the straggler to be killed", func() bool { return gone(pid) })
}

func TestLogs(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	h := start(t, e, onePod("job-logs", "echo one; echo two >&2; echo three"))
	waitDone(t, e, h)
	if got := logs(t, e, h, "master-0"); got != "one\ntwo\nthree\n" {
		t.Errorf("log %q", got)
	}
	var b bytes.Buffer
	if err := e.Logs(context.Background(), h, "master-0", true, &b); err != nil || b.String() != "one\ntwo\nthree\n" {
		t.Errorf("follow of an ended pod: %q, %v", b.String(), err)
	}
	if err := e.Logs(context.Background(), h, "nope", false, &b); !errors.Is(err, executor.ErrNotFound) {
		t.Errorf("unknown pod: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsFollow(t *testing.T) {
	t.Parallel()
	e, b := setup(t)
	gate := filepath.Join(b.dir, "gate")
	task := onePod("job-follow", `echo first; while [ ! -e "$GATE" ]; do sleep 0.05; done; echo last`)
	task.Pods[0].Env = map[string]string{"GATE": gate}
	h := start(t, e, task)

	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- e.Logs(context.Background(), h, "master-0", true, &out) }()
	eventually(t, "the first line", func() bool { return out.String() == "first\n" })
	select {
	case err := <-done:
		t.Fatalf("follow returned while the pod runs: %v", err)
	default:
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "first\nlast\n" {
		t.Errorf("followed %q", got)
	}

	// A follow ends with its context too.
	h2 := start(t, e, onePod("job-follow-cancel", "echo hi; sleep 60"))
	ctx, cancel := context.WithCancel(context.Background())
	var out2 syncBuffer
	go func() { done <- e.Logs(ctx, h2, "master-0", true, &out2) }()
	eventually(t, "the line", func() bool { return out2.String() == "hi\n" })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("follow after cancel: %v", err)
	}
}

// TestReadoptAfterServerDeath starts a gang from another process (a fake
// server), kills that process with SIGKILL, and re-adopts the gang here: the
// pod runs on, ends, and its exit code is there.
func TestReadoptAfterServerDeath(t *testing.T) {
	t.Parallel()
	_, b := setup(t)
	gate := filepath.Join(b.dir, "gate")
	srv := exec.Command(os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), fakeServerEnv+"="+b.dir, "GATE="+gate)
	srv.Stderr = os.Stderr
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		srv.Process.Kill()
		srv.Wait()
		t.Fatalf("fake server printed no handle: %v", err)
	}
	if err := srv.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	var h executor.Handle
	if err := json.Unmarshal(line, &h); err != nil {
		t.Fatalf("handle %q: %v", line, err)
	}

	// A new executor, as in the restarted server, with the stored handle.
	e, err := New(b.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background(), h, 0) })
	if err := e.Recover(context.Background(), h); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if s := inspect(t, e, h)[0]; s.Phase != executor.PodRunning {
		t.Fatalf("after the server died: %+v", s)
	}
	// The minimal handle a crash before recording it leaves works too.
	minimal := executor.Handle{Backend: "local", JobID: h.JobID, Attempt: h.Attempt}
	if err := e.Recover(context.Background(), minimal); err != nil {
		t.Fatalf("Recover(minimal): %v", err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := waitDone(t, e, h)[0]
	if s.Phase != executor.PodFailed || s.ExitCode == nil || *s.ExitCode != 7 {
		t.Fatalf("status %+v (exit %v)", s, deref(s.ExitCode))
	}
	if s2 := inspect(t, e, minimal)[0]; s2.Phase != executor.PodFailed || *s2.ExitCode != 7 {
		t.Errorf("via minimal handle: %+v", s2)
	}
	if got := logs(t, e, h, "master-0"); got != "waiting\nfinished\n" {
		t.Errorf("log %q", got)
	}
}

func TestRecoverUnknownAttemptIsNotFound(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	h := start(t, e, onePod("job-gone", "exit 0"))
	waitDone(t, e, h)
	if err := os.RemoveAll(h.Ref); err != nil {
		t.Fatal(err)
	}
	for _, h := range []executor.Handle{h, {Backend: "local", JobID: "job-x", Attempt: 3}} {
		if err := e.Recover(context.Background(), h); !errors.Is(err, executor.ErrNotFound) {
			t.Errorf("Recover(%+v): %v", h, err)
		}
		if _, err := e.Inspect(context.Background(), h); !errors.Is(err, executor.ErrNotFound) {
			t.Errorf("Inspect(%+v): %v", h, err)
		}
	}
}

// TestRecycledPidIsLost: a handle whose pid exists but belongs to another
// process (other start time) is not our pod, which is then Lost — and Stop
// must not touch that process.
func TestRecycledPidIsLost(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	h := start(t, e, onePod("job-reuse", "sleep 60"))
	waitRunning(t, e, h)

	// A long-lived stranger standing in for whoever got the pid.
	stranger := exec.Command("sleep", "60")
	stranger.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // leads its own group, like our pods
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Process.Kill(); stranger.Wait() })
	st, err := readStat(stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	forged := h
	forged.Pods = map[string]string{"master-0": procRef{PID: stranger.Process.Pid, Start: st.Start + 1}.String()}

	s := inspect(t, e, forged)[0]
	if s.Phase != executor.PodLost || !strings.Contains(s.Message, "belongs to another process") {
		t.Errorf("status %+v", s)
	}
	if err := e.Stop(context.Background(), forged, 0); err != nil {
		t.Fatal(err)
	}
	if gone(stranger.Process.Pid) {
		t.Error("Stop of a recycled pid killed a stranger")
	}
	if s := inspect(t, e, h)[0]; s.Phase != executor.PodRunning {
		t.Errorf("the real pod: %+v", s)
	}
}

func TestCleanupKeepsLogsAndExit(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	h := start(t, e, onePod("job-clean", "echo kept > out.txt; echo logged"))
	waitDone(t, e, h)
	if err := e.Cleanup(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	pd := filepath.Join(h.Ref, "master-0")
	if _, err := os.Stat(filepath.Join(pd, "work")); !os.IsNotExist(err) {
		t.Errorf("work dir: %v", err)
	}
	for _, f := range []string{"output.log", "exit", "pod.json", "proc"} {
		if _, err := os.Stat(filepath.Join(pd, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if s := inspect(t, e, h)[0]; s.Phase != executor.PodSucceeded {
		t.Errorf("after cleanup: %+v", s)
	}

	h2 := start(t, e, onePod("job-clean-running", "sleep 60"))
	waitRunning(t, e, h2)
	if err := e.Cleanup(context.Background(), h2); err == nil {
		t.Error("Cleanup of a running pod succeeded")
	}
}

func TestStartRefuses(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	start(t, e, onePod("job-twice", "exit 0"))
	for _, tc := range []struct {
		name string
		task executor.Task
	}{
		{"sameAttemptTwice", onePod("job-twice", "exit 0")},
		{"badJobID", onePod("../x", "exit 0")},
		{"noPods", executor.Task{JobID: "j", Attempt: 1}},
		{"attemptZero", executor.Task{JobID: "j", Pods: onePod("j", "").Pods}},
		{"duplicatePod", executor.Task{JobID: "j", Attempt: 1, Pods: []executor.PodTask{{Name: "a"}, {Name: "a"}}}},
		{"badEnv", executor.Task{JobID: "j", Attempt: 1, Pods: []executor.PodTask{{Name: "a", Env: map[string]string{"A=B": "c"}}}}},
	} {
		if _, err := e.Start(context.Background(), tc.task); err == nil {
			t.Errorf("%s: started", tc.name)
		}
	}
}

// podUserSetup is an executor as the server sets it up as root: records in
// <data>/pods under a private data directory holding a secret, working
// directories under a pod directory of their own, pods run as nobody.
func podUserSetup(t *testing.T) (e *Executor, data, work string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: pods drop to the pod user only when the server is root")
	}
	data = t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "admin.token"), []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Not under t.TempDir(), whose parent is 0700: nobody cannot pass it.
	// Open makes it 0711.
	work, err := os.MkdirTemp("", "atrium-local-pods-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	e, err = Open(Config{Dir: filepath.Join(data, "pods"), WorkDir: work, User: &Nobody})
	if err != nil {
		t.Fatal(err)
	}
	return e, data, work
}

// TestPodRunsAsPodUser: with a pod user the command runs as that uid (not
// root), with no other group, no capability and no_new_privs; it cannot
// read a 0600 file of the data directory nor list it, nor read its own
// records; it writes its working directory and HOME, which is 0700 and
// its own. The records stay 0700/0600.
func TestPodRunsAsPodUser(t *testing.T) {
	t.Parallel()
	e, data, work := podUserSetup(t)
	task := onePod("job-nobody", `echo "uid=$(id -u) groups=$(id -G)"
grep -E '^(CapEff|CapPrm|NoNewPrivs):' /proc/self/status | tr -s '\t ' ' '
cat "$DATA/admin.token" && echo "READ THE TOKEN"
ls "$DATA" && echo "LISTED THE DATA DIRECTORY"
cat "$DATA/pods/job-nobody/1/master-0/pod.json" >/dev/null && echo "READ MY RECORD"
echo made > made.txt && echo made > "$HOME/home.txt" && echo "wrote work and home"
echo "pwd=$(pwd) home=$HOME"`)
	task.Pods[0].Env = map[string]string{"DATA": data}
	h := start(t, e, task)
	st := waitDone(t, e, h)[0]
	out := logs(t, e, h, "master-0")
	if st.Phase != executor.PodSucceeded {
		t.Fatalf("status %+v; log:\n%s", st, out)
	}
	pod := filepath.Join(work, "job-nobody", "1", "master-0")
	for _, want := range []string{"uid=65534 groups=65534\n", "CapEff: 0000000000000000\n", "CapPrm: 0000000000000000\n", "NoNewPrivs: 1\n",
		"wrote work and home\n", "pwd=" + pod + " home=" + pod + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"s3cret-token", "READ THE TOKEN", "LISTED THE DATA DIRECTORY", "READ MY RECORD", "pods\n"} {
		if strings.Contains(out, bad) {
			t.Errorf("the pod saw %q:\n%s", bad, out)
		}
	}
	fi, err := os.Stat(pod)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o700 || st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("working directory %04o %d:%d, want 0700 65534:65534", fi.Mode().Perm(), st.Uid, st.Gid)
	}
	for _, f := range []string{"made.txt", "home.txt"} {
		if fi, err := os.Stat(filepath.Join(pod, f)); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 65534 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for d, want := range map[string]os.FileMode{work: 0o711, filepath.Join(work, "job-nobody"): 0o711,
		filepath.Join(work, "job-nobody", "1"): 0o711} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %04o", d, fi.Mode(), err, want)
		}
	}
	err = filepath.WalkDir(filepath.Join(data, "pods"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if want := os.FileMode(0o600); d.IsDir() && fi.Mode().Perm() != 0o700 || !d.IsDir() && fi.Mode().Perm() != want {
			t.Errorf("record %s is %04o", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Cleanup(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(work, "job-nobody")); !os.IsNotExist(err) {
		t.Errorf("after Cleanup the job's working directories remain: %v", err)
	}
}

// TestOpenRefusesUnreachableWorkDir: a pod user who cannot walk down to
// the working directories (a parent is 0700) is refused at Open, naming
// the directory in the way, instead of every pod failing later.
func TestOpenRefusesUnreachableWorkDir(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	closed := t.TempDir()
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Config{Dir: filepath.Join(closed, "pods"), WorkDir: filepath.Join(closed, "work"), User: &Nobody})
	if err == nil || !strings.Contains(err.Error(), closed+" is mode 0700") {
		t.Fatalf("Open: %v", err)
	}
	if _, err := Open(Config{Dir: filepath.Join(closed, "pods"), User: &Nobody}); err == nil {
		t.Fatal("a pod user without a WorkDir was accepted")
	}
}

func TestParseUser(t *testing.T) {
	t.Parallel()
	if u, err := ParseUser("1000:100"); err != nil || u != (User{UID: 1000, GID: 100}) {
		t.Errorf("ParseUser(1000:100) = %v, %v", u, err)
	}
	for _, bad := range []string{"0:0", "0:65534", "65534:0", "nobody", "65534", "-1:-1", "4294967295:1", "1:2:3", ""} {
		if _, err := ParseUser(bad); err == nil {
			t.Errorf("ParseUser(%q) accepted", bad)
		}
	}
	if _, err := ParseUser("0:0"); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("ParseUser(0:0): %v", err)
	}
}
