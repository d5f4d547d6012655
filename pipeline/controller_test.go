package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"atrium"
	"atrium/pipeline"
	"atrium/resource"
	"atrium/sqlstore"
)

// setup is a store with a workspace whose developer created a run of a
// two-branch pipeline (A, B in parallel; C after both), and the public
// quota offered to it; no scheduler runs, so node jobs stay Queuing.
func setup(t *testing.T) (*sqlstore.DB, *atrium.PipelineRun) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "a.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u := &atrium.User{Name: "dev"}
	must(db.CreateUser(ctx, u))
	ws := &atrium.Workspace{Name: "pipes", EnvTypes: []string{"prod"}, Creator: u.ID}
	must(db.CreateWorkspace(ctx, ws))
	must(db.CreateResourceGroup(ctx, &atrium.ResourceGroup{ID: atrium.LocalResourceGroupID, Name: "local", Backend: atrium.BackendLocal}))
	must(db.PutNode(ctx, &atrium.Node{Name: "host", GroupID: atrium.LocalResourceGroupID,
		Capacity: resource.Vector{MilliCPU: 8000, Memory: 16 << 30}, State: atrium.NodeReady}))
	must(db.CreateQuota(ctx, &atrium.Quota{ID: atrium.PublicQuotaID, Name: "public", ResourceGroups: []string{atrium.LocalResourceGroupID},
		Max: resource.List{"": {MilliCPU: 8000, Memory: 16 << 30}}, QueueStrategy: atrium.RoundRobin, OfferedToAll: true}))
	job := &atrium.JobSpec{JobType: "CustomJob", Command: "true",
		JobSpecs: []atrium.RoleSpec{{Type: "Worker", PodCount: 1, Image: "busybox", Resources: resource.Spec{CPU: "1", Memory: "1Gi"}}}}
	spec := atrium.PipelineSpec{Nodes: []atrium.PipelineNodeSpec{
		{Name: "A", Job: job}, {Name: "B", Job: job}, {Name: "C", Job: job, DependsOn: []string{"A", "B"}}}}
	must(spec.Validate(nil))
	r := &atrium.PipelineRun{WorkspaceID: ws.ID, PipelineID: "pipeline-x", PipelineVersion: 1, DisplayName: "two",
		Creator: u.ID, CreatorName: u.Name, Spec: spec, Status: atrium.RunInitialized, Nodes: atrium.NewPipelineNodes(&spec)}
	must(db.CreatePipelineRun(ctx, r))
	return db, r
}

// Several controllers (replicas sharing a database, or one restarted
// mid-pass) advancing the same run submit each ready node exactly once:
// A and B at once, C not before both succeeded.
func TestControllersSubmitOnce(t *testing.T) {
	db, r := setup(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		c, err := pipeline.New(pipeline.Config{Store: db, RunDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if err := c.Pass(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	jobs, n, err := db.FindJobs(ctx, atrium.JobFilter{WorkspaceID: r.WorkspaceID})
	if err != nil || n != 2 {
		t.Fatalf("%d jobs (%v), want A's and B's", n, err)
	}
	got, err := db.FindPipelineRunByID(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != atrium.RunRunning || got.Node("C").Status != atrium.NodePending || got.Node("A").JobID == "" || got.Node("B").JobID == "" {
		t.Fatalf("run %s nodes %+v", got.Status, got.Nodes)
	}
	for _, j := range jobs {
		if j.Kind != atrium.KindDLC || j.QuotaID != atrium.PublicQuotaID || j.Priority != 1 || j.Creator != r.Creator {
			t.Fatalf("node job %+v", j)
		}
	}
}

// A failed node skips what depends on it and fails the run once nothing
// is live; the job's reason is on the node.
func TestFailedNodeFailsRun(t *testing.T) {
	db, r := setup(t)
	ctx := context.Background()
	c, err := pipeline.New(pipeline.Config{Store: db, RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := db.FindPipelineRunByID(ctx, r.ID)
	end := func(node, status string) {
		t.Helper()
		j, err := db.FindJobByID(ctx, got.Node(node).JobID)
		if err != nil {
			t.Fatal(err)
		}
		code, msg := atrium.ReasonPodFailed, "exit code 3"
		if status == atrium.JobSucceeded {
			code, msg = atrium.ReasonCompleted, "done"
		}
		if _, err := db.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{Status: &status, ReasonCode: &code, ReasonMessage: &msg}); err != nil {
			t.Fatal(err)
		}
	}
	end("A", atrium.JobFailed)
	if err := c.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = db.FindPipelineRunByID(ctx, r.ID)
	if got.Status != atrium.RunRunning || got.Node("C").Status != atrium.NodeSkipped || got.Node("A").Status != atrium.NodeFailed {
		t.Fatalf("while B runs: %s %+v", got.Status, got.Nodes)
	}
	end("B", atrium.JobSucceeded)
	if err := c.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = db.FindPipelineRunByID(ctx, r.ID)
	if got.Status != atrium.RunFailed || got.ReasonCode != atrium.ReasonNodeFailed || got.FinishedAt == nil {
		t.Fatalf("run %s (%s) nodes %+v", got.Status, got.ReasonMessage, got.Nodes)
	}
}

// The run's and each started node's directories are made through
// Config.MakeDir (the server's hands them to the pods' user), the run's
// first.
func TestMakeDirMakesRunAndNodeDirs(t *testing.T) {
	db, r := setup(t)
	runs := filepath.Join(t.TempDir(), "runs")
	var mu sync.Mutex
	var made []string
	c, err := pipeline.New(pipeline.Config{Store: db, RunDir: runs, MakeDir: func(path string) error {
		mu.Lock()
		defer mu.Unlock()
		made = append(made, strings.TrimPrefix(path, runs+"/"))
		if err := os.Mkdir(path, 0o700); err != nil && !os.IsExist(err) {
			return err
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{r.ID, r.ID + "/A", r.ID, r.ID + "/B"}
	if !slices.Equal(made, want) {
		t.Fatalf("MakeDir saw %v, want %v", made, want)
	}
	for _, n := range []string{"A", "B"} {
		if fi, err := os.Stat(filepath.Join(runs, r.ID, n)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("node %s directory: %v %v", n, fi, err)
		}
	}
}
