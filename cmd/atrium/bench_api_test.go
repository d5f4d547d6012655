package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

// runBench runs 'atrium bench …' in-process and returns its stdout.
func runBench(t *testing.T, args ...string) string {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetArgs(append([]string{"bench"}, args...))
	root.SetOut(&out)
	root.SetErr(&errb)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("atrium bench %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// TestBenchAPI runs the API load briefly and checks the report's shape: all
// four endpoints measured without errors, percentiles in order; the table
// ends with the same JSON.
func TestBenchAPI(t *testing.T) {
	var res apiBench
	out := runBench(t, "api", "--rate", "150", "--duration", "1s", "--clients", "4", "--submit-share", "0.1", "-o", "json")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if res.Engine != "sqlite" || res.Requests < 100 || res.Errors != 0 || len(res.Endpoints) != 4 || res.Throughput <= 0 {
		t.Fatalf("report: %+v", res)
	}
	total := 0
	for _, e := range res.Endpoints {
		if e.Requests == 0 || e.Errors != 0 || e.P50Millis <= 0 || e.P50Millis > e.P99Millis || e.P99Millis > e.MaxMillis {
			t.Fatalf("endpoint %+v", e)
		}
		total += e.Requests
	}
	if total != res.Requests || res.ReadP50Millis > res.ReadP99Millis {
		t.Fatalf("report: %+v", res)
	}

	table := runBench(t, "api", "--rate", "100", "--duration", "300ms", "--clients", "2")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if !strings.Contains(table, "GET /workspaces/{id}/jobs/{id}") || !json.Valid([]byte(lines[len(lines)-1])) {
		t.Fatalf("table:\n%s", table)
	}
}

// TestBenchVsSlurm runs the comparison with a few jobs on the real Slurm
// (ATRIUM_TEST_SLURM) and checks the figures are positive and the ratios
// are the quotients.
func TestBenchVsSlurm(t *testing.T) {
	if os.Getenv("ATRIUM_TEST_SLURM") == "" {
		t.Skip("ATRIUM_TEST_SLURM is not set (scripts/slurm-up.sh starts a one-node cluster)")
	}
	out := runBench(t, "vs-slurm", "--jobs", "4", "--concurrency", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || !strings.Contains(lines[0], "Atrium") {
		t.Fatalf("want a table then a JSON line:\n%s", out)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &raw); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	res := map[string]float64{}
	for _, k := range []string{"atriumSubmitPerSecond", "slurmSubmitPerSecond", "submitRatio", "atriumMakespanSeconds", "slurmMakespanSeconds", "makespanRatio"} {
		v, ok := raw[k].(float64)
		if !ok || v <= 0 || math.IsInf(v, 0) {
			t.Fatalf("%s = %v\n%s", k, raw[k], out)
		}
		res[k] = v
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(a, b) }
	if !near(res["submitRatio"], res["atriumSubmitPerSecond"]/res["slurmSubmitPerSecond"]) ||
		!near(res["makespanRatio"], res["atriumMakespanSeconds"]/res["slurmMakespanSeconds"]) {
		t.Fatalf("ratios are not the quotients: %v", res)
	}
}
