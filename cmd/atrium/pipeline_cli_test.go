package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startPipelineServer runs the real binary's serve over a CPU-only host
// and logs the real binary's client in, with a workspace selected. It
// returns the server, the admin token, the workspace path and a runner of
// client commands.
func startPipelineServer(t *testing.T, args []string) (*server, string, string, func(args ...string) (string, error)) {
	t.Helper()
	s := startServer(t, nil, args...)
	dataDir := args[1]
	raw, _ := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	token := strings.TrimSpace(string(raw))
	cfg := filepath.Join(t.TempDir(), "config.json")
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(atriumBinary(t), args...)
		cmd.Env = append(os.Environ(), "ATRIUM_CONFIG="+cfg, "ATRIUM_SERVER=", "ATRIUM_TOKEN=", "ATRIUM_WORKSPACE=")
		var errb strings.Builder
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil {
			return string(out), &cliError{err: err, stderr: errb.String()}
		}
		return string(out), nil
	}
	for _, args := range [][]string{{"login", "--server", s.url, "--token-file", filepath.Join(dataDir, "admin.token")},
		{"workspace", "create", "pipes"}, {"workspace", "use", "pipes"}} {
		if out, err := cli(args...); err != nil {
			t.Fatalf("atrium %v: %v\n%s", args, err, out)
		}
	}
	st, l := s.call(t, token, "GET", "/api/v1/workspaces?name=pipes", nil)
	items, _ := l["items"].([]any)
	if st != 200 || len(items) != 1 {
		t.Fatalf("workspace: %d %v", st, l)
	}
	return s, token, "/api/v1/workspaces/" + items[0].(map[string]any)["workspaceId"].(string), cli
}

type cliError struct {
	err    error
	stderr string
}

func (e *cliError) Error() string { return e.err.Error() + "\nstderr:\n" + e.stderr }

// TestPipelineRunCLI: `atrium pipeline run -f examples/pipelines/diamond.yaml
// --wait -o json` through the real binary and `atrium serve` creates the
// pipeline, runs it on the local executor and prints the Succeeded run
// with each node's name, status, startedAt and finishedAt; a second run of
// the unchanged file reuses the pipeline.
func TestPipelineRunCLI(t *testing.T) {
	_, _, _, cli := startPipelineServer(t, []string{"--data-dir", t.TempDir(), "--local-capacity", "cpu=8,memory=16Gi"})
	example := filepath.Join("..", "..", "examples", "pipelines", "diamond.yaml")
	out, err := cli("pipeline", "run", "-f", example, "--wait", "-o", "json")
	if err != nil {
		t.Fatalf("pipeline run: %v\n%s", err, out)
	}
	var run struct {
		Status     string `json:"status"`
		PipelineID string `json:"pipelineId"`
		Nodes      []struct {
			Name       string     `json:"name"`
			Status     string     `json:"status"`
			StartedAt  *time.Time `json:"startedAt"`
			FinishedAt *time.Time `json:"finishedAt"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &run); err != nil {
		t.Fatalf("output is not the run as JSON: %v\n%s", err, out)
	}
	if run.Status != "Succeeded" || len(run.Nodes) != 4 {
		t.Fatalf("run: %s", out)
	}
	for _, n := range run.Nodes {
		if n.Name == "" || n.Status != "Succeeded" || n.StartedAt == nil || n.FinishedAt == nil {
			t.Fatalf("node: %+v", n)
		}
	}
	var ids struct {
		RunID string `json:"runId"`
	}
	_ = json.Unmarshal([]byte(out), &ids)
	logs, err := cli("pipeline", "logs", ids.RunID, "D")
	if err != nil || !strings.Contains(logs, "ROW-3") || !strings.Contains(logs, "3:row-3") {
		t.Fatalf("pipeline logs D: %v\n%s", err, logs)
	}
	out, err = cli("pipeline", "run", "-f", example, "--arg", "failC=true", "--wait")
	if err == nil || !strings.Contains(out, "Failed") {
		t.Fatalf("failing run: %v\n%s", err, out)
	}
	list, err := cli("pipeline", "list")
	if err != nil || strings.Count(list, "diamond") != 1 || !strings.Contains(list, run.PipelineID) {
		t.Fatalf("pipeline list: %v\n%s", err, list)
	}
	if versions, err := cli("pipeline", "versions", "diamond"); err != nil || !strings.Contains(versions, "VERSION") {
		t.Fatalf("pipeline versions: %v\n%s", err, versions)
	}
	runs, err := cli("pipeline", "runs", "--pipeline", "diamond", "-o", "json")
	if err != nil || strings.Count(runs, `"runId"`) != 2 {
		t.Fatalf("pipeline runs: %v\n%s", err, runs)
	}
}

// holdPipeline is a diamond whose B and C each note that they started,
// then hold until the test creates $ATRIUM_RUN_DIR/go.
const holdPipeline = `name: hold
nodes:
  - name: A
    outputs: [{name: data, type: file}]
    job: {jobType: CustomJob, command: 'echo a > "$ATRIUM_OUTPUT_data"', jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 0.1, memory: 64Mi}}]}
  - name: B
    inputs: [{name: data, type: file, from: A.data}]
    outputs: [{name: out, type: file}]
    job: {jobType: CustomJob, command: 'touch "$ATRIUM_RUN_DIR/B.started"; while [ ! -e "$ATRIUM_RUN_DIR/go" ]; do sleep 0.1; done; cp "$ATRIUM_INPUT_data" "$ATRIUM_OUTPUT_out"', jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 0.1, memory: 64Mi}}]}
  - name: C
    inputs: [{name: data, type: file, from: A.data}]
    outputs: [{name: out, type: file}]
    job: {jobType: CustomJob, command: 'touch "$ATRIUM_RUN_DIR/C.started"; while [ ! -e "$ATRIUM_RUN_DIR/go" ]; do sleep 0.1; done; cp "$ATRIUM_INPUT_data" "$ATRIUM_OUTPUT_out"', jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 0.1, memory: 64Mi}}]}
  - name: D
    inputs: [{name: b, type: file, from: B.out}, {name: c, type: file, from: C.out}]
    job: {jobType: CustomJob, command: 'cat "$ATRIUM_INPUT_b" "$ATRIUM_INPUT_c"', jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 0.1, memory: 64Mi}}]}
`

// TestPipelineAcrossKill: kill -9 the server while B and C run; after the
// restart the run goes on from the database: B and C are re-adopted, D is
// submitted, the run Succeeds, and no node's job was submitted twice.
func TestPipelineAcrossKill(t *testing.T) {
	engines := map[string]func(t *testing.T) []string{"sqlite": func(t *testing.T) []string { return nil }}
	if base := os.Getenv("ATRIUM_TEST_POSTGRES"); base != "" {
		engines["postgres"] = func(t *testing.T) []string { return []string{"--database-url", freshPostgresDB(t, base)} }
	}
	for name, extra := range engines {
		t.Run(name, func(t *testing.T) { testPipelineAcrossKill(t, extra(t)) })
	}
}

func testPipelineAcrossKill(t *testing.T, extra []string) {
	dataDir := t.TempDir()
	args := append([]string{"--data-dir", dataDir, "--local-capacity", "cpu=8,memory=16Gi"}, extra...)
	s, token, ws, cli := startPipelineServer(t, args)
	file := filepath.Join(t.TempDir(), "hold.yaml")
	if err := os.WriteFile(file, []byte(holdPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := cli("pipeline", "run", "-f", file, "-o", "json")
	if err != nil {
		t.Fatalf("pipeline run: %v\n%s", err, out)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	id := r["runId"].(string)
	runDir := filepath.Join(podDirOf(s), "pipeline-runs", id)
	deadline := time.Now().Add(60 * time.Second)
	for !exists(filepath.Join(runDir, "B.started")) || !exists(filepath.Join(runDir, "C.started")) {
		if time.Now().After(deadline) {
			t.Fatalf("B and C never started\nserver log:\n%s", s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.kill9(t)
	s2 := startServer(t, nil, args...)
	if err := os.WriteFile(filepath.Join(runDir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := ws + "/pipeline-runs/" + id
	run := s2.waitJob(t, token, path, "ended", func(run map[string]any) bool {
		return run["status"] == "Succeeded" || run["status"] == "Failed"
	})
	if run["status"] != "Succeeded" {
		t.Fatalf("run after restart: %v\nserver log:\n%s", run, s2.stderr)
	}
	st, jobs := s2.call(t, token, "GET", ws+"/jobs?pageSize=100", nil)
	items, _ := jobs["items"].([]any)
	if st != 200 || len(items) != 4 {
		t.Fatalf("jobs: %d, want one per node: %v", len(items), jobs)
	}
	for _, it := range items {
		if j := it.(map[string]any); j["status"] != "Succeeded" || j["attempt"] != float64(1) {
			t.Fatalf("job %v %v after %v attempts", j["displayName"], j["status"], j["attempt"])
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
