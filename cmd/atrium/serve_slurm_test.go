package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeRunsJobsOnSlurm is acceptance 5: a resource group over the real
// Slurm partition of this host (scripts/slurm-up.sh), its nodes imported
// from Slurm, runs a workspace member's gang to Succeeded as the group's
// non-root Unix account, with its logs; stopping a running job cancels it
// in Slurm. Runs when ATRIUM_TEST_SLURM is set (CI sets it).
func TestServeRunsJobsOnSlurm(t *testing.T) {
	sl := startSlurmServer(t)
	b, err := os.ReadFile(example + "slurm-host.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec := string(b)
	j := sl.run(t, sl.dev, spec, "Succeeded")
	if j["backend"] != "slurm" {
		t.Fatalf("ran on %v", j["backend"])
	}
	// the default account applies: no mapping names one for dev or the workspace
	logs := sl.logs(t, sl.dev, j)
	if !regexp.MustCompile(`\[master-0\] 0 2 atrium-job on \S+\n`).MatchString(logs) || !strings.Contains(logs, "[worker-0] 1 2 atrium-job on ") {
		t.Fatalf("logs:\n%s", logs)
	}

	// Stopping a running job cancels it in Slurm.
	stopping := regexp.MustCompile(`(?m)^command: .*$`).ReplaceAllString(spec, "command: sleep 120")
	st, j := sl.s.callRaw(t, sl.dev, "POST", sl.wsPath+"/jobs", stopping)
	if st != 201 {
		t.Fatalf("submit: %d %v", st, j)
	}
	id := j["jobId"].(string)
	jobPath := sl.wsPath + "/jobs/" + id
	sl.s.waitJob(t, sl.dev, jobPath, "runs", hasStatus("Running"))
	sl.call("POST", jobPath+"/stop", nil, 200)
	sl.s.waitJob(t, sl.dev, jobPath, "stopped", hasStatus("Stopped"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := exec.Command("scontrol", "-o", "show", "job").CombinedOutput()
		m := regexp.MustCompile(`JobName=atrium-` + id + `-1 .*?UserId=(\S+) .*?JobState=(\S+)`).FindStringSubmatch(string(out))
		if m != nil && m[2] == "CANCELLED" {
			if !strings.HasPrefix(m[1], "atrium-job(") {
				t.Errorf("the stopped job ran as %s, want atrium-job", m[1])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Slurm does not show the job cancelled:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServeSlurmAccounts: jobs run as the workspace's mapped account, a
// user's mapping wins over it, root cannot be mapped (400 naming the
// field), a job with an image is refused at submission with a clear
// error, and without any account the submission is refused too.
func TestServeSlurmAccounts(t *testing.T) {
	sl := startSlurmServer(t)
	st, out := sl.s.call(t, sl.admin, "PUT", "/api/v1/resource-groups/rg-hpc/accounts/workspaces/"+sl.wsID, map[string]any{"unixAccount": "root"})
	if st != 400 || out["field"] != "unixAccount" || !strings.Contains(fmt.Sprint(out["detail"]), "must not be root (uid 0)") {
		t.Fatalf("mapping root: %d %v", st, out)
	}
	st, out = sl.s.call(t, sl.admin, "PUT", "/api/v1/resource-groups/rg-hpc", map[string]any{"defaultUnixAccount": "root"})
	if st != 400 || out["field"] != "defaultUnixAccount" {
		t.Fatalf("root as the default: %d %v", st, out)
	}
	sl.call("PUT", "/api/v1/resource-groups/rg-hpc/accounts/workspaces/"+sl.wsID, map[string]any{"unixAccount": "atrium-job2"}, 200)
	sl.call("PUT", "/api/v1/resource-groups/rg-hpc/accounts/users/"+sl.dev2ID, map[string]any{"unixAccount": "atrium-job"}, 200)
	spec := `
jobType: PyTorchJob
command: id -un
quotaId: quota-hpc
jobSpecs:
  - {type: Master, podCount: 1, image: host, resources: {cpu: 1, memory: 100Mi}}
`
	for _, c := range []struct{ who, token, want string }{
		{"dev (workspace mapping)", sl.dev, "atrium-job2"},
		{"dev2 (user mapping over the workspace's)", sl.dev2, "atrium-job"},
	} {
		j := sl.run(t, c.token, spec, "Succeeded")
		if logs := sl.logs(t, c.token, j); logs != "[master-0] "+c.want+"\n" {
			t.Errorf("%s: id -un printed %q, want %s", c.who, logs, c.want)
		}
	}

	st, out = sl.s.callRaw(t, sl.dev, "POST", sl.wsPath+"/jobs", strings.Replace(spec, "image: host", "image: busybox:1.36", 1))
	if st != 400 || out["field"] != "jobSpecs[0].image" || !strings.Contains(fmt.Sprint(out["detail"]), "cannot run images") {
		t.Fatalf("a job with an image: %d %v", st, out)
	}

	sl.call("DELETE", "/api/v1/resource-groups/rg-hpc/accounts/workspaces/"+sl.wsID, nil, 204)
	sl.call("PUT", "/api/v1/resource-groups/rg-hpc", map[string]any{"defaultUnixAccount": ""}, 200)
	st, out = sl.s.callRaw(t, sl.dev, "POST", sl.wsPath+"/jobs", spec)
	if st != 400 || out["field"] != "quotaId" || !strings.Contains(fmt.Sprint(out["detail"]), "no Unix account is mapped for workspace "+sl.wsID) {
		t.Fatalf("a job without an account: %d %v", st, out)
	}
}

// TestServeSlurmJobSurvivesRestart: a job running as its account on Slurm
// is re-adopted after Atrium is killed and restarted, and ends Succeeded
// with its logs.
func TestServeSlurmJobSurvivesRestart(t *testing.T) {
	sl := startSlurmServer(t)
	st, j := sl.s.callRaw(t, sl.dev, "POST", sl.wsPath+"/jobs", `
jobType: PyTorchJob
command: sleep 4; id -un
quotaId: quota-hpc
jobSpecs:
  - {type: Master, podCount: 1, image: host, resources: {cpu: 1, memory: 100Mi}}
`)
	if st != 201 {
		t.Fatalf("submit: %d %v", st, j)
	}
	path := sl.wsPath + "/jobs/" + j["jobId"].(string)
	sl.s.waitJob(t, sl.dev, path, "runs", hasStatus("Running"))
	sl.restart(t)
	j = sl.s.waitJob(t, sl.dev, path, "succeeded", func(j map[string]any) bool {
		if j["status"] == "Failed" || j["status"] == "Stopped" {
			t.Fatalf("job ended %s after the restart: %v", j["status"], j["reasonMessage"])
		}
		return j["status"] == "Succeeded"
	})
	if logs := sl.logs(t, sl.dev, j); logs != "[master-0] atrium-job\n" {
		t.Errorf("logs after the restart: %q", logs)
	}
}

// slurmServer is a server whose group rg-hpc (default account atrium-job)
// holds this host's Slurm node, with quota-hpc offered to a workspace of
// two developers, dev and dev2.
type slurmServer struct {
	s                    *server
	admin, dev, dev2     string // tokens
	wsID, wsPath, dev2ID string
	call                 func(method, path string, body any, want int) map[string]any
	env, args            []string // of startServer
}

// restart kills the server with SIGKILL and starts it again.
func (sl *slurmServer) restart(t *testing.T) {
	t.Helper()
	sl.s.kill9(t)
	sl.s = startServer(t, sl.env, sl.args...)
}

func startSlurmServer(t *testing.T) *slurmServer {
	t.Helper()
	if os.Getenv("ATRIUM_TEST_SLURM") == "" {
		t.Skip("ATRIUM_TEST_SLURM is not set (scripts/slurm-up.sh starts a one-node cluster)")
	}
	dataDir := t.TempDir()
	// The data directory is private; the jobs' accounts reach a work
	// directory of their own.
	work := t.TempDir()
	for _, d := range []string{work, filepath.Dir(work)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	sl := &slurmServer{env: []string{"ATRIUM_SLURM_WORK_DIR=" + work}, args: []string{"--data-dir", dataDir}}
	sl.s = startServer(t, sl.env, sl.args...)
	raw, _ := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	sl.admin = strings.TrimSpace(string(raw))
	sl.call = func(method, path string, body any, want int) map[string]any {
		t.Helper()
		st, out := sl.s.call(t, sl.admin, method, path, body)
		if st != want {
			t.Fatalf("%s %s: %d %v\nlog:\n%s", method, path, st, out, sl.s.stderr)
		}
		return out
	}
	sl.call("POST", "/api/v1/resource-groups", map[string]any{"name": "hpc", "backend": "slurm", "partition": "atrium", "defaultUnixAccount": "atrium-job"}, 201)
	nodes := sl.call("POST", "/api/v1/resource-groups/rg-hpc/import-nodes", nil, 200)
	if nodes["totalCount"].(float64) < 1 {
		t.Fatalf("no Slurm nodes imported: %v", nodes)
	}
	sl.call("POST", "/api/v1/quotas", map[string]any{"name": "hpc", "resourceGroupIds": []string{"rg-hpc"},
		"max": []map[string]any{{"cpu": "2", "memory": "1Gi"}}, "offeredToAll": true}, 201)
	ws := sl.call("POST", "/api/v1/workspaces", map[string]any{"name": "slurmers", "envTypes": []string{"prod"}}, 201)
	sl.wsID = ws["workspaceId"].(string)
	sl.wsPath = "/api/v1/workspaces/" + sl.wsID
	var ids []string
	for _, name := range []string{"dev", "dev2"} {
		u := sl.call("POST", "/api/v1/users", map[string]any{"name": name, "password": "a long password"}, 201)
		ids = append(ids, u["userId"].(string))
	}
	sl.call("POST", sl.wsPath+"/members", map[string]any{"members": []map[string]any{
		{"userId": ids[0], "roles": []string{"AlgoDeveloper"}}, {"userId": ids[1], "roles": []string{"AlgoDeveloper"}}}}, 201)
	sl.dev, sl.dev2, sl.dev2ID = sl.s.passwordToken(t, "dev"), sl.s.passwordToken(t, "dev2"), ids[1]
	return sl
}

// run submits spec as token and waits for the job to reach status.
func (sl *slurmServer) run(t *testing.T, token, spec, status string) map[string]any {
	t.Helper()
	st, j := sl.s.callRaw(t, token, "POST", sl.wsPath+"/jobs", spec)
	if st != 201 {
		t.Fatalf("submit: %d %v", st, j)
	}
	return sl.s.waitJob(t, token, sl.wsPath+"/jobs/"+j["jobId"].(string), status, func(j map[string]any) bool {
		if j["status"] != status && (j["status"] == "Failed" || j["status"] == "Stopped" || j["status"] == "Succeeded") {
			t.Fatalf("job ended %s: %v", j["status"], j["reasonMessage"])
		}
		return j["status"] == status
	})
}

// logs returns the job's logs as the API shows them.
func (sl *slurmServer) logs(t *testing.T, token string, j map[string]any) string {
	t.Helper()
	_, out := sl.s.callRaw(t, token, "GET", sl.wsPath+"/jobs/"+j["jobId"].(string)+"/logs", "")
	raw, _ := out["raw"].(string)
	return raw
}

// passwordToken mints an API token for a user by name and password.
func (s *server) passwordToken(t *testing.T, name string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/api/v1/auth/tokens", strings.NewReader(`{"name":"test"}`))
	req.SetBasicAuth(name, "a long password")
	st, out := send(t, req)
	tok, _ := out["token"].(string)
	if st != 201 || tok == "" {
		t.Fatalf("token for %s: %d %v", name, st, out)
	}
	return tok
}
