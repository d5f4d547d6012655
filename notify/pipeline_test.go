package notify

import (
	"testing"
	"time"

	"atrium"
)

// A rule scoped to the owner's resources and filtered on Failed gets the
// Failed events of the owner's pipeline run and of its failed node, not
// the other changes nor another user's run.
func TestPipelineRunAlert(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, "")
	f.rule(t, &atrium.AlertRule{Scope: atrium.ScopeMine, EventTypes: []string{atrium.EventPipelineRunChanged, atrium.EventPipelineNodeChanged},
		Filter: atrium.AlertFilter{Statuses: []string{atrium.RunFailed}}}, "", r.URL())
	f.engine(t, nil)
	spec := atrium.PipelineSpec{Nodes: []atrium.PipelineNodeSpec{{Name: "C"}}}
	var mine string
	for _, creator := range []string{"user-bob", f.alice.ID} {
		run := &atrium.PipelineRun{WorkspaceID: f.ws.ID, PipelineID: "pipeline-x", DisplayName: "diamond", Creator: creator,
			Spec: spec, Nodes: atrium.NewPipelineNodes(&spec)}
		if err := f.db.CreatePipelineRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		mine = run.ID
		running, failed := atrium.RunRunning, atrium.RunFailed
		nodes := []atrium.PipelineNode{{Name: "C", Status: atrium.NodeRunning}}
		got, err := f.db.UpdatePipelineRun(ctx, run.ID, run.Version, atrium.PipelineRunUpdate{Status: &running, Nodes: nodes})
		if err != nil {
			t.Fatal(err)
		}
		nodes[0].Status = atrium.NodeFailed
		if _, err := f.db.UpdatePipelineRun(ctx, run.ID, got.Version, atrium.PipelineRunUpdate{Status: &failed, Nodes: nodes}); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor(t, 10*time.Second, "the run's and the node's failure", func() bool { return len(r.seen) == 2 })
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.order {
		if g.Subject != mine || g.To != atrium.RunFailed || g.From != atrium.RunRunning {
			t.Fatalf("delivered %+v", r.order)
		}
	}
}
