package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"atrium"
	"atrium/resource"
)

// sampleSpec is a normalized two-role PyTorch job spec using most fields.
func sampleSpec() atrium.JobSpec {
	return atrium.JobSpec{
		DisplayName: "mnist",
		Description: "digits",
		JobType:     "PyTorchJob",
		Command:     "python train.py --epochs 3",
		Envs:        map[string]string{"LR": "0.1", "EMPTY": ""},
		JobSpecs: []atrium.RoleSpec{
			{Type: "Master", PodCount: 1, Image: "pytorch:2.4-cuda12",
				Resources: resource.Spec{CPU: "4", Memory: "16Gi", GPU: 1, GPUType: "A100"}},
			{Type: "Worker", PodCount: 2, Image: "pytorch:2.4-cuda12", Command: "python worker.py",
				Resources: resource.Spec{CPU: "0.5", Memory: "512Mi"}},
		},
		DataSources:    []atrium.DataSource{{DatasetID: "d-1", Version: "v3", MountPath: "/mnt/data"}},
		CodeSource:     &atrium.CodeSourceRef{CodeSourceID: "cs-1", Branch: "main", Commit: "abc123", MountPath: "/root/code"},
		QuotaID:        "q-a",
		Priority:       3,
		MaxRunningTime: atrium.Duration(90 * time.Minute),
		Accessibility:  atrium.AccessPrivate,
		RestartPolicy:  "OnFailure",
		MaxRestarts:    2,
	}
}

// newJob returns a Queuing DLC job of ws with the history the API writes.
func newJob(ws *atrium.Workspace, creator string, at time.Time) *atrium.Job {
	return &atrium.Job{
		WorkspaceID: ws.ID, Kind: atrium.KindDLC, DisplayName: "mnist", Description: "digits",
		JobType: "PyTorchJob", Creator: creator, CreatorName: "Name of " + creator, QuotaID: "q-a",
		Priority: 3, Accessibility: atrium.AccessPrivate, MaxRunningTime: atrium.Duration(90 * time.Minute),
		Spec:   sampleSpec(),
		Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted, ReasonMessage: "job submitted",
		StatusHistory: []atrium.StatusChange{
			{Status: atrium.JobCreating, ReasonCode: atrium.ReasonSubmitted, Time: at},
			{Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted, ReasonMessage: "job submitted", Time: at},
		},
	}
}

func mustJob(t *testing.T, s atrium.Store, j *atrium.Job) *atrium.Job {
	t.Helper()
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatalf("CreateJob(%s): %v", j.DisplayName, err)
	}
	return j
}

func mustFindJob(t *testing.T, s atrium.Store, id string) *atrium.Job {
	t.Helper()
	j, err := s.FindJobByID(ctx, id)
	if err != nil {
		t.Fatalf("FindJobByID(%s): %v", id, err)
	}
	return j
}

func mustJobEvents(t *testing.T, s atrium.Store, id string) []*atrium.JobEvent {
	t.Helper()
	es, err := s.FindJobEvents(ctx, id)
	if err != nil {
		t.Fatalf("FindJobEvents(%s): %v", id, err)
	}
	return es
}

func jobIDs(js []*atrium.Job) []string {
	out := []string{}
	for _, j := range js {
		out = append(out, j.ID)
	}
	return out
}

func testJobs(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)

	// Times given with nanoseconds and a zone come back as UTC microseconds.
	at := clockStart.Add(-time.Hour)
	j := newJob(w, alice.ID, clockStart)
	j.Pods = []atrium.Pod{
		{Name: "master-0", Role: "Master", Rank: 0, Status: atrium.PodSucceeded, Node: "gpu-1", GPUs: []int{0, 3},
			ExitCode: ptr(0), StartedAt: ptr(at), FinishedAt: ptr(at.Add(time.Minute))},
		{Name: "worker-0", Role: "Worker", Rank: 1, Status: atrium.PodFailed, Node: "cpu-1", GPUs: []int{},
			ExitCode: ptr(137), StartedAt: ptr(at)},
		{Name: "worker-1", Role: "Worker", Rank: 2, Status: atrium.PodPending}, // nil GPUs, no exit code, no times
	}
	j.Attempt, j.ResourceGroupID, j.Backend, j.ExecutorHandle = 2, "rg-1", atrium.BackendLocal, `{"pids":[1,2]}`
	j.QueuePosition = 4
	j.StartedAt = ptr(at)
	mustJob(t, s, j)

	if !atrium.HasPrefix(j.ID, atrium.PrefixDLCJob) || j.Version != 1 ||
		!j.SubmittedAt.Equal(stored(clockStart)) || !j.UpdatedAt.Equal(j.SubmittedAt) {
		t.Fatalf("created job = %+v, want id, version 1 and timestamps set", j)
	}
	if h := j.StatusHistory[1].Time; !h.Equal(stored(clockStart)) || h.Location() != time.UTC || h != stored(h) {
		t.Fatalf("history time = %v, want %v in UTC", h, stored(clockStart))
	}
	if p := j.Pods[0].StartedAt; !p.Equal(stored(at)) || p.Location() != time.UTC || *p != stored(*p) {
		t.Fatalf("pod StartedAt = %v, want %v in UTC", p, stored(at))
	}
	if j.Pods[2].GPUs == nil || j.Pods[2].ExitCode != nil || j.Pods[2].StartedAt != nil {
		t.Fatalf("bare pod = %+v, want empty GPUs, nil exit code and times", j.Pods[2])
	}
	got := mustFindJob(t, s, j.ID)
	wantEqual(t, "FindJobByID", got, j)
	if *got.Pods[0].ExitCode != 0 || *got.Pods[1].ExitCode != 137 || got.ExecutorHandle != `{"pids":[1,2]}` {
		t.Fatalf("pods/handle read back = %s, %q", dump(got.Pods), got.ExecutorHandle)
	}

	// The first event records the initial status.
	wantEqual(t, "first event", mustJobEvents(t, s, j.ID), []*atrium.JobEvent{
		{JobID: j.ID, Time: stored(clockStart), Type: "Normal", Reason: atrium.ReasonSubmitted, Message: "job submitted"},
	})

	// A DSW instance with nothing optional: its lists come back empty, not nil.
	c.Add(time.Minute)
	dsw := &atrium.Job{WorkspaceID: w.ID, Kind: atrium.KindDSW, DisplayName: "notebook", Creator: alice.ID,
		Accessibility: atrium.AccessPublic, Status: atrium.JobCreating}
	mustJob(t, s, dsw)
	if !atrium.HasPrefix(dsw.ID, atrium.PrefixDSW) || dsw.Pods == nil || dsw.StatusHistory == nil ||
		!dsw.SubmittedAt.Equal(stored(c.Now())) {
		t.Fatalf("DSW job = %+v", dsw)
	}
	wantEqual(t, "DSW read back", mustFindJob(t, s, dsw.ID), dsw)

	// A given id and given timestamps are kept.
	fixed := newJob(w, alice.ID, at)
	fixed.ID, fixed.SubmittedAt, fixed.UpdatedAt = "dlc-fixed", at, at.Add(time.Second)
	mustJob(t, s, fixed)
	if fixed.ID != "dlc-fixed" || !fixed.SubmittedAt.Equal(stored(at)) || !fixed.UpdatedAt.Equal(stored(at.Add(time.Second))) {
		t.Fatalf("fixed job = %+v", fixed)
	}
	wantEqual(t, "fixed read back", mustFindJob(t, s, "dlc-fixed"), fixed)

	// Errors.
	dup := newJob(w, alice.ID, at)
	dup.ID = "dlc-fixed"
	wantCode(t, s.CreateJob(ctx, dup), atrium.ECONFLICT)
	wantCode(t, s.CreateJob(ctx, newJob(&atrium.Workspace{ID: "ws-nosuch"}, alice.ID, at)), atrium.ENOTFOUND)
	bad := newJob(w, alice.ID, at)
	bad.Kind = "Notebook"
	wantField(t, s.CreateJob(ctx, bad), "kind")
	_, err := s.FindJobByID(ctx, "dlc-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindJobEvents(ctx, "dlc-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)
	_, n, err := s.FindJobs(ctx, atrium.JobFilter{WorkspaceID: w.ID})
	wantNoErr(t, err)
	if n != 3 {
		t.Fatalf("jobs after failed creates = %d, want 3", n)
	}
}

func testFindJobs(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w1, w2 := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)

	mk := func(ws *atrium.Workspace, creator, kind, jobType, quota, access, status string) *atrium.Job {
		t.Helper()
		j := newJob(ws, creator, c.Now())
		j.Kind, j.JobType, j.QuotaID, j.Accessibility, j.Status = kind, jobType, quota, access, status
		return mustJob(t, s, j)
	}
	j1 := mk(w1, "u-alice", atrium.KindDLC, "PyTorchJob", "q-a", atrium.AccessPrivate, atrium.JobQueuing)
	c.Add(time.Minute)
	j2 := mk(w1, "u-bob", atrium.KindDLC, "TFJob", "q-b", atrium.AccessPublic, atrium.JobRunning)
	c.Add(time.Minute)
	j3 := mk(w1, "u-bob", atrium.KindDSW, "", "q-b", atrium.AccessPrivate, atrium.JobSucceeded)
	c.Add(time.Minute)
	// Two at the same time: the larger id counts as newer.
	j4 := mk(w1, "u-carol", atrium.KindDLC, "PyTorchJob", "q-a", atrium.AccessPrivate, atrium.JobFailed)
	j6 := mk(w1, "u-alice", atrium.KindDLC, "MPIJob", "q-c", atrium.AccessPrivate, atrium.JobStopping)
	c.Add(time.Minute)
	j5 := mk(w2, "u-alice", atrium.KindDLC, "PyTorchJob", "q-a", atrium.AccessPrivate, atrium.JobStopped)
	tie := []*atrium.Job{j4, j6}
	if j6.ID > j4.ID {
		tie = []*atrium.Job{j6, j4}
	}
	ids := func(js ...*atrium.Job) []string { return jobIDs(js) }
	w1All := append(slices.Clone(tie), j3, j2, j1)

	for _, tc := range []struct {
		name  string
		f     atrium.JobFilter
		want  []string
		total int
	}{
		{"all", atrium.JobFilter{}, ids(append([]*atrium.Job{j5}, w1All...)...), 6},
		{"workspace", atrium.JobFilter{WorkspaceID: w1.ID}, ids(w1All...), 5},
		{"other workspace", atrium.JobFilter{WorkspaceID: w2.ID}, ids(j5), 1},
		{"unknown workspace", atrium.JobFilter{WorkspaceID: "ws-nosuch"}, ids(), 0},
		{"kind", atrium.JobFilter{Kind: atrium.KindDSW}, ids(j3), 1},
		{"ids", atrium.JobFilter{IDs: []string{j1.ID, j5.ID, "dlc-nosuch"}}, ids(j5, j1), 2},
		{"no ids", atrium.JobFilter{IDs: []string{}}, ids(), 0},
		{"statuses", atrium.JobFilter{Statuses: []string{atrium.JobRunning, atrium.JobFailed}}, ids(j4, j2), 2},
		{"creator", atrium.JobFilter{WorkspaceID: w1.ID, Creator: "u-alice"}, ids(j6, j1), 2},
		{"job type", atrium.JobFilter{JobType: "TFJob"}, ids(j2), 1},
		{"quota", atrium.JobFilter{QuotaID: "q-a"}, ids(j5, j4, j1), 3},
		{"visible to alice", atrium.JobFilter{WorkspaceID: w1.ID, VisibleTo: "u-alice"}, ids(j6, j2, j1), 3},
		{"visible to bob", atrium.JobFilter{WorkspaceID: w1.ID, VisibleTo: "u-bob"}, ids(j3, j2), 2},
		{"visible to a stranger", atrium.JobFilter{VisibleTo: "u-nobody"}, ids(j2), 1},
		{"live", atrium.JobFilter{WorkspaceID: w1.ID, Live: true}, ids(j6, j2, j1), 3},
		{"live everywhere", atrium.JobFilter{Live: true}, ids(j6, j2, j1), 3},
		{"live and visible", atrium.JobFilter{Live: true, VisibleTo: "u-carol"}, ids(j2), 1},
		{"live quota", atrium.JobFilter{Live: true, QuotaID: "q-a"}, ids(j1), 1},
		{"creator and status", atrium.JobFilter{Creator: "u-alice", Statuses: []string{atrium.JobStopped}}, ids(j5), 1},
		{"page 1", atrium.JobFilter{WorkspaceID: w1.ID, Limit: 2}, ids(w1All[:2]...), 5},
		{"page 2", atrium.JobFilter{WorkspaceID: w1.ID, Limit: 2, Offset: 2}, ids(w1All[2:4]...), 5},
		{"page 3", atrium.JobFilter{WorkspaceID: w1.ID, Limit: 2, Offset: 4}, ids(w1All[4:]...), 5},
		{"offset only", atrium.JobFilter{WorkspaceID: w1.ID, Offset: 3}, ids(w1All[3:]...), 5},
		{"past the end", atrium.JobFilter{WorkspaceID: w1.ID, Offset: 9, Limit: 2}, ids(), 5},
	} {
		js, n, err := s.FindJobs(ctx, tc.f)
		wantNoErr(t, err)
		wantEqual(t, tc.name+": ids", jobIDs(js), tc.want)
		if n != tc.total {
			t.Fatalf("%s: total = %d, want %d", tc.name, n, tc.total)
		}
	}
	// Listed jobs are whole.
	js, _, err := s.FindJobs(ctx, atrium.JobFilter{WorkspaceID: w1.ID})
	wantNoErr(t, err)
	wantEqual(t, "listed jobs", js, w1All)
}

func testUpdateJob(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	j := mustJob(t, s, newJob(w, alice.ID, clockStart))
	want := *mustFindJob(t, s, j.ID)
	events := mustJobEvents(t, s, j.ID)

	// step applies upd at the job's current version and checks the result
	// against want and, read back, the store.
	step := func(name string, upd atrium.JobUpdate) {
		t.Helper()
		c.Add(time.Minute)
		got, err := s.UpdateJob(ctx, j.ID, want.Version, upd)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want.Version++
		want.UpdatedAt = stored(c.Now())
		wantEqual(t, name, got, &want)
		wantEqual(t, name+" read back", mustFindJob(t, s, j.ID), &want)
		wantEqual(t, name+" events", mustJobEvents(t, s, j.ID), events)
	}

	// Admission: a status change appends to the history, with the new reason.
	now := func() time.Time { return stored(c.Now().Add(time.Minute)) } // the time of the coming step
	pods := []atrium.Pod{
		{Name: "master-0", Role: "Master", Rank: 0, Status: atrium.PodPending, Node: "gpu-1", GPUs: []int{0}},
		{Name: "worker-0", Role: "Worker", Rank: 1, Status: atrium.PodPending, Node: "cpu-1", GPUs: []int{}},
	}
	t1 := now()
	want.Status, want.ReasonCode, want.ReasonMessage = atrium.JobEnvPreparing, atrium.ReasonAdmitted, "admitted to quota q-a"
	want.StatusHistory = append(want.StatusHistory, atrium.StatusChange{
		Status: atrium.JobEnvPreparing, ReasonCode: atrium.ReasonAdmitted, ReasonMessage: "admitted to quota q-a", Time: t1})
	want.Pods, want.Attempt, want.ResourceGroupID, want.Backend, want.ExecutorHandle = pods, 1, "rg-1", atrium.BackendLocal, "pid:4242"
	want.QueuePosition = 0
	events = append(events, &atrium.JobEvent{JobID: j.ID, Time: t1, Type: "Normal", Reason: atrium.ReasonAdmitted, Message: "placed on gpu-1, cpu-1"})
	step("admit", atrium.JobUpdate{
		Status: ptr(atrium.JobEnvPreparing), ReasonCode: ptr(atrium.ReasonAdmitted), ReasonMessage: ptr("admitted to quota q-a"),
		QueuePosition: ptr(0), Pods: ptr(slices.Clone(pods)), Attempt: ptr(1), ResourceGroupID: ptr("rg-1"),
		Backend: ptr(atrium.BackendLocal), ExecutorHandle: ptr("pid:4242"),
		Events: []atrium.JobEvent{{Type: "Normal", Reason: atrium.ReasonAdmitted, Message: "placed on gpu-1, cpu-1"}},
	})

	// Running without a reason given: the history entry carries the current one.
	t2 := now()
	zoned := t2.In(time.FixedZone("UTC-7", -7*3600)).Add(999) // nanoseconds are dropped
	running := slices.Clone(pods)
	running[0].Status, running[0].StartedAt = atrium.PodRunning, &zoned
	running[1].Status, running[1].StartedAt = atrium.PodRunning, &zoned
	want.Status, want.StartedAt = atrium.JobRunning, &t2
	want.StatusHistory = append(want.StatusHistory, atrium.StatusChange{
		Status: atrium.JobRunning, ReasonCode: atrium.ReasonAdmitted, ReasonMessage: "admitted to quota q-a", Time: t2})
	want.Pods = slices.Clone(pods)
	want.Pods[0].Status, want.Pods[0].StartedAt = atrium.PodRunning, &t2
	want.Pods[1].Status, want.Pods[1].StartedAt = atrium.PodRunning, &t2
	step("running", atrium.JobUpdate{Status: ptr(atrium.JobRunning), Pods: &running, StartedAt: ptr(&zoned)})

	// The same status again changes the reason but not the history.
	want.ReasonCode, want.ReasonMessage = atrium.ReasonStarted, "all pods running"
	step("same status", atrium.JobUpdate{Status: ptr(atrium.JobRunning), ReasonCode: ptr(atrium.ReasonStarted), ReasonMessage: ptr("all pods running")})

	// Fields without a status change.
	want.Priority, want.Accessibility, want.Description = 7, atrium.AccessPublic, "shared"
	step("fields", atrium.JobUpdate{Priority: ptr(7), Accessibility: ptr(atrium.AccessPublic), Description: ptr("shared")})
	step("nothing", atrium.JobUpdate{})

	// Finishing: several events; one dated earlier sorts before the others,
	// events with the same time keep their order.
	t5 := now()
	done := slices.Clone(want.Pods)
	done[0].Status, done[0].ExitCode, done[0].FinishedAt = atrium.PodSucceeded, ptr(0), &t5
	done[1].Status, done[1].ExitCode, done[1].FinishedAt = atrium.PodFailed, ptr(1), &t5
	want.Status, want.ReasonCode, want.ReasonMessage, want.FinishedAt = atrium.JobFailed, atrium.ReasonPodFailed, "worker-0 exited with 1", &t5
	want.Pods, want.ExecutorHandle = done, ""
	want.StatusHistory = append(want.StatusHistory, atrium.StatusChange{
		Status: atrium.JobFailed, ReasonCode: atrium.ReasonPodFailed, ReasonMessage: "worker-0 exited with 1", Time: t5})
	early := t2.Add(time.Second)
	events = []*atrium.JobEvent{events[0], events[1],
		{JobID: j.ID, Time: early, Type: "Warning", Reason: "OOM", Message: "worker-0 near its memory limit"},
		{JobID: j.ID, Time: t5, Type: "Warning", Reason: atrium.ReasonPodFailed, Message: "worker-0 exited with 1"},
		{JobID: j.ID, Time: t5, Type: "Normal", Reason: "Cleanup", Message: "pods removed"},
	}
	step("fail", atrium.JobUpdate{
		Status: ptr(atrium.JobFailed), ReasonCode: ptr(atrium.ReasonPodFailed), ReasonMessage: ptr("worker-0 exited with 1"),
		Pods: &done, FinishedAt: ptr(&t5), ExecutorHandle: ptr(""),
		Events: []atrium.JobEvent{
			{Type: "Warning", Reason: atrium.ReasonPodFailed, Message: "worker-0 exited with 1"},
			{Type: "Normal", Reason: "Cleanup", Message: "pods removed"},
			{JobID: "ignored", Time: early, Type: "Warning", Reason: "OOM", Message: "worker-0 near its memory limit"},
		},
	})

	// A **time.Time holding nil clears the time.
	want.StartedAt = nil
	step("clear StartedAt", atrium.JobUpdate{StartedAt: ptr((*time.Time)(nil))})

	// Stale versions and unknown jobs change nothing.
	for _, v := range []int64{want.Version - 1, want.Version + 1, 0} {
		_, err := s.UpdateJob(ctx, j.ID, v, atrium.JobUpdate{Status: ptr(atrium.JobRunning), Events: []atrium.JobEvent{{Reason: "X"}}})
		e := wantCode(t, err, atrium.ECONFLICT)
		if e.Message == "" {
			t.Fatal("conflict without a message")
		}
	}
	_, err := s.UpdateJob(ctx, "dlc-nosuch", 1, atrium.JobUpdate{Priority: ptr(1)})
	wantCode(t, err, atrium.ENOTFOUND)
	wantEqual(t, "after failed updates", mustFindJob(t, s, j.ID), &want)
	wantEqual(t, "events after failed updates", mustJobEvents(t, s, j.ID), events)
}

// testUpdateJobConcurrent checks optimistic concurrency: of writers naming
// the same version exactly one wins, and read-modify-write loops that retry
// on ECONFLICT lose no update.
func testUpdateJobConcurrent(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	j := mustJob(t, s, newJob(w, alice.ID, time.Now()))

	// One after the other.
	_, err := s.UpdateJob(ctx, j.ID, 1, atrium.JobUpdate{Status: ptr(atrium.JobStopping)})
	wantNoErr(t, err)
	_, err = s.UpdateJob(ctx, j.ID, 1, atrium.JobUpdate{Status: ptr(atrium.JobEnvPreparing)})
	wantCode(t, err, atrium.ECONFLICT)

	// At once.
	for round := range 3 {
		before := mustFindJob(t, s, j.ID)
		nEvents := len(mustJobEvents(t, s, j.ID))
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.UpdateJob(ctx, j.ID, before.Version, atrium.JobUpdate{
					Status:        ptr(fmt.Sprintf("S-%d-%d", round, i)),
					QueuePosition: ptr(i),
					Events:        []atrium.JobEvent{{Type: "Normal", Reason: "Try", Message: fmt.Sprint(i)}},
				})
			}()
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch atrium.ErrorCode(err) {
			case "":
				if won >= 0 {
					t.Fatalf("round %d: writers %d and %d both won", round, won, i)
				}
				won = i
			case atrium.ECONFLICT:
			default:
				t.Fatalf("round %d: UpdateJob: %v", round, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: no writer won", round)
		}
		after := mustFindJob(t, s, j.ID)
		es := mustJobEvents(t, s, j.ID)
		if after.Version != before.Version+1 || after.QueuePosition != won ||
			after.Status != fmt.Sprintf("S-%d-%d", round, won) ||
			len(after.StatusHistory) != len(before.StatusHistory)+1 ||
			len(es) != nEvents+1 || es[len(es)-1].Message != fmt.Sprint(won) {
			t.Fatalf("round %d: winner %d, job after = %+v, events %s", round, won, after, dump(es))
		}
	}

	// Retrying writers lose nothing.
	start := mustFindJob(t, s, j.ID)
	const writers, each = 4, 5
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					cur, err := s.FindJobByID(ctx, j.ID)
					if err != nil {
						errs[i] = err
						return
					}
					_, err = s.UpdateJob(ctx, j.ID, cur.Version, atrium.JobUpdate{Attempt: ptr(cur.Attempt + 1)})
					if atrium.ErrorCode(err) == atrium.ECONFLICT {
						continue
					} else if err != nil {
						errs[i] = err
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		wantNoErr(t, err)
	}
	end := mustFindJob(t, s, j.ID)
	if end.Attempt != start.Attempt+writers*each || end.Version != start.Version+writers*each {
		t.Fatalf("after %d increments: attempt %d → %d, version %d → %d", writers*each,
			start.Attempt, end.Attempt, start.Version, end.Version)
	}
}

func testDeleteJob(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	j := mustJob(t, s, newJob(w, alice.ID, time.Now()))
	other := mustJob(t, s, newJob(w, alice.ID, time.Now()))

	for _, st := range []string{atrium.JobQueuing, atrium.JobRunning, atrium.JobStopping, atrium.JobRestarting} {
		cur := mustFindJob(t, s, j.ID)
		if cur.Status != st {
			_, err := s.UpdateJob(ctx, j.ID, cur.Version, atrium.JobUpdate{Status: ptr(st)})
			wantNoErr(t, err)
		}
		wantCode(t, s.DeleteJob(ctx, j.ID), atrium.ECONFLICT)
	}
	cur := mustFindJob(t, s, j.ID)
	_, err := s.UpdateJob(ctx, j.ID, cur.Version, atrium.JobUpdate{Status: ptr(atrium.JobStopped),
		Events: []atrium.JobEvent{{Type: "Normal", Reason: atrium.ReasonStoppedByUser}}})
	wantNoErr(t, err)
	wantNoErr(t, s.DeleteJob(ctx, j.ID))
	_, err = s.FindJobByID(ctx, j.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindJobEvents(ctx, j.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	wantCode(t, s.DeleteJob(ctx, j.ID), atrium.ENOTFOUND)
	_, err = s.UpdateJob(ctx, j.ID, cur.Version+1, atrium.JobUpdate{Priority: ptr(1)})
	wantCode(t, err, atrium.ENOTFOUND)

	// The other job and its events are untouched.
	wantEqual(t, "other job", mustFindJob(t, s, other.ID), other)
	if es := mustJobEvents(t, s, other.ID); len(es) != 1 {
		t.Fatalf("other job's events = %s", dump(es))
	}
	// Every finished status may be deleted.
	for _, st := range []string{atrium.JobSucceeded, atrium.JobFailed} {
		k := newJob(w, alice.ID, time.Now())
		k.Status = st
		mustJob(t, s, k)
		wantNoErr(t, s.DeleteJob(ctx, k.ID))
	}
}

// testJobWorkspaceDelete checks that deleting a workspace deletes its jobs
// and their events, and nothing else.
func testJobWorkspaceDelete(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w, keep := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)
	gone := mustJob(t, s, newJob(w, alice.ID, time.Now()))
	live := newJob(w, alice.ID, time.Now())
	live.Status = atrium.JobQueuing // queued jobs go with the workspace; running ones block (testLiveJobsBlockDeletes)
	mustJob(t, s, live)
	kept := mustJob(t, s, newJob(keep, alice.ID, time.Now()))
	_, err := s.UpdateJob(ctx, gone.ID, 1, atrium.JobUpdate{Events: []atrium.JobEvent{{Reason: "More"}}})
	wantNoErr(t, err)

	wantNoErr(t, s.DeleteWorkspace(ctx, w.ID))
	for _, id := range []string{gone.ID, live.ID} {
		_, err := s.FindJobByID(ctx, id)
		wantCode(t, err, atrium.ENOTFOUND)
		_, err = s.FindJobEvents(ctx, id)
		wantCode(t, err, atrium.ENOTFOUND)
	}
	js, n, err := s.FindJobs(ctx, atrium.JobFilter{})
	wantNoErr(t, err)
	if n != 1 || len(js) != 1 {
		t.Fatalf("jobs after workspace delete = %s", dump(js))
	}
	wantEqual(t, "kept job", js[0], kept)
	if es := mustJobEvents(t, s, kept.ID); len(es) != 1 {
		t.Fatalf("kept job's events = %s", dump(es))
	}
	// A job cannot be created in the deleted workspace.
	wantCode(t, s.CreateJob(ctx, newJob(w, alice.ID, time.Now())), atrium.ENOTFOUND)
}

func testJobAudit(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)

	var j *atrium.Job
	str := func(s *string) func() string { return func() string { return *s } }
	wsID, jID := &w.ID, new(string)
	steps := []auditStep{
		{"CreateJob", func(ctx context.Context) error {
			j = newJob(w, alice.ID, c.Now())
			err := s.CreateJob(ctx, j)
			*jID = j.ID
			return err
		}, str(wsID), str(jID)},
		{"UpdateJob", func(ctx context.Context) error {
			_, err := s.UpdateJob(ctx, j.ID, 1, atrium.JobUpdate{Status: ptr(atrium.JobStopped), ReasonCode: ptr(atrium.ReasonStoppedByUser),
				Events: []atrium.JobEvent{{Type: "Normal", Reason: atrium.ReasonStoppedByUser}}})
			return err
		}, str(wsID), str(jID)},
		{"DeleteJob", func(ctx context.Context) error {
			return s.DeleteJob(ctx, j.ID)
		}, str(wsID), str(jID)},
	}
	runAuditSteps(t, s, c, alice, steps)

	// Failed writes log nothing, leave Recorded false and change nothing.
	live := mustJob(t, s, newJob(w, alice.ID, c.Now()))
	failing := map[string]func(ctx context.Context) error{
		"CreateJob unknown workspace": func(ctx context.Context) error {
			return s.CreateJob(ctx, newJob(&atrium.Workspace{ID: "ws-nosuch"}, alice.ID, c.Now()))
		},
		"CreateJob dup": func(ctx context.Context) error {
			k := newJob(w, alice.ID, c.Now())
			k.ID = live.ID
			return s.CreateJob(ctx, k)
		},
		"UpdateJob stale": func(ctx context.Context) error {
			_, err := s.UpdateJob(ctx, live.ID, 7, atrium.JobUpdate{Status: ptr(atrium.JobRunning),
				Events: []atrium.JobEvent{{Reason: "X"}}})
			return err
		},
		"UpdateJob missing": func(ctx context.Context) error {
			_, err := s.UpdateJob(ctx, "dlc-nosuch", 1, atrium.JobUpdate{Priority: ptr(1)})
			return err
		},
		"DeleteJob live":    func(ctx context.Context) error { return s.DeleteJob(ctx, live.ID) },
		"DeleteJob missing": func(ctx context.Context) error { return s.DeleteJob(ctx, "dlc-nosuch") },
	}
	for name, call := range failing {
		a := &atrium.Audit{ActorID: alice.ID, Action: "Fail:" + name, RequestID: "req-fail", Status: 200}
		if err := call(atrium.WithAudit(ctx, a)); err == nil {
			t.Fatalf("%s: succeeded, want an error", name)
		}
		if a.Recorded {
			t.Fatalf("%s: audit.Recorded = true after a failed write", name)
		}
		ls, n, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{Action: a.Action})
		wantNoErr(t, err)
		if n != 0 {
			t.Fatalf("%s: failed write left log lines: %s", name, dump(ls))
		}
	}
	wantEqual(t, "live job after failed writes", mustFindJob(t, s, live.ID), live)
	if es := mustJobEvents(t, s, live.ID); len(es) != 1 {
		t.Fatalf("live job's events after failed writes = %s", dump(es))
	}
}

// testLiveJobsBlockDeletes: a workspace with running jobs cannot be deleted
// (their processes would be orphaned), nor a quota with unfinished jobs;
// finished jobs do not block.
func testLiveJobsBlockDeletes(t *testing.T, s atrium.Store) {
	ctx := context.Background()
	g := computeFixture(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	q := mustQuota(t, s, newQuota("team", "", nil, a100(8, 2), g.ID))
	j := &atrium.Job{WorkspaceID: w.ID, Kind: atrium.KindDLC, JobType: "CustomJob", Creator: alice.ID, QuotaID: q.ID, Priority: 1, Status: atrium.JobRunning}
	wantNoErr(t, s.CreateJob(ctx, j))
	wantCode(t, s.DeleteWorkspace(ctx, w.ID), atrium.ECONFLICT)
	wantCode(t, s.DeleteQuota(ctx, q.ID), atrium.ECONFLICT)
	st := atrium.JobStopped
	_, err := s.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{Status: &st})
	wantNoErr(t, err)
	wantNoErr(t, s.DeleteQuota(ctx, q.ID))
	wantNoErr(t, s.DeleteWorkspace(ctx, w.ID))
}
