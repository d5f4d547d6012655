package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// callRaw sends a raw body (a YAML job spec) and decodes the JSON answer.
func (s *server) callRaw(t *testing.T, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = jsonUnmarshalMap(b, &out)
	if out == nil {
		out = map[string]any{"raw": string(b)}
	}
	return resp.StatusCode, out
}

// waitJob polls a job until cond holds.
func (s *server) waitJob(t *testing.T, token, path string, what string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, j := s.call(t, token, "GET", path, nil)
		if st == 200 && cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never %s: %d %v\nserver log:\n%s", what, st, j, s.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hasStatus(want string) func(map[string]any) bool {
	return func(j map[string]any) bool { return j["status"] == want }
}

// TestServeRunsJobsAcrossKill: acceptance 1 (a PyTorchJob of 1 Master + 3
// Workers with a T4 each on --local-capacity gpu=4,gpuType=T4 succeeds;
// logs show ranks 0–3, world size 4, four GPU ids) and acceptance 4
// (kill -9 the server while jobs run: after the restart they end in the
// right state with their exit codes, each after exactly one attempt).
func TestServeRunsJobsAcrossKill(t *testing.T) {
	dataDir := t.TempDir()
	args := []string{"--data-dir", dataDir, "--local-capacity", "cpu=8,memory=16Gi,gpu=4,gpuType=T4"}
	s := startServer(t, nil, args...)
	raw, _ := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	token := strings.TrimSpace(string(raw))
	st, ws := s.call(t, token, "POST", "/api/v1/workspaces", map[string]any{"name": "jobs", "envTypes": []string{"prod"}})
	if st != 201 {
		t.Fatalf("workspace: %d %v", st, ws)
	}
	wsPath := "/api/v1/workspaces/" + ws["workspaceId"].(string)

	spec := `
jobType: PyTorchJob
command: echo "$RANK $WORLD_SIZE $CUDA_VISIBLE_DEVICES"
jobSpecs:
  - {type: Master, podCount: 1, image: pytorch:2.4-cuda12, resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}}
  - {type: Worker, podCount: 3, image: pytorch:2.4-cuda12, resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}}
`
	st, j := s.callRaw(t, token, "POST", wsPath+"/jobs", spec)
	if st != 201 || j["quotaId"] != "quota-public" {
		t.Fatalf("submit: %d %v", st, j)
	}
	jobPath := wsPath + "/jobs/" + j["jobId"].(string)
	s.waitJob(t, token, jobPath, "succeeded", hasStatus("Succeeded"))
	st, logs := s.callRaw(t, token, "GET", jobPath+"/logs", "")
	if st != 200 {
		t.Fatalf("logs: %d %v", st, logs)
	}
	lines := regexp.MustCompile(`\[(\w+-\d)\] (\d) 4 (\d)\n`).FindAllStringSubmatch(logs["raw"].(string), -1)
	ranks, gpus := map[string]bool{}, map[string]bool{}
	for _, l := range lines {
		ranks[l[2]], gpus[l[3]] = true, true
	}
	if len(lines) != 4 || len(ranks) != 4 || len(gpus) != 4 {
		t.Fatalf("logs do not show 4 ranks on 4 GPUs:\n%s", logs["raw"])
	}

	// Jobs running when the server dies.
	sleeper := func(code int) string {
		return "jobType: CustomJob\ncommand: sleep 3; exit " + itoa(code) +
			"\njobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}}]\n"
	}
	var paths []string
	for _, code := range []int{0, 4} {
		st, j := s.callRaw(t, token, "POST", wsPath+"/jobs", sleeper(code))
		if st != 201 {
			t.Fatalf("submit: %d %v", st, j)
		}
		p := wsPath + "/jobs/" + j["jobId"].(string)
		paths = append(paths, p)
		s.waitJob(t, token, p, "runs", hasStatus("Running"))
	}
	s.kill9(t)
	s2 := startServer(t, nil, args...)
	for i, want := range []string{"Succeeded", "Failed"} {
		j := s2.waitJob(t, token, paths[i], "ended", func(j map[string]any) bool {
			return j["status"] == "Succeeded" || j["status"] == "Failed" || j["status"] == "Stopped"
		})
		pod := j["pods"].([]any)[0].(map[string]any)
		if j["status"] != want || pod["exitCode"] != float64(i*4) || j["attempt"] != float64(1) {
			t.Fatalf("after kill -9: %s %v exit %v attempt %v (want %s)", j["status"], j["reasonMessage"], pod["exitCode"], j["attempt"], want)
		}
	}
	var buf bytes.Buffer
	buf.WriteString(s.stderr.String() + s2.stderr.String())
	if strings.Contains(buf.String(), token) {
		t.Fatal("token in server log")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func jsonUnmarshalMap(b []byte, v *map[string]any) error { return json.Unmarshal(b, v) }
