package httpapi

import (
	"context"
	"strings"
	"testing"

	"atrium"
	"atrium/resource"
)

// jobFixture is a workspace with a developer, the public pool over a T4
// node, and a quota that is not offered to the workspace.
func jobFixture(t *testing.T) (*fixture, string, string) {
	t.Helper()
	f := setup(t)
	ctx := context.Background()
	lead, _ := f.user(t, "lead")
	dev, devTok := f.user(t, "dev")
	ws := &atrium.Workspace{Name: "jobs", EnvTypes: []string{"prod"}, Creator: lead.ID}
	if err := f.store.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AddMembers(ctx, ws.ID, []atrium.MemberParams{{UserID: dev.ID, Roles: []string{atrium.RoleAlgoDeveloper}}}); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.store.CreateResourceGroup(ctx, &atrium.ResourceGroup{ID: atrium.LocalResourceGroupID, Name: "local", Backend: atrium.BackendLocal}))
	must(f.store.PutNode(ctx, &atrium.Node{Name: "host", GroupID: atrium.LocalResourceGroupID, GPUType: "T4",
		Capacity: resource.Vector{MilliCPU: 8000, Memory: 16 << 30, GPU: 4}, State: atrium.NodeReady}))
	t4 := resource.List{"T4": {MilliCPU: 8000, Memory: 16 << 30, GPU: 4}}
	must(f.store.CreateQuota(ctx, &atrium.Quota{ID: atrium.PublicQuotaID, Name: "public", ResourceGroups: []string{atrium.LocalResourceGroupID},
		Max: t4, QueueStrategy: atrium.RoundRobin, OfferedToAll: true}))
	must(f.store.CreateQuota(ctx, &atrium.Quota{ID: "quota-private", Name: "private", ParentID: atrium.PublicQuotaID,
		Max: t4, QueueStrategy: atrium.RoundRobin}))
	return f, "/api/v1/workspaces/" + ws.ID, devTok
}

const validJob = `
jobType: PyTorchJob
command: python train.py
jobSpecs:
  - {type: Master, podCount: 1, image: pytorch:2.4, resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}}
  - {type: Worker, podCount: 3, image: pytorch:2.4, resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}}
`

// Acceptance 6: bad specs get 400 naming the field, and nothing is written.
func TestSubmitInvalidJobs(t *testing.T) {
	f, wsPath, dev := jobFixture(t)
	edit := func(old, new string) string { return strings.Replace(validJob, old, new, 1) }
	tests := []struct {
		name, spec, field, rule string
	}{
		{"unknown jobType", edit("PyTorchJob", "SparkJob"), "jobType", "must be one of"},
		{"Chief in a PyTorchJob", edit("type: Master", "type: Chief"), "jobSpecs[0].type", "not a role of a PyTorchJob"},
		{"priority above the role's cap", validJob + "priority: 7\n", "priority", "cap of 6 for your role AlgoDeveloper"},
		{"negative memory", edit("memory: 1Gi, gpu: 1, gpuType: T4}}\n  - {type: Worker", "memory: -1Gi, gpu: 1, gpuType: T4}}\n  - {type: Worker"), "jobSpecs[0].resources.memory", "not a memory quantity"},
		{"quota not bound", validJob + "quotaId: quota-private\n", "quotaId", "not bound to this workspace"},
		{"DSW job type", edit("PyTorchJob", "DSW"), "jobType", ""},
		{"YAML syntax", "jobType: [", "spec", "not valid YAML"},
		{"oversized", validJob + "description: " + strings.Repeat("x", atrium.MaxSpecBytes) + "\n", "body", "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, dry := range []string{"", "?dryRun=true"} {
				r := f.do(t, dev, "POST", wsPath+"/jobs"+dry, tt.spec)
				if r.status != 400 {
					t.Fatalf("%s: status %d: %.300s", dry, r.status, r.body)
				}
				p := r.problem(t)
				if p.Field != tt.field || !strings.Contains(p.Detail, tt.rule) {
					t.Fatalf("%s: problem %+v; want field %s and %q", dry, p, tt.field, tt.rule)
				}
			}
		})
	}
	if jobs, n, err := f.store.FindJobs(context.Background(), atrium.JobFilter{}); err != nil || n != 0 {
		t.Fatalf("invalid submissions wrote jobs: %d %v", len(jobs), err)
	}
}

// A valid submission defaults to the public pool, and a dry run answers
// where it would run without creating anything.
func TestSubmitAndDryRun(t *testing.T) {
	f, wsPath, dev := jobFixture(t)
	var dr DryRunResult
	r := f.do(t, dev, "POST", wsPath+"/jobs?dryRun=true", validJob)
	r.decode(t, &dr)
	if r.status != 200 || !dr.Admitted || len(dr.Pods) != 4 || dr.QuotaID != atrium.PublicQuotaID || dr.Priority != 1 {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	if _, n, _ := f.store.FindJobs(context.Background(), atrium.JobFilter{}); n != 0 {
		t.Fatal("a dry run created a job")
	}
	var j atrium.Job
	r = f.do(t, dev, "POST", wsPath+"/jobs", validJob)
	r.decode(t, &j)
	if r.status != 201 || j.Status != atrium.JobQueuing || len(j.StatusHistory) != 2 || j.Accessibility != atrium.AccessPrivate || !strings.HasPrefix(j.ID, atrium.PrefixDLCJob) {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	// Too big for the pool: the dry run says why, with the numbers.
	r = f.do(t, dev, "POST", wsPath+"/jobs?dryRun=true", strings.Replace(validJob, "podCount: 3", "podCount: 4", 1))
	dr = DryRunResult{}
	r.decode(t, &dr)
	if dr.Admitted || dr.ReasonCode != "ExceedsQuotaMax" || !strings.Contains(dr.ReasonMessage, "gpu=5") {
		t.Fatalf("oversized dry run: %s", r.body)
	}
	// The caller cannot make a PUBLIC job private again.
	if r := f.do(t, dev, "PUT", wsPath+"/jobs/"+j.ID, map[string]any{"accessibility": "PUBLIC"}); r.status != 200 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	if r := f.do(t, dev, "PUT", wsPath+"/jobs/"+j.ID, map[string]any{"accessibility": "PRIVATE"}); r.status != 400 || r.problem(t).Field != "accessibility" {
		t.Fatalf("unpublish: %d %s", r.status, r.body)
	}
	// A queued job stops at once.
	var stopped atrium.Job
	f.do(t, dev, "POST", wsPath+"/jobs/"+j.ID+"/stop", nil).decode(t, &stopped)
	if stopped.Status != atrium.JobStopped || stopped.ReasonCode != atrium.ReasonStoppedByUser {
		t.Fatalf("stop: %+v", stopped)
	}
	if r := f.do(t, dev, "POST", wsPath+"/jobs/"+j.ID+"/stop", nil); r.status != 409 {
		t.Fatalf("second stop: %d", r.status)
	}
}
