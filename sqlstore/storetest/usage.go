package storetest

import (
	"testing"
	"time"

	"atrium"
)

// podAllocation is what the scheduling loop records for one admitted pod of j.
func podAllocation(j *atrium.Job, attempt int, pod, node string, gpu int64) atrium.Allocation {
	return atrium.Allocation{
		QuotaID: j.QuotaID, UserID: j.Creator, UserName: j.CreatorName, JobKind: j.Kind, JobType: j.JobType,
		Attempt: attempt, Pod: pod, Node: node, GPUType: "A100", MilliCPU: 4000, Memory: 16 << 30, GPU: gpu,
	}
}

func mustAllocations(t *testing.T, s atrium.Store, f atrium.AllocationFilter) []*atrium.Allocation {
	t.Helper()
	as, err := s.FindAllocations(ctx, f)
	if err != nil {
		t.Fatalf("FindAllocations(%+v): %v", f, err)
	}
	return as
}

// withoutIDs checks the ledger ids increase in the listed order and returns
// the allocations without them, for comparison.
func withoutIDs(t *testing.T, as []*atrium.Allocation) []atrium.Allocation {
	t.Helper()
	out := []atrium.Allocation{}
	for _, a := range as {
		if a.ID <= 0 {
			t.Fatalf("allocation %+v has no id", *a)
		}
		c := *a
		c.ID = 0
		out = append(out, c)
	}
	return out
}

// testUsageLedger checks that UpdateJob opens and closes a job's
// allocations in the job update's transaction.
func testUsageLedger(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	j := mustJob(t, s, newJob(w, alice.ID, clockStart))
	all := atrium.AllocationFilter{}

	if as := mustAllocations(t, s, all); len(as) != 0 {
		t.Fatalf("allocations before admission = %s", dump(as))
	}

	// Admission: two pods; one start given with nanoseconds and a zone,
	// the other at the store's time. JobID and WorkspaceID come from the job.
	c.Add(time.Minute)
	t1 := stored(c.Now())
	given := clockStart.Add(30 * time.Second)
	m0, w0 := podAllocation(j, 1, "master-0", "gpu-1", 2), podAllocation(j, 1, "worker-0", "gpu-2", 0)
	m0.StartedAt = given
	j, err := s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{
		Status: ptr(atrium.JobRunning), Attempt: ptr(1), OpenAllocations: []atrium.Allocation{m0, w0},
	})
	wantNoErr(t, err)
	m0.JobID, m0.WorkspaceID, m0.StartedAt = j.ID, w.ID, stored(given)
	w0.JobID, w0.WorkspaceID, w0.StartedAt = j.ID, w.ID, t1
	got := mustAllocations(t, s, all)
	wantEqual(t, "opened", withoutIDs(t, got), []atrium.Allocation{m0, w0})
	if got[0].StartedAt.Location() != time.UTC {
		t.Fatalf("StartedAt = %v, want UTC", got[0].StartedAt)
	}

	// A stale version writes nothing, allocations included.
	_, err = s.UpdateJob(ctx, j.ID, j.Version-1, atrium.JobUpdate{
		CloseAllocations: true, OpenAllocations: []atrium.Allocation{podAllocation(j, 9, "x", "y", 1)},
	})
	wantCode(t, err, atrium.ECONFLICT)
	wantEqual(t, "after a conflict", withoutIDs(t, mustAllocations(t, s, all)), []atrium.Allocation{m0, w0})

	// A bad allocation fails the whole update.
	for _, tc := range []struct {
		field string
		edit  func(a *atrium.Allocation)
	}{
		{"openAllocations[1].jobId", func(a *atrium.Allocation) { a.JobID = "dlc-other" }},
		{"openAllocations[1].workspaceId", func(a *atrium.Allocation) { a.WorkspaceID = "ws-other" }},
		{"openAllocations[1]", func(a *atrium.Allocation) { a.GPU = -1 }},
	} {
		bad := podAllocation(j, 2, "worker-1", "gpu-2", 1)
		tc.edit(&bad)
		_, err = s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{
			Status: ptr(atrium.JobRestarting), CloseAllocations: true,
			OpenAllocations: []atrium.Allocation{podAllocation(j, 2, "master-0", "gpu-1", 1), bad},
		})
		wantField(t, err, tc.field)
	}
	if got := mustFindJob(t, s, j.ID); got.Version != j.Version || got.Status != atrium.JobRunning {
		t.Fatalf("job after failed updates = version %d %s, want %d Running", got.Version, got.Status, j.Version)
	}
	wantEqual(t, "after failed updates", withoutIDs(t, mustAllocations(t, s, all)), []atrium.Allocation{m0, w0})

	// An update that neither opens nor closes leaves the ledger alone.
	c.Add(time.Minute)
	j, err = s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{Description: ptr("still running")})
	wantNoErr(t, err)

	// Preemption closes every open allocation at the update's time, and a
	// restart in the same update closes the old attempt before opening
	// the new one.
	c.Add(time.Minute)
	t3 := stored(c.Now())
	m1 := podAllocation(j, 2, "master-0", "gpu-3", 1)
	j, err = s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{
		Status: ptr(atrium.JobRunning), Attempt: ptr(2), CloseAllocations: true, OpenAllocations: []atrium.Allocation{m1},
	})
	wantNoErr(t, err)
	m0.EndedAt, w0.EndedAt = ptr(t3), ptr(t3)
	m1.JobID, m1.WorkspaceID, m1.StartedAt = j.ID, w.ID, t3
	wantEqual(t, "restarted", withoutIDs(t, mustAllocations(t, s, all)), []atrium.Allocation{m0, w0, m1})

	// The end closes only what is open; closing again changes nothing.
	c.Add(time.Hour)
	t4 := stored(c.Now())
	j, err = s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{Status: ptr(atrium.JobSucceeded), CloseAllocations: true})
	wantNoErr(t, err)
	m1.EndedAt = ptr(t4)
	c.Add(time.Hour)
	_, err = s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{CloseAllocations: true})
	wantNoErr(t, err)
	final := []atrium.Allocation{m0, w0, m1}
	wantEqual(t, "finished", withoutIDs(t, mustAllocations(t, s, all)), final)

	// The ledger outlives the job.
	wantNoErr(t, s.DeleteJob(ctx, j.ID))
	wantEqual(t, "after the job's delete", withoutIDs(t, mustAllocations(t, s, all)), final)
}

// testUsageWindow checks FindAllocations' window (allocations overlapping
// [From, To)) and workspace filter.
func testUsageWindow(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w1, w2 := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)
	j := mustJob(t, s, newJob(w1, alice.ID, clockStart))
	k := mustJob(t, s, newJob(w2, alice.ID, clockStart))

	// j: a [t0, t1), b [t1, t2), then cc open from t2. k: d [t0+30m, t1+30m).
	t0 := stored(c.Now())
	j, err := s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{OpenAllocations: []atrium.Allocation{podAllocation(j, 1, "a", "n", 1)}})
	wantNoErr(t, err)
	c.Add(30 * time.Minute)
	k, err = s.UpdateJob(ctx, k.ID, k.Version, atrium.JobUpdate{OpenAllocations: []atrium.Allocation{podAllocation(k, 1, "d", "n", 1)}})
	wantNoErr(t, err)
	c.Add(30 * time.Minute)
	t1 := stored(c.Now())
	j, err = s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{CloseAllocations: true, OpenAllocations: []atrium.Allocation{podAllocation(j, 2, "b", "n", 1)}})
	wantNoErr(t, err)
	c.Add(30 * time.Minute)
	_, err = s.UpdateJob(ctx, k.ID, k.Version, atrium.JobUpdate{CloseAllocations: true})
	wantNoErr(t, err)
	c.Add(30 * time.Minute)
	t2 := stored(c.Now())
	_, err = s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{CloseAllocations: true, OpenAllocations: []atrium.Allocation{podAllocation(j, 3, "cc", "n", 1)}})
	wantNoErr(t, err)

	pods := func(as []*atrium.Allocation) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.Pod)
		}
		return out
	}
	far := t2.Add(1000 * time.Hour)
	for _, tc := range []struct {
		name string
		f    atrium.AllocationFilter
		want []string
	}{
		{"everything", atrium.AllocationFilter{}, []string{"a", "d", "b", "cc"}},
		{"all time", atrium.AllocationFilter{From: t0.Add(-time.Hour), To: far}, []string{"a", "d", "b", "cc"}},
		{"before any", atrium.AllocationFilter{From: t0.Add(-time.Hour), To: t0}, []string{}},
		{"first instant", atrium.AllocationFilter{From: t0.Add(-time.Hour), To: t0.Add(time.Microsecond)}, []string{"a"}},
		{"first hour", atrium.AllocationFilter{From: t0, To: t1}, []string{"a", "d"}},
		{"second hour", atrium.AllocationFilter{From: t1, To: t2}, []string{"d", "b"}},
		{"inside b", atrium.AllocationFilter{From: t1.Add(40 * time.Minute), To: t1.Add(50 * time.Minute)}, []string{"b"}},
		{"from t2", atrium.AllocationFilter{From: t2, To: far}, []string{"cc"}},
		{"open one, long after", atrium.AllocationFilter{From: far, To: far.Add(time.Hour)}, []string{"cc"}},
		{"no lower bound", atrium.AllocationFilter{To: t1}, []string{"a", "d"}},
		{"no upper bound", atrium.AllocationFilter{From: t1.Add(time.Minute)}, []string{"d", "b", "cc"}},
		{"workspace", atrium.AllocationFilter{WorkspaceID: w1.ID}, []string{"a", "b", "cc"}},
		{"other workspace", atrium.AllocationFilter{WorkspaceID: w2.ID, From: t0, To: far}, []string{"d"}},
		{"workspace and window", atrium.AllocationFilter{WorkspaceID: w1.ID, From: t0, To: t1}, []string{"a"}},
		{"unknown workspace", atrium.AllocationFilter{WorkspaceID: "ws-nosuch"}, []string{}},
		{"zone and nanoseconds", atrium.AllocationFilter{From: t2.In(time.FixedZone("x", 3600)).Add(-time.Nanosecond), To: far}, []string{"b", "cc"}},
	} {
		wantEqual(t, tc.name, pods(mustAllocations(t, s, tc.f)), tc.want)
	}
}

// testUsageWorkspaceDelete checks that deleting a workspace deletes its
// allocations and nothing else.
func testUsageWorkspaceDelete(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w, keep := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)
	for _, ws := range []*atrium.Workspace{w, keep} {
		j := mustJob(t, s, newJob(ws, alice.ID, time.Now()))
		j, err := s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{OpenAllocations: []atrium.Allocation{podAllocation(j, 1, "p-"+ws.Name, "n", 1)}})
		wantNoErr(t, err)
		_, err = s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{CloseAllocations: true, OpenAllocations: []atrium.Allocation{podAllocation(j, 2, "q-"+ws.Name, "n", 1)}})
		wantNoErr(t, err)
	}
	wantNoErr(t, s.DeleteWorkspace(ctx, w.ID))
	as := mustAllocations(t, s, atrium.AllocationFilter{})
	if len(as) != 2 || as[0].Pod != "p-speech" || as[1].Pod != "q-speech" {
		t.Fatalf("allocations after workspace delete = %s", dump(as))
	}
	if as := mustAllocations(t, s, atrium.AllocationFilter{WorkspaceID: w.ID}); len(as) != 0 {
		t.Fatalf("deleted workspace's allocations = %s", dump(as))
	}
}
