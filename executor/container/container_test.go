package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"atrium/executor"
)

// The images scripts/images-up.sh builds.
const (
	busybox = "localhost/atrium/busybox:latest"
	pytorch = "localhost/atrium/pytorch:cpu"
)

// setup returns an executor on a fresh directory, or skips the test when
// ATRIUM_TEST_PODMAN is not set (CI sets it after scripts/images-up.sh).
func setup(t *testing.T) *Executor {
	t.Helper()
	if os.Getenv("ATRIUM_TEST_PODMAN") == "" {
		t.Skip("set ATRIUM_TEST_PODMAN=1 (after scripts/images-up.sh) to run the container tests")
	}
	e, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var jobSeq int

// start starts a one-pod gang running cmd in image and removes it when the
// test ends.
func start(t *testing.T, e *Executor, task executor.Task) executor.Handle {
	t.Helper()
	jobSeq++
	if task.JobID == "" {
		task.JobID = fmt.Sprintf("t%d-%d", os.Getpid(), jobSeq)
	}
	task.Attempt = max(task.Attempt, 1)
	h, err := e.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = e.Stop(ctx, h, 0)
		_ = e.Cleanup(ctx, h)
		e.WaitCleanups()
	})
	return h
}

func pod(name, image, cmd string) executor.PodTask {
	return executor.PodTask{Name: name, Image: image, Command: cmd, CPU: 1000, Memory: 256 << 20}
}

// wait polls until every pod is done and returns the statuses.
func wait(t *testing.T, e *Executor, h executor.Handle) []executor.PodStatus {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := e.Inspect(context.Background(), h)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		done := true
		for _, s := range st {
			done = done && s.Phase.Done()
		}
		if done {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods still running: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func logs(t *testing.T, e *Executor, h executor.Handle, pod string) string {
	t.Helper()
	var b bytes.Buffer
	if err := e.Logs(context.Background(), h, pod, false, &b); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	return b.String()
}

func TestIsolationUserFilesAndNetwork(t *testing.T) {
	e := setup(t)
	// What the pod must not reach: a file beside Atrium's state, and a
	// service on the host's loopback (as Atrium's API is).
	secret := filepath.Join(e.cfg.Dir, "admin.token")
	if err := os.WriteFile(secret, []byte("tok-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "host-service-answered")
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	// A service on all of the host's addresses (Atrium with --addr
	// 0.0.0.0:…), reached through the job network's gateway.
	all, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	go func() {
		for {
			c, err := all.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "host-service-answered")
			c.Close()
		}
	}()
	allPort := all.Addr().(*net.TCPAddr).Port
	cmd := fmt.Sprintf(`echo "uid=$(id -u)"; echo "home=$HOME pwd=$(pwd)"; touch /workspace/ok && echo wrote-workspace
cat %s 2>&1 || echo no-secret
ls %s 2>&1 || echo no-data-dir
nc -w 2 127.0.0.1 %d </dev/null 2>&1 || echo no-loopback
gw=$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf); nc -w 2 "$gw" %d </dev/null 2>&1 || echo no-gateway
nslookup worker-0 >/dev/null 2>&1 && echo dns-works
awk '$2 == "00000000" {found=1} END {print found ? "default-route" : "default-route=none"}' /proc/net/route
echo caps=$(grep CapEff /proc/self/status)`, secret, e.cfg.Dir, port, allPort)
	h := start(t, e, executor.Task{Image: busybox, Pods: []executor.PodTask{pod("worker-0", busybox, cmd)}})
	st := wait(t, e, h)
	out := logs(t, e, h, "worker-0")
	if st[0].Phase != executor.PodSucceeded {
		t.Fatalf("pod: %+v\n%s", st[0], out)
	}
	for _, want := range []string{"uid=1000", "home=/workspace pwd=/workspace", "wrote-workspace", "no-secret", "no-data-dir",
		"no-loopback", "no-gateway", "dns-works", "default-route=none", "CapEff: 0000000000000000"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, leak := range []string{"tok-secret", "host-service-answered"} {
		if strings.Contains(out, leak) {
			t.Errorf("the pod reached %q:\n%s", leak, out)
		}
	}
}

func TestImagesAreRun(t *testing.T) {
	e := setup(t)
	if err := exec.Command("podman", "image", "exists", pytorch).Run(); err != nil {
		t.Skipf("%s is not built (scripts/images-up.sh pytorch)", pytorch)
	}
	h := start(t, e, executor.Task{Pods: []executor.PodTask{
		pod("a-0", busybox, "grep ^ID= /etc/os-release"),
		pod("b-0", pytorch, "grep ^ID= /etc/os-release; python3 -c 'import torch; print(\"torch\", torch.__version__)'"),
	}})
	wait(t, e, h)
	a, b := logs(t, e, h, "a-0"), logs(t, e, h, "b-0")
	if !strings.Contains(a, "ID=atrium-busybox") || !strings.Contains(b, "ID=debian") || !strings.Contains(b, "torch 1.") {
		t.Fatalf("each pod should see its own image:\nbusybox: %s\npytorch: %s", a, b)
	}
}

func TestMissingImageFailsFastAndLeavesNothing(t *testing.T) {
	e := setup(t)
	task := executor.Task{JobID: fmt.Sprintf("missing%d", os.Getpid()), Attempt: 1, Pods: []executor.PodTask{
		pod("master-0", busybox, "true"), pod("worker-0", "localhost/atrium/no-such-image:1", "true")}}
	_, err := e.Start(context.Background(), task)
	var pe *executor.ImagePullError
	if !errors.As(err, &pe) || pe.Image != "localhost/atrium/no-such-image:1" {
		t.Fatalf("Start: got %v, want an ImagePullError naming the image", err)
	}
	out, _ := exec.Command("podman", "ps", "-a", "--filter", "label=atrium.job="+task.JobID, "--format", "{{.Names}}").Output()
	nets, _ := exec.Command("podman", "network", "ls", "--format", "{{.Name}}").Output()
	if len(bytes.TrimSpace(out)) > 0 || strings.Contains(string(nets), networkName(task.JobID, 1)) {
		t.Fatalf("a failed start left containers %q or its network", out)
	}
}

func TestMemoryLimitKillsWithOOMKilled(t *testing.T) {
	e := setup(t)
	p := pod("worker-0", busybox, `x=$(head -c 200000000 /dev/zero | tr '\0' a); echo survived ${#x}`)
	p.Memory = 32 << 20
	h := start(t, e, executor.Task{Pods: []executor.PodTask{p}})
	st := wait(t, e, h)
	if st[0].Phase != executor.PodFailed || st[0].Reason != executor.ReasonOOMKilled || !strings.Contains(st[0].Message, "32Mi") {
		t.Fatalf("pod over its memory: %+v, want Failed/OOMKilled naming 32Mi", st[0])
	}
}

func TestCPUIsCappedAtTheRequest(t *testing.T) {
	e := setup(t)
	// Two busy loops for 3 s in a pod that asked for half a core: the
	// cgroup's CPU time must stay near 1.5 s, not 3 or 6.
	p := pod("worker-0", busybox, `f=/sys/fs/cgroup/cpuacct/cpuacct.usage; [ -r $f ] || f=/sys/fs/cgroup/cpu.stat
before=$(head -1 $f | tr -dc 0-9); t0=$(date +%s)
timeout 3 yes >/dev/null & timeout 3 yes >/dev/null & wait
after=$(head -1 $f | tr -dc 0-9); t1=$(date +%s)
q=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max)
per=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cut -d' ' -f2 /sys/fs/cgroup/cpu.max)
echo "usage=$((after-before)) unit=$([ $f = /sys/fs/cgroup/cpu.stat ] && echo us || echo ns) wall=$((t1-t0)) quota=$q period=$per"`)
	p.CPU = 500
	h := start(t, e, executor.Task{Pods: []executor.PodTask{p}})
	wait(t, e, h)
	out := logs(t, e, h, "worker-0")
	var usage int64
	var unit string
	var wall, quota, period int
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "usage=%d unit=%s wall=%d quota=%d period=%d", &usage, &unit, &wall, &quota, &period); err != nil {
		t.Fatalf("cannot read the measurement %q: %v", out, err)
	}
	secs := float64(usage) / 1e9
	if unit == "us" {
		secs = float64(usage) / 1e6
	}
	cores := secs / float64(max(wall, 1))
	t.Logf("CPU used: %.2f s over %d s = %.2f cores (limit 0.5; cgroup quota %d per %d µs)", secs, wall, cores, quota, period)
	if period == 0 || float64(quota)/float64(period) != 0.5 {
		t.Fatalf("the pod's cgroup allows %d µs per %d µs, want half a core", quota, period)
	}
	// Measured: above the cap would be a broken limit (a loaded machine
	// may give less, never more).
	if cores > 0.7 || usage <= 0 {
		t.Fatalf("pod limited to 0.5 cores used %.2f cores", cores)
	}
}

func TestGangReachesMasterByName(t *testing.T) {
	e := setup(t)
	master := pod("master-0", busybox, `echo "master on $(hostname)"; nc -l -p "$MASTER_PORT" -e echo hello-from-master`)
	master.Env = map[string]string{"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
	worker := pod("worker-0", busybox, `for i in $(seq 50); do nc -w 1 "$MASTER_ADDR" "$MASTER_PORT" </dev/null 2>/dev/null && exit 0; sleep 0.1; done; exit 1`)
	worker.Rank, worker.Env = 1, master.Env
	h := start(t, e, executor.Task{Pods: []executor.PodTask{master, worker}})
	st := wait(t, e, h)
	out := logs(t, e, h, "worker-0")
	if st[0].Phase != executor.PodSucceeded || st[1].Phase != executor.PodSucceeded || !strings.Contains(out, "hello-from-master") {
		t.Fatalf("gang: %+v\nworker: %s", st, out)
	}
}

func TestMountsOnlyWhatIsGiven(t *testing.T) {
	e := setup(t)
	data, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "train.csv"), []byte("1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := start(t, e, executor.Task{Mounts: []executor.Mount{
		{Source: data, Target: "/mnt/data", ReadOnly: true, Env: "DATA_DIR"},
		{Source: filepath.Join(out, "job"), Target: "/output", Owned: true},
	}, Pods: []executor.PodTask{pod("worker-0", busybox, `cat $DATA_DIR/train.csv; touch /mnt/data/x 2>/dev/null && echo wrote-data; echo model > /output/model.txt && echo wrote-output`)}})
	wait(t, e, h)
	got := logs(t, e, h, "worker-0")
	if !strings.Contains(got, "1,2") || strings.Contains(got, "wrote-data") || !strings.Contains(got, "wrote-output") {
		t.Fatalf("mounts: %s", got)
	}
	if b, err := os.ReadFile(filepath.Join(out, "job", "model.txt")); err != nil || string(b) != "model\n" {
		t.Fatalf("output on the host: %q %v", b, err)
	}
}

func TestStopAndRecoverAfterRestart(t *testing.T) {
	e := setup(t)
	gate := filepath.Join(t.TempDir(), "gate")
	if err := os.Mkdir(gate, 0o777); err != nil {
		t.Fatal(err)
	}
	h := start(t, e, executor.Task{Mounts: []executor.Mount{{Source: gate, Target: "/gate", ReadOnly: true}},
		Pods: []executor.PodTask{pod("worker-0", busybox, `echo waiting; while [ ! -e /gate/open ]; do sleep 0.1; done; echo finished; exit 3`),
			pod("sleeper-0", busybox, "sleep 300")}})
	// A new executor on the same directory is a restarted server.
	e2, err := New(Config{Dir: e.cfg.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Recover(context.Background(), h); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	st, err := e2.Inspect(context.Background(), h)
	if err != nil || st[0].Phase != executor.PodRunning || st[1].Phase != executor.PodRunning {
		t.Fatalf("after restart: %+v %v", st, err)
	}
	if err := os.WriteFile(filepath.Join(gate, "open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for st[0].Phase == executor.PodRunning {
		time.Sleep(100 * time.Millisecond)
		if st, err = e2.Inspect(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	if st[0].Phase != executor.PodFailed || st[0].ExitCode == nil || *st[0].ExitCode != 3 {
		t.Fatalf("re-adopted pod: %+v", st[0])
	}
	if err := e2.Stop(context.Background(), h, time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	st = wait(t, e2, h)
	if st[1].Phase != executor.PodStopped || st[1].ExitCode == nil || (*st[1].ExitCode != 143 && e.pm.init != "") {
		t.Fatalf("stopped pod: %+v (SIGTERM should end sleep: 143)", st[1])
	}
	if got := logs(t, e2, h, "worker-0"); got != "waiting\nfinished\n" {
		t.Fatalf("logs: %q", got)
	}
	if err := e2.Cleanup(context.Background(), h); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	e2.WaitCleanups()
	if exec.Command("podman", "container", "exists", h.Pods["worker-0"]).Run() == nil || exec.Command("podman", "network", "exists", networkName(h.JobID, 1)).Run() == nil {
		t.Fatal("Cleanup left the attempt's container or network")
	}
	if _, err := os.Stat(filepath.Join(e.cfg.Dir, h.JobID, strconv.Itoa(h.Attempt), "worker-0", outputFile)); err != nil {
		t.Fatalf("logs must outlive Cleanup: %v", err)
	}
	if got := logs(t, e2, h, "worker-0"); got != "waiting\nfinished\n" {
		t.Fatalf("logs after cleanup: %q", got)
	}
}

func TestParseUserRefusesRoot(t *testing.T) {
	for _, s := range []string{"0:0", "1000:0", "root", "1000", "-1:5", ""} {
		if _, _, err := ParseUser(s); err == nil {
			t.Errorf("ParseUser(%q) accepted", s)
		}
	}
	if uid, gid, err := ParseUser("1000:100"); err != nil || uid != 1000 || gid != 100 {
		t.Errorf("ParseUser(1000:100) = %d %d %v", uid, gid, err)
	}
}

func TestLogReaderJoinsPartialLines(t *testing.T) {
	var b bytes.Buffer
	lr := &logReader{w: &b}
	in := "2026-12-04T16:20:13.1+00:00 stdout P hel\n2026-12-04T16:20:13.2+00:00 stdout F lo world\n2026-12-04T16:20:13.3+00:00 stderr F \n2026-12-04T16:20:13.4+00:00 stdout F tail"
	if err := lr.copy(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "hello world\n\n" {
		t.Fatalf("complete lines: %q", got)
	}
	if err := lr.flush(); err != nil || b.String() != "hello world\n\ntail\n" {
		t.Fatalf("after flush: %q %v", b.String(), err)
	}
}

// A notebook pod with the default command serves /workspace on its own
// address, which Atrium's host (its proxy) reaches.
func TestDefaultNotebookIsReachableFromTheHost(t *testing.T) {
	e := setup(t)
	p := pod("instance-0", busybox, "echo notebook-home > /workspace/index.html; "+e.DefaultDSWCommand())
	p.Env = map[string]string{"ATRIUM_DSW_PORT": "8888"}
	h := start(t, e, executor.Task{Pods: []executor.PodTask{p}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := e.Inspect(context.Background(), h)
		if err != nil || st[0].Phase.Done() {
			t.Fatalf("instance: %+v %v\n%s", st, err, logs(t, e, h, "instance-0"))
		}
		if st[0].Address != "" {
			resp, err := http.Get("http://" + net.JoinHostPort(st[0].Address, "8888") + "/")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(b), "notebook-home") {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notebook never answered on its address: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestImagesRunningAsRootGetTheConfiguredUser(t *testing.T) {
	e := &Executor{cfg: Config{User: "1000:1000"}}
	for in, want := range map[string]string{"": "1000:1000", "0": "1000:1000", "00": "1000:1000", "root": "1000:1000",
		"0:0": "1000:1000", "1001:0": "1000:1000", "1001:root": "1000:1000", "-1": "1000:1000",
		"1001": "1001", "1001:1001": "1001:1001", "jovyan": "1000:1000", "jovyan:users": "1000:1000", "1001:users": "1000:1000"} {
		if got := e.podUser(in); got != want {
			t.Errorf("image user %q runs as %q, want %q", in, got, want)
		}
	}
}

// Sweep removes what ended attempts left (Atrium died before Cleanup) and
// nothing of the attempts it keeps, nor of another server's executor.
func TestSweepRemovesOnlyEndedAttemptsOfItsOwn(t *testing.T) {
	e := setup(t)
	other, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ended := start(t, e, executor.Task{Pods: []executor.PodTask{pod("worker-0", busybox, "echo bye")}})
	live := start(t, e, executor.Task{Pods: []executor.PodTask{pod("worker-0", busybox, "sleep 300")}})
	theirs := start(t, other, executor.Task{Pods: []executor.PodTask{pod("worker-0", busybox, "true")}})
	wait(t, e, ended)
	wait(t, other, theirs)
	if err := e.Sweep(context.Background(), func(job string, attempt int) bool { return job == live.JobID }); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	exists := func(name string) bool { return exec.Command("podman", "container", "exists", name).Run() == nil }
	netExists := func(name string) bool { return exec.Command("podman", "network", "exists", name).Run() == nil }
	if exists(ended.Pods["worker-0"]) || netExists(networkName(ended.JobID, 1)) {
		t.Errorf("the ended attempt's container or network is still there")
	}
	if !exists(live.Pods["worker-0"]) || !exists(theirs.Pods["worker-0"]) || !netExists(networkName(theirs.JobID, 1)) {
		t.Errorf("Sweep removed a kept attempt or another executor's")
	}
	if got := logs(t, e, ended, "worker-0"); got != "bye\n" {
		t.Errorf("logs of the swept attempt must stay until the job is deleted: %q", got)
	}
}

// One job cannot reach another's pods (a notebook's server, say): each
// attempt's network is internal and has no route to the others.
func TestJobsCannotReachEachOther(t *testing.T) {
	e := setup(t)
	srv := pod("instance-0", busybox, "while true; do nc -l -p 8888 -e echo other-job-answered; done")
	a := start(t, e, executor.Task{Pods: []executor.PodTask{srv}})
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; time.Sleep(100 * time.Millisecond) {
		st, err := e.Inspect(context.Background(), a)
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("no address for the first job: %+v %v", st, err)
		}
		addr = st[0].Address
	}
	b := start(t, e, executor.Task{Pods: []executor.PodTask{pod("worker-0", busybox,
		"nc -w 2 "+addr+" 8888 </dev/null 2>&1 || echo no-route; nc -w 2 instance-0 8888 </dev/null 2>&1 || echo no-name")}})
	wait(t, e, b)
	out := logs(t, e, b, "worker-0")
	if strings.Contains(out, "other-job-answered") || !strings.Contains(out, "no-route") || !strings.Contains(out, "no-name") {
		t.Fatalf("the second job reached the first (%s):\n%s", addr, out)
	}
	// The host (Atrium's proxy) does reach it.
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, "8888"), 5*time.Second)
	if err != nil {
		t.Fatalf("the host cannot reach the first job: %v", err)
	}
	c.Close()
}

// GPUs are named in the environment always, and passed as CDI devices
// when the host has a CDI spec for nvidia.com/gpu (this machine has no
// GPU: the spec here is a test file, the arguments are what is checked).
func TestGPUsThroughCDIWhenTheHostHasASpec(t *testing.T) {
	cdi := t.TempDir()
	e := &Executor{cfg: Config{Dir: t.TempDir(), User: DefaultUser, CDIDirs: []string{cdi}}, pm: &podman{}}
	p := executor.PodTask{Name: "worker-0", Image: busybox, Command: "true", GPUs: []int{1, 3}}
	task := executor.Task{JobID: "dlc-gpu", Attempt: 1, Pods: []executor.PodTask{p}}
	args := strings.Join(e.createArgs(task, p, e.cfg.Dir, DefaultUser), " ")
	if strings.Contains(args, "--device") || !strings.Contains(args, "CUDA_VISIBLE_DEVICES=1,3") || !strings.Contains(args, "NVIDIA_VISIBLE_DEVICES=1,3") {
		t.Fatalf("without a CDI spec: %s", args)
	}
	if err := os.WriteFile(filepath.Join(cdi, "nvidia.yaml"), []byte("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args = strings.Join(e.createArgs(task, p, e.cfg.Dir, DefaultUser), " ")
	if !strings.Contains(args, "--device nvidia.com/gpu=1 --device nvidia.com/gpu=3") {
		t.Fatalf("with a CDI spec: %s", args)
	}
}
