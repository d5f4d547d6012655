package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	busyboxImage = "localhost/atrium/busybox:latest"
	pytorchImage = "localhost/atrium/pytorch:cpu"
)

// containerServer starts a server with --runtime podman, or skips when
// ATRIUM_TEST_PODMAN is unset (CI sets it after scripts/images-up.sh). It
// returns the server, the admin token, a developer's token and the
// workspace path.
func containerServer(t *testing.T, dataDir string) (*server, string, string, string) {
	t.Helper()
	if os.Getenv("ATRIUM_TEST_PODMAN") == "" {
		t.Skip("set ATRIUM_TEST_PODMAN=1 (after scripts/images-up.sh) to run jobs in containers")
	}
	s := startServer(t, nil, "--data-dir", dataDir, "--runtime", "podman", "--local-capacity", "cpu=4,memory=8Gi")
	if !strings.Contains(s.stderr.String(), "pods run in containers") {
		t.Fatalf("the log does not say containers were picked:\n%s", s.stderr)
	}
	raw, _ := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	admin := strings.TrimSpace(string(raw))
	st, ws := s.call(t, admin, "POST", "/api/v1/workspaces", map[string]any{"name": "isolated", "envTypes": []string{"prod"}})
	if st != 201 {
		t.Fatalf("workspace: %d %v", st, ws)
	}
	wsPath := "/api/v1/workspaces/" + ws["workspaceId"].(string)
	st, u := s.call(t, admin, "POST", "/api/v1/users", map[string]any{"name": "dev", "password": "dev's long password"})
	if st != 201 {
		t.Fatalf("user: %d %v", st, u)
	}
	if st, out := s.call(t, admin, "POST", wsPath+"/members", map[string]any{"members": []map[string]any{{"userId": u["userId"], "roles": []string{"AlgoDeveloper"}}}}); st != 201 {
		t.Fatalf("member: %d %v", st, out)
	}
	req, _ := http.NewRequest("POST", s.url+"/api/v1/auth/tokens", strings.NewReader(`{"name":"test"}`))
	req.SetBasicAuth("dev", "dev's long password")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("developer token: %d %v", resp.StatusCode, err)
	}
	return s, admin, tok.Token, wsPath
}

// submit posts a YAML spec and returns the job's path.
func (s *server) submit(t *testing.T, token, wsPath, spec string) string {
	t.Helper()
	st, j := s.callRaw(t, token, "POST", wsPath+"/jobs", spec)
	if st != 201 {
		t.Fatalf("submit: %d %v", st, j)
	}
	return wsPath + "/jobs/" + j["jobId"].(string)
}

func isDone(j map[string]any) bool {
	return j["status"] == "Succeeded" || j["status"] == "Failed" || j["status"] == "Stopped"
}

func (s *server) jobLogs(t *testing.T, token, jobPath string) string {
	t.Helper()
	st, logs := s.callRaw(t, token, "GET", jobPath+"/logs", "")
	if st != 200 {
		t.Fatalf("logs: %d %v", st, logs)
	}
	return logs["raw"].(string)
}

// TestContainerJobsAreIsolated: a developer's job runs as a non-root user
// in its image, cannot read the data directory (it sees only its own
// output directory, mounted at the same path as on the host) nor reach
// Atrium's API on the host's loopback; a missing image fails fast with ImagePullFailed;
// a pod over its memory ends OOMKilled, naming the pod.
func TestContainerJobsAreIsolated(t *testing.T) {
	dataDir := t.TempDir()
	s, _, dev, wsPath := containerServer(t, dataDir)
	port := strings.TrimPrefix(s.url, "http://127.0.0.1:")
	probe := s.submit(t, dev, wsPath, `
jobType: CustomJob
command: |
  echo "uid=$(id -u)"
  cat `+dataDir+`/admin.token 2>/dev/null && echo READ-TOKEN
  ls -a `+dataDir+` 2>/dev/null | grep -v -x -e . -e .. -e outputs && echo SAW-DATA-DIR
  nc -w 2 127.0.0.1 `+port+` </dev/null && echo REACHED-API
  grep ^ID= /etc/os-release
  echo "model" > "$ATRIUM_OUTPUT_DIR/model.txt" && echo wrote-output
jobSpecs: [{type: Worker, podCount: 1, image: `+busyboxImage+`, resources: {cpu: 1, memory: 256Mi}}]
`)
	missing := s.submit(t, dev, wsPath, `
jobType: PyTorchJob
command: "true"
jobSpecs:
  - {type: Master, podCount: 1, image: `+busyboxImage+`, resources: {cpu: 1, memory: 128Mi}}
  - {type: Worker, podCount: 1, image: localhost/atrium/no-such-image:2, resources: {cpu: 1, memory: 128Mi}}
`)
	oom := s.submit(t, dev, wsPath, `
jobType: CustomJob
command: x=$(head -c 300000000 /dev/zero | tr '\0' a); echo survived
jobSpecs: [{type: Worker, podCount: 1, image: `+busyboxImage+`, resources: {cpu: 1, memory: 64Mi}}]
`)
	j := s.waitJob(t, dev, probe, "ended", isDone)
	out := s.jobLogs(t, dev, probe)
	if j["status"] != "Succeeded" || !strings.Contains(out, "ID=atrium-busybox") || !strings.Contains(out, "wrote-output") ||
		strings.Contains(out, "uid=0") || !strings.Contains(out, "uid=") {
		t.Fatalf("probe job: %v %v\n%s", j["status"], j["reasonMessage"], out)
	}
	for _, leak := range []string{"READ-TOKEN", "SAW-DATA-DIR", "REACHED-API"} {
		if strings.Contains(out, leak) {
			t.Errorf("the job %s:\n%s", leak, out)
		}
	}
	jobID := probe[strings.LastIndex(probe, "/")+1:]
	if b, err := os.ReadFile(filepath.Join(podDirOf(s), "outputs", jobID, "model.txt")); err != nil || string(b) != "model\n" {
		t.Errorf("the job's output on the host: %q %v", b, err)
	}

	j = s.waitJob(t, dev, missing, "ended", isDone)
	if j["status"] != "Failed" || j["reasonCode"] != "ImagePullFailed" || !strings.Contains(j["reasonMessage"].(string), "localhost/atrium/no-such-image:2") {
		t.Fatalf("missing image: %v %v %v", j["status"], j["reasonCode"], j["reasonMessage"])
	}
	j = s.waitJob(t, dev, oom, "ended", isDone)
	if j["status"] != "Failed" || j["reasonCode"] != "OOMKilled" || !strings.Contains(j["reasonMessage"].(string), "worker-0") {
		t.Fatalf("memory hog: %v %v %v", j["status"], j["reasonCode"], j["reasonMessage"])
	}
	// Clean-up runs in the background once a job has ended.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, _ := exec.Command("podman", "ps", "-a", "--filter", "label=atrium.job="+jobID, "--format", "{{.Names}}").Output()
		if len(bytes.TrimSpace(got)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers left after the jobs ended: %s", got)
		}
	}
}

// TestContainersSurviveKill: kill -9 of the server while a gang's
// containers run; the restarted server re-adopts them and the job ends
// with their exit code, after one attempt.
func TestContainersSurviveKill(t *testing.T) {
	dataDir := t.TempDir()
	s, admin, dev, wsPath := containerServer(t, dataDir)
	job := s.submit(t, dev, wsPath, `
jobType: PyTorchJob
command: 'echo "rank $RANK"; sleep 4; exit $RANK'
jobSpecs:
  - {type: Master, podCount: 1, image: `+busyboxImage+`, resources: {cpu: 1, memory: 128Mi}}
  - {type: Worker, podCount: 1, image: `+busyboxImage+`, resources: {cpu: 1, memory: 128Mi}}
`)
	s.waitJob(t, dev, job, "runs", hasStatus("Running"))
	s.kill9(t)
	s2 := startServer(t, nil, "--data-dir", dataDir, "--runtime", "podman", "--local-capacity", "cpu=4,memory=8Gi")
	j := s2.waitJob(t, admin, job, "ended", isDone)
	if j["status"] != "Failed" || j["attempt"] != float64(1) || !strings.Contains(j["reasonMessage"].(string), "worker-0 exited with code 1") {
		t.Fatalf("after kill -9: %v %v attempt %v", j["status"], j["reasonMessage"], j["attempt"])
	}
	if out := s2.jobLogs(t, dev, job); !strings.Contains(out, "rank 0") || !strings.Contains(out, "rank 1") {
		t.Fatalf("logs after restart:\n%s", out)
	}
}

// TestPyTorchDDPExample runs examples/jobs/pytorch-ddp.yaml: two ranks
// train with gloo across two containers and rank 0 writes the model.
func TestPyTorchDDPExample(t *testing.T) {
	if os.Getenv("ATRIUM_TEST_PODMAN") != "" && exec.Command("podman", "image", "exists", pytorchImage).Run() != nil {
		t.Skipf("%s is not built (scripts/images-up.sh pytorch)", pytorchImage)
	}
	dataDir := t.TempDir()
	s, _, dev, wsPath := containerServer(t, dataDir)
	spec, err := os.ReadFile("../../examples/jobs/pytorch-ddp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job := s.submit(t, dev, wsPath, string(spec))
	deadline := time.Now().Add(5 * time.Minute)
	var j map[string]any
	for {
		_, j = s.call(t, dev, "GET", job, nil)
		if isDone(j) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	out := s.jobLogs(t, dev, job)
	if j["status"] != "Succeeded" || !strings.Contains(out, "[master-0] rank 0/2") || !strings.Contains(out, "[worker-0] rank 1/2") {
		t.Fatalf("DDP example: %v %v\n%s", j["status"], j["reasonMessage"], out)
	}
	jobID := job[strings.LastIndex(job, "/")+1:]
	if fi, err := os.Stat(filepath.Join(podDirOf(s), "outputs", jobID, "model.pt")); err != nil || fi.Size() == 0 {
		t.Fatalf("no model in the job's output: %v", err)
	}
}

// TestServeWithoutARuntimeFallsBack: --runtime auto on a machine without
// podman (here: a PATH without it) serves in process mode, says why and
// warns; --runtime podman there refuses to start, naming the flag.
func TestServeWithoutARuntimeFallsBack(t *testing.T) {
	empty := t.TempDir()
	s := startServer(t, []string{"ATRIUM_RUNTIME=auto", "PATH=" + empty}, "--data-dir", t.TempDir())
	log := s.stderr.String()
	if !strings.Contains(log, "no container runtime found; falling back to process mode") || !strings.Contains(log, "jobs are not isolated") {
		t.Fatalf("the log does not say it fell back to process mode and warn:\n%s", log)
	}
	raw, _ := os.ReadFile(filepath.Join(s.cmd.Args[slices.Index(s.cmd.Args, "--data-dir")+1], "admin.token"))
	if st, info := s.call(t, strings.TrimSpace(string(raw)), "GET", "/api/v1/server", nil); st != 200 || info["runtime"] != "process" || info["isolated"] != false {
		t.Fatalf("GET /api/v1/server: %d %v", st, info)
	}
	dir := t.TempDir()
	cmd := exec.Command(atriumBinary(t), "serve", "--data-dir", dir, "--pod-dir", podDirFor(t, dir), "--runtime", "podman", "--addr", "127.0.0.1:0", "--dsw-addr", "")
	cmd.Env = append(os.Environ(), "PATH="+empty)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--runtime podman") {
		t.Fatalf("--runtime podman without podman: %v\n%s", err, out)
	}
}
