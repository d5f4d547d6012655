package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"atrium"
	"atrium/httpapi"
)

// TestUsageCLI reads a ledger written through UpdateJob, as the scheduling
// loop writes it, with 'atrium usage'.
func TestUsageCLI(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	e.ok("workspace", "create", "team_a")
	e.ok("workspace", "use", "team_a")
	var ws atrium.Workspace
	if err := json.Unmarshal([]byte(e.ok("workspace", "get", "team_a", "-o", "json")), &ws); err != nil {
		t.Fatal(err)
	}

	job := func(creator, jobType, quota string) *atrium.Job {
		j := &atrium.Job{WorkspaceID: ws.ID, Kind: atrium.KindDLC, DisplayName: jobType, JobType: jobType, Creator: "u-" + creator,
			CreatorName: creator, QuotaID: quota, Accessibility: atrium.AccessPrivate, Status: atrium.JobQueuing}
		if err := e.store.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	update := func(j *atrium.Job, upd atrium.JobUpdate) *atrium.Job {
		for i := range upd.OpenAllocations {
			a := &upd.OpenAllocations[i]
			a.QuotaID, a.UserID, a.UserName, a.JobKind, a.JobType = j.QuotaID, j.Creator, j.CreatorName, j.Kind, j.JobType
		}
		j, err := e.store.UpdateJob(ctx, j.ID, j.Version, upd)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	// alice: 2 A100s and 4 cores for [base, base+2h), closed at base+2h.
	// bob: 1 T4 and 8 cores since an hour ago, still running.
	now := time.Now()
	base := now.Add(-48 * time.Hour).Truncate(time.Second)
	a := job("alice", "PyTorchJob", "quota-x")
	a = update(a, atrium.JobUpdate{OpenAllocations: []atrium.Allocation{
		{Pod: "master-0", GPUType: "A100", GPU: 2, MilliCPU: 4000, Memory: 8 << 30, StartedAt: base}}})
	succeeded := atrium.JobSucceeded
	e.store.SetNow(func() time.Time { return base.Add(2 * time.Hour) })
	update(a, atrium.JobUpdate{Status: &succeeded, CloseAllocations: true})
	e.store.SetNow(nil)
	b := job("bob", "TFJob", "quota-y")
	update(b, atrium.JobUpdate{OpenAllocations: []atrium.Allocation{
		{Pod: "worker-0", GPUType: "T4", GPU: 1, MilliCPU: 8000, Memory: 16 << 30, StartedAt: now.Add(-time.Hour)}}})

	row := func(out string, cols ...string) {
		t.Helper()
		re := regexp.MustCompile(`(?m)^` + strings.Join(cols, `\s+`) + `\s*$`)
		if !re.MatchString(out) {
			t.Errorf("no row %q in:\n%s", strings.Join(cols, " "), out)
		}
	}

	// The last 7 days, by user, busiest first, with a total.
	out := e.ok("usage")
	contains(t, out, "Usage of workspace "+ws.ID, "by user", "KEY", "GPU-HOURS", "CPU-CORE-HOURS", "JOBS")
	row(out, "alice", "4.00", "8.00", "1")
	row(out, "bob", "1.00", "8.00", "1")
	row(out, "TOTAL", "5.00", "16.00", "2")
	if strings.Index(out, "alice") > strings.Index(out, "bob") {
		t.Errorf("not sorted by GPU-hours:\n%s", out)
	}

	// A window cuts allocations; by quota, as JSON.
	var r httpapi.UsageReport
	out = e.ok("usage", "-w", "team_a", "--from", base.Add(time.Hour).Format(time.RFC3339), "--to", base.Add(3*time.Hour).Format(time.RFC3339),
		"--group-by", "quota", "-o", "json")
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.GroupBy != "quota" || !r.From.Equal(base.Add(time.Hour)) || len(r.Items) != 1 ||
		r.Items[0] != (httpapi.UsageItem{Key: "quota-x", GPUHours: 2, CPUCoreHours: 4, MemoryGiBHours: 8, Jobs: 1, Allocations: 1}) {
		t.Fatalf("window by quota = %+v", r)
	}
	// Ages: the last 2 hours hold bob's job only.
	row(e.ok("usage", "--from", "2h", "--group-by", "gpuType"), "T4", "1.00", "8.00", "1")
	out = e.ok("usage", "--from", "3d", "--to", "1d", "--group-by", "jobType")
	row(out, "PyTorchJob", "4.00", "8.00", "1")
	row(out, "TOTAL", "4.00", "8.00", "1")

	// Platform-wide, for ResourceAdmins, also by workspace.
	out = e.ok("usage", "--platform", "--group-by", "workspace")
	contains(t, out, "Usage of the platform")
	row(out, ws.ID, "5.00", "16.00", "2")
	row(e.ok("usage", "--platform", "-w", "team_a"), "TOTAL", "5.00", "16.00", "2")

	// Bad input: named by the client, or by the server's 400.
	contains(t, e.fails("", "usage", "--from", "yesterday"), "--from", "yesterday")
	contains(t, e.fails("", "usage", "--group-by", "pod"), "400", "groupBy")
	contains(t, e.fails("", "usage", "--group-by", "workspace"), "400", "groupBy")
	contains(t, e.fails("", "usage", "--to", "2999-01-01T00:00:00Z"), "400", "to")
	contains(t, e.fails("", "usage", "--from", "500d"), "400", "from", "400 days")
}
