package main

import (
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
// from Slurm, runs a gang to Succeeded; stopping a running job cancels it
// in Slurm. Runs when ATRIUM_TEST_SLURM is set (CI sets it).
func TestServeRunsJobsOnSlurm(t *testing.T) {
	if os.Getenv("ATRIUM_TEST_SLURM") == "" {
		t.Skip("ATRIUM_TEST_SLURM is not set (scripts/slurm-up.sh starts a one-node cluster)")
	}
	dataDir := t.TempDir()
	s := startServer(t, nil, "--data-dir", dataDir)
	raw, _ := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	token := strings.TrimSpace(string(raw))
	call := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		st, out := s.call(t, token, method, path, body)
		if st != want {
			t.Fatalf("%s %s: %d %v\nlog:\n%s", method, path, st, out, s.stderr)
		}
		return out
	}
	call("POST", "/api/v1/resource-groups", map[string]any{"name": "hpc", "backend": "slurm", "partition": "atrium"}, 201)
	nodes := call("POST", "/api/v1/resource-groups/rg-hpc/import-nodes", nil, 200)
	if nodes["totalCount"].(float64) < 1 {
		t.Fatalf("no Slurm nodes imported: %v", nodes)
	}
	call("POST", "/api/v1/quotas", map[string]any{"name": "hpc", "resourceGroupIds": []string{"rg-hpc"},
		"max": []map[string]any{{"cpu": "2", "memory": "1Gi"}}, "offeredToAll": true}, 201)
	ws := call("POST", "/api/v1/workspaces", map[string]any{"name": "slurmers", "envTypes": []string{"prod"}}, 201)
	wsPath := "/api/v1/workspaces/" + ws["workspaceId"].(string)

	spec := `
jobType: PyTorchJob
command: echo "$RANK $WORLD_SIZE"
quotaId: quota-hpc
jobSpecs:
  - {type: Master, podCount: 1, image: pytorch:2.4, resources: {cpu: 1, memory: 100Mi}}
  - {type: Worker, podCount: 1, image: pytorch:2.4, resources: {cpu: 1, memory: 100Mi}}
`
	st, j := s.callRaw(t, token, "POST", wsPath+"/jobs", spec)
	if st != 201 {
		t.Fatalf("submit: %d %v", st, j)
	}
	jobPath := wsPath + "/jobs/" + j["jobId"].(string)
	j = s.waitJob(t, token, jobPath, "succeeded", func(j map[string]any) bool {
		if j["status"] == "Failed" || j["status"] == "Stopped" {
			t.Fatalf("job ended %s: %v", j["status"], j["reasonMessage"])
		}
		return j["status"] == "Succeeded"
	})
	if j["backend"] != "slurm" {
		t.Fatalf("ran on %v", j["backend"])
	}
	_, logs := s.callRaw(t, token, "GET", jobPath+"/logs", "")
	if !regexp.MustCompile(`\[master-0\] 0 2\n`).MatchString(logs["raw"].(string)) || !strings.Contains(logs["raw"].(string), "[worker-0] 1 2") {
		t.Fatalf("logs:\n%s", logs["raw"])
	}

	// Stopping a running job cancels it in Slurm.
	st, j = s.callRaw(t, token, "POST", wsPath+"/jobs", strings.Replace(strings.Replace(spec, `echo "$RANK $WORLD_SIZE"`, "sleep 120", 1), "PyTorchJob", "PyTorchJob", 1))
	if st != 201 {
		t.Fatalf("submit: %d %v", st, j)
	}
	id := j["jobId"].(string)
	jobPath = wsPath + "/jobs/" + id
	s.waitJob(t, token, jobPath, "runs", hasStatus("Running"))
	call("POST", jobPath+"/stop", nil, 200)
	s.waitJob(t, token, jobPath, "stopped", hasStatus("Stopped"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := exec.Command("scontrol", "-o", "show", "job").CombinedOutput()
		if m := regexp.MustCompile(`JobName=atrium-` + id + `-1 .*?JobState=(\S+)`).FindStringSubmatch(string(out)); m != nil && m[1] == "CANCELLED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Slurm does not show the job cancelled:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
