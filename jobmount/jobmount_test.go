package jobmount

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atrium"
	"atrium/sqlstore"
)

var ctx = context.Background()

type fixture struct {
	r          *Resolver
	db         *sqlstore.DB
	alice, bob *atrium.User
	ws         *atrium.Workspace
	run        *atrium.PipelineRun
	roots      string
}

// setup: a real SQLite store with alice's pipeline run, and a dataset root.
func setup(t *testing.T) fixture {
	t.Helper()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "atrium.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := fixture{db: db, alice: &atrium.User{Name: "alice"}, bob: &atrium.User{Name: "bob"}, roots: t.TempDir()}
	for _, u := range []*atrium.User{f.alice, f.bob} {
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	f.ws = &atrium.Workspace{Name: "ml", EnvTypes: []string{"prod"}, Creator: f.alice.ID}
	if err := db.CreateWorkspace(ctx, f.ws); err != nil {
		t.Fatal(err)
	}
	job := &atrium.JobSpec{JobType: "CustomJob", Command: "true", JobSpecs: []atrium.RoleSpec{{Type: "Worker", PodCount: 1, Image: "busybox"}}}
	spec := atrium.PipelineSpec{Nodes: []atrium.PipelineNodeSpec{{Name: "A", Job: job, Outputs: []atrium.PipelinePort{{Name: "data", Type: "file"}}}}}
	p := &atrium.Pipeline{WorkspaceID: f.ws.ID, Name: "p", Creator: f.alice.ID, Spec: spec}
	if err := db.CreatePipeline(ctx, p); err != nil {
		t.Fatal(err)
	}
	f.run = &atrium.PipelineRun{WorkspaceID: f.ws.ID, PipelineID: p.ID, PipelineVersion: p.Version, DisplayName: "p",
		Creator: f.alice.ID, CreatorName: "alice", Spec: spec, Status: atrium.RunInitialized, ReasonCode: atrium.ReasonRunCreated,
		Nodes: atrium.NewPipelineNodes(&spec), StatusHistory: []atrium.StatusChange{{Status: atrium.RunInitialized, ReasonCode: atrium.ReasonRunCreated}}}
	if err := db.CreatePipelineRun(ctx, f.run); err != nil {
		t.Fatal(err)
	}
	f.r = &Resolver{Store: db, RunDir: "/var/lib/atrium/pipeline-runs", DatasetRoots: []string{f.roots}}
	return f
}

func nodeJob(f fixture, creator *atrium.User, node string) *atrium.Job {
	return &atrium.Job{ID: "dlc-x", WorkspaceID: f.ws.ID, Creator: creator.ID,
		Spec: atrium.JobSpec{Envs: map[string]string{"ATRIUM_PIPELINE_RUN_ID": f.run.ID, "ATRIUM_PIPELINE_NODE": node}}}
}

func TestPipelineNodeMountsItsRun(t *testing.T) {
	f := setup(t)
	m, err := f.r.Mounts(ctx, nodeJob(f, f.alice, "A"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.r.RunDir, f.run.ID)
	if len(m) != 2 || m[0].Source != dir || !m[0].ReadOnly || m[1].Source != filepath.Join(dir, "A") || m[1].ReadOnly || !m[1].Owned {
		t.Fatalf("mounts: %+v", m)
	}
}

// A member who copies another member's run id into their own job's envs
// gets no mount of that run, and the start fails naming the env.
func TestForgedPipelineEnvsAreRefused(t *testing.T) {
	f := setup(t)
	for name, j := range map[string]*atrium.Job{
		"another creator": nodeJob(f, f.bob, "A"),
		"unknown node":    nodeJob(f, f.alice, "Z"),
		"another run":     {ID: "dlc-y", WorkspaceID: f.ws.ID, Creator: f.alice.ID, Spec: atrium.JobSpec{Envs: map[string]string{"ATRIUM_PIPELINE_RUN_ID": "run-nope", "ATRIUM_PIPELINE_NODE": "A"}}},
	} {
		if m, err := f.r.Mounts(ctx, j); err == nil || !strings.Contains(err.Error(), "envs.ATRIUM_PIPELINE_") {
			t.Errorf("%s: mounts %+v, err %v", name, m, err)
		}
	}
}

func TestDataSourcesOnlyUnderTheRoots(t *testing.T) {
	f := setup(t)
	inside := filepath.Join(f.roots, "imagenet")
	if err := os.Mkdir(inside, 0o755); err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(f.roots, "escape")
	if err := os.Symlink("/etc", escape); err != nil {
		t.Fatal(err)
	}
	job := func(uri string) *atrium.Job {
		return &atrium.Job{ID: "dlc-z", WorkspaceID: f.ws.ID, Creator: f.bob.ID,
			Spec: atrium.JobSpec{DataSources: []atrium.DataSource{{URI: uri, MountPath: "/mnt/data"}}}}
	}
	m, err := f.r.Mounts(ctx, job("file://"+inside))
	if err != nil || len(m) != 1 || m[0].Source != inside || m[0].Target != "/mnt/data" || !m[0].ReadOnly {
		t.Fatalf("inside the root: %+v %v", m, err)
	}
	for _, uri := range []string{"file:///etc", "file://" + f.roots + "/../../etc", "file://" + escape, "file://" + f.roots + "x"} {
		if m, err := f.r.Mounts(ctx, job(uri)); err == nil || !strings.Contains(err.Error(), "dataSources[0]") {
			t.Errorf("%s: mounts %+v, err %v", uri, m, err)
		}
	}
	if m, err := f.r.Mounts(ctx, job("oss://bucket/data")); err != nil || len(m) != 0 {
		t.Errorf("object store URIs are recorded, not mounted: %+v %v", m, err)
	}
}
