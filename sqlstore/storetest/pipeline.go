package storetest

import (
	"sync"
	"testing"
	"time"

	"atrium"
)

func samplePipelineSpec() atrium.PipelineSpec {
	job := &atrium.JobSpec{JobType: "CustomJob", Command: "true", JobSpecs: []atrium.RoleSpec{{Type: "Worker", PodCount: 1, Image: "busybox"}}}
	return atrium.PipelineSpec{
		Parameters: []atrium.PipelineParam{{Name: "rows", Type: "int", Default: float64(3)}},
		Nodes: []atrium.PipelineNodeSpec{
			{Name: "A", Job: job, Params: map[string]any{"rows": "${rows}"}, Outputs: []atrium.PipelinePort{{Name: "data", Type: "file"}}},
			{Name: "B", Job: job, Inputs: []atrium.PipelinePort{{Name: "data", Type: "file", From: "A.data"}}, Optional: true},
		},
	}
}

// testPipelines: create (version 1), name conflict per workspace, find by
// id and version, list, a save is a new version, delete keeps runs.
func testPipelines(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	ws := mustWorkspace(t, s, "pipes", alice)
	other := mustWorkspace(t, s, "others", alice)
	p := &atrium.Pipeline{WorkspaceID: ws.ID, Name: "diamond", Description: "d", Creator: alice.ID, CreatorName: alice.Name, Spec: samplePipelineSpec()}
	wantNoErr(t, s.CreatePipeline(ctx, p))
	if !atrium.HasPrefix(p.ID, atrium.PrefixPipeline) || p.Version != 1 || p.Accessibility != atrium.AccessPrivate {
		t.Fatalf("created %+v", p)
	}
	dup := &atrium.Pipeline{WorkspaceID: ws.ID, Name: "diamond", Spec: samplePipelineSpec()}
	if e := wantCode(t, s.CreatePipeline(ctx, dup), atrium.ECONFLICT); e.Field != "name" {
		t.Fatalf("conflict names %q", e.Field)
	}
	wantNoErr(t, s.CreatePipeline(ctx, &atrium.Pipeline{WorkspaceID: other.ID, Name: "diamond", Spec: samplePipelineSpec()}))
	wantCode(t, s.CreatePipeline(ctx, &atrium.Pipeline{WorkspaceID: "ws-missing", Name: "x", Spec: samplePipelineSpec()}), atrium.ENOTFOUND)

	got, err := s.FindPipelineByID(ctx, p.ID, 0)
	wantNoErr(t, err)
	wantEqual(t, "spec", got.Spec, p.Spec)
	wantEqual(t, "pipeline", got.Name+"/"+got.Description+"/"+got.CreatorName, "diamond/d/alice")

	spec2 := samplePipelineSpec()
	spec2.Nodes = spec2.Nodes[:1]
	p2, err := s.UpdatePipeline(ctx, p.ID, "two", spec2)
	wantNoErr(t, err)
	if p2.Version != 2 || len(p2.Spec.Nodes) != 1 || p2.Description != "two" {
		t.Fatalf("updated %+v", p2)
	}
	v1, err := s.FindPipelineByID(ctx, p.ID, 1)
	wantNoErr(t, err)
	latest, err := s.FindPipelineByID(ctx, p.ID, 0)
	wantNoErr(t, err)
	if v1.Version != 1 || len(v1.Spec.Nodes) != 2 || latest.Version != 2 || len(latest.Spec.Nodes) != 1 {
		t.Fatalf("v1 %+v latest %+v", v1, latest)
	}
	wantCode(t, func() error { _, err := s.FindPipelineByID(ctx, p.ID, 3); return err }(), atrium.ENOTFOUND)
	versions, err := s.FindPipelineVersions(ctx, p.ID)
	wantNoErr(t, err)
	if len(versions) != 2 || versions[0].Version != 2 || versions[1].Version != 1 || len(versions[1].Spec.Nodes) != 2 {
		t.Fatalf("versions %s", dump(versions))
	}

	list, total, err := s.FindPipelines(ctx, atrium.PipelineFilter{WorkspaceID: ws.ID})
	wantNoErr(t, err)
	if total != 1 || len(list) != 1 || list[0].Version != 2 {
		t.Fatalf("list %d %s", total, dump(list))
	}
	byName, _, err := s.FindPipelines(ctx, atrium.PipelineFilter{WorkspaceID: ws.ID, Name: "nope"})
	wantNoErr(t, err)
	wantEqual(t, "by name", len(byName), 0)

	r := newRun(ws, p2, alice)
	wantNoErr(t, s.CreatePipelineRun(ctx, r))
	wantNoErr(t, s.DeletePipeline(ctx, p.ID))
	wantCode(t, func() error { _, err := s.FindPipelineByID(ctx, p.ID, 0); return err }(), atrium.ENOTFOUND)
	wantCode(t, s.DeletePipeline(ctx, p.ID), atrium.ENOTFOUND)
	wantCode(t, func() error { _, err := s.FindPipelineVersions(ctx, p.ID); return err }(), atrium.ENOTFOUND)
	if _, err := s.FindPipelineRunByID(ctx, r.ID); err != nil {
		t.Fatalf("run lost with its pipeline: %v", err)
	}
}

func newRun(ws *atrium.Workspace, p *atrium.Pipeline, creator *atrium.User) *atrium.PipelineRun {
	return &atrium.PipelineRun{WorkspaceID: ws.ID, PipelineID: p.ID, PipelineVersion: p.Version, DisplayName: p.Name,
		Creator: creator.ID, CreatorName: creator.Name, Arguments: map[string]any{"rows": float64(5)}, Spec: p.Spec,
		Components: map[string]*atrium.PipelineComponent{"A": {Image: "img", CommandTemplate: "echo {{.rows}}"}},
		Status:     atrium.RunInitialized, ReasonCode: atrium.ReasonRunCreated, Nodes: atrium.NewPipelineNodes(&p.Spec),
		StatusHistory: []atrium.StatusChange{{Status: atrium.RunInitialized, ReasonCode: atrium.ReasonRunCreated}}}
}

// testPipelineRuns: a run round-trips (snapshots, arguments, nodes); an
// update creates its jobs with it, writes run and node events in the same
// transaction, and a stale version conflicts and writes nothing; lists
// filter; only finished runs are deleted.
func testPipelineRuns(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	ws := mustWorkspace(t, s, "pipes", alice)
	p := &atrium.Pipeline{WorkspaceID: ws.ID, Name: "diamond", Creator: alice.ID, Spec: samplePipelineSpec()}
	wantNoErr(t, s.CreatePipeline(ctx, p))
	r := newRun(ws, p, alice)
	wantNoErr(t, s.CreatePipelineRun(ctx, r))
	got, err := s.FindPipelineRunByID(ctx, r.ID)
	wantNoErr(t, err)
	if !atrium.HasPrefix(r.ID, atrium.PrefixPipelineRun) || got.Version != 1 || got.Attempt != 1 || got.Components["A"].CommandTemplate != "echo {{.rows}}" ||
		got.Arguments["rows"] != float64(5) || len(got.Nodes) != 2 || got.Nodes[1].Optional != true || got.Nodes[0].Status != atrium.NodePending {
		t.Fatalf("run %s", dump(got))
	}
	wantEqual(t, "spec", got.Spec, p.Spec)
	wantEqual(t, "created events", len(subjectEvents(t, s, r.ID)), 1)

	// Submitting node A: its job and the run's record of it commit together.
	j := newJob(ws, alice.ID, time.Now())
	j.ID = atrium.NewID(atrium.PrefixDLCJob)
	nodes := got.Nodes
	nodes[0].Status, nodes[0].JobID = atrium.NodeQueuing, j.ID
	st, code, msg := atrium.RunRunning, atrium.ReasonRunStarted, "running"
	now := time.Now()
	r2, err := s.UpdatePipelineRun(ctx, r.ID, got.Version, atrium.PipelineRunUpdate{Status: &st, ReasonCode: &code, ReasonMessage: &msg,
		Nodes: nodes, StartedAt: ptr(&now), Jobs: []*atrium.Job{j}})
	wantNoErr(t, err)
	if r2.Version != 2 || r2.Status != atrium.RunRunning || r2.StartedAt == nil || len(r2.StatusHistory) != 2 {
		t.Fatalf("updated %s", dump(r2))
	}
	if _, err := s.FindJobByID(ctx, j.ID); err != nil {
		t.Fatalf("node job not created: %v", err)
	}
	evs := subjectEvents(t, s, r.ID)
	if len(evs) != 3 || evs[1].Type != atrium.EventPipelineRunChanged || evs[2].Type != atrium.EventPipelineNodeChanged {
		t.Fatalf("events %s", dump(evs))
	}
	if d := eventData(t, evs[2]); d["node"] != "A" || d["from"] != atrium.NodePending || d["to"] != atrium.NodeQueuing || d["jobId"] != j.ID || d["creator"] != alice.ID {
		t.Fatalf("node event %v", d)
	}
	if d := eventData(t, evs[1]); d["from"] != atrium.RunInitialized || d["to"] != atrium.RunRunning || d["runId"] != r.ID {
		t.Fatalf("run event %v", d)
	}

	// A stale version (a second controller) conflicts: no job, no event.
	j2 := newJob(ws, alice.ID, time.Now())
	j2.ID = atrium.NewID(atrium.PrefixDLCJob)
	nodes[1].Status, nodes[1].JobID = atrium.NodeQueuing, j2.ID
	_, err = s.UpdatePipelineRun(ctx, r.ID, got.Version, atrium.PipelineRunUpdate{Nodes: nodes, Jobs: []*atrium.Job{j2}})
	wantCode(t, err, atrium.ECONFLICT)
	wantCode(t, func() error { _, err := s.FindJobByID(ctx, j2.ID); return err }(), atrium.ENOTFOUND)
	wantEqual(t, "events after conflict", len(subjectEvents(t, s, r.ID)), 3)
	// A job that cannot be created rolls the whole update back.
	_, err = s.UpdatePipelineRun(ctx, r.ID, r2.Version, atrium.PipelineRunUpdate{Nodes: nodes, Jobs: []*atrium.Job{j}})
	wantCode(t, err, atrium.ECONFLICT)
	if again, _ := s.FindPipelineRunByID(ctx, r.ID); again.Version != r2.Version || again.Nodes[1].JobID != "" {
		t.Fatalf("failed update was written: %s", dump(again))
	}

	wantCode(t, s.DeletePipelineRun(ctx, r.ID), atrium.ECONFLICT)
	live, n, err := s.FindPipelineRuns(ctx, atrium.PipelineRunFilter{Live: true})
	wantNoErr(t, err)
	if n != 1 || live[0].ID != r.ID {
		t.Fatalf("live runs %d", n)
	}
	done := atrium.RunSucceeded
	_, err = s.UpdatePipelineRun(ctx, r.ID, r2.Version, atrium.PipelineRunUpdate{Status: &done})
	wantNoErr(t, err)
	for _, f := range []atrium.PipelineRunFilter{{Live: true}, {WorkspaceID: ws.ID, Statuses: []string{atrium.RunFailed}},
		{WorkspaceID: ws.ID, VisibleTo: "someone-else"}, {PipelineID: "pipeline-other"}} {
		if _, n, err := s.FindPipelineRuns(ctx, f); err != nil || n != 0 {
			t.Fatalf("filter %+v: %d (%v)", f, n, err)
		}
	}
	if _, n, _ := s.FindPipelineRuns(ctx, atrium.PipelineRunFilter{WorkspaceID: ws.ID, PipelineID: p.ID, VisibleTo: alice.ID}); n != 1 {
		t.Fatalf("own runs: %d", n)
	}
	wantNoErr(t, s.DeletePipelineRun(ctx, r.ID))
	wantCode(t, func() error { _, err := s.FindPipelineRunByID(ctx, r.ID); return err }(), atrium.ENOTFOUND)
}

// testPipelineRunConcurrent: of many controllers submitting the same node
// at the same version, exactly one succeeds, so its job exists once.
func testPipelineRunConcurrent(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	ws := mustWorkspace(t, s, "pipes", alice)
	p := &atrium.Pipeline{WorkspaceID: ws.ID, Name: "diamond", Creator: alice.ID, Spec: samplePipelineSpec()}
	wantNoErr(t, s.CreatePipeline(ctx, p))
	r := newRun(ws, p, alice)
	wantNoErr(t, s.CreatePipelineRun(ctx, r))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := newJob(ws, alice.ID, time.Now())
			j.ID = atrium.NewID(atrium.PrefixDLCJob)
			nodes := atrium.NewPipelineNodes(&p.Spec)
			nodes[0].Status, nodes[0].JobID = atrium.NodeQueuing, j.ID
			_, err := s.UpdatePipelineRun(ctx, r.ID, 1, atrium.PipelineRunUpdate{Nodes: nodes, Jobs: []*atrium.Job{j}})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if atrium.ErrorCode(err) != atrium.ECONFLICT {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	_, jobs, err := s.FindJobs(ctx, atrium.JobFilter{WorkspaceID: ws.ID})
	wantNoErr(t, err)
	if wins != 1 || jobs != 1 {
		t.Fatalf("%d updates won, %d jobs", wins, jobs)
	}
}
