package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"atrium"
)

// subjectEvents lists the outbox events about subject, in outbox order.
func subjectEvents(t *testing.T, s atrium.Store, subject string) []*atrium.Event {
	t.Helper()
	es, err := s.FindEvents(ctx, atrium.EventFilter{})
	wantNoErr(t, err)
	out := []*atrium.Event{}
	for _, e := range es {
		if e.Subject == subject {
			out = append(out, e)
		}
	}
	return out
}

func eventData(t *testing.T, e *atrium.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Data, &m); err != nil {
		t.Fatalf("event %s data %s: %v", e.ID, e.Data, err)
	}
	return m
}

// testJobOutbox: every status change of a job writes its outbox event in
// the same transaction (the initial one included), with timeout and
// preemption events by reason; other updates, conflicting and failed ones
// write none; a job's event times never go back in seq order.
func testJobOutbox(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	actx := atrium.WithAudit(ctx, &atrium.Audit{ActorID: alice.ID, ActorName: "alice", Action: "DLC:CreateJob", RequestID: "req-outbox-1"})
	j := newJob(w, alice.ID, clockStart)
	if err := s.CreateJob(actx, j); err != nil {
		t.Fatal(err)
	}
	version := j.Version
	step := func(name string, cx any, upd atrium.JobUpdate) {
		t.Helper()
		c.Add(time.Minute)
		uctx := ctx
		if cx != nil {
			uctx = atrium.WithAudit(ctx, &atrium.Audit{ActorID: alice.ID, ActorName: "alice", Action: "DLC:StopJob", RequestID: "req-" + name})
		}
		got, err := s.UpdateJob(uctx, j.ID, version, upd)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		version = got.Version
	}
	status := func(st, reason string) atrium.JobUpdate {
		return atrium.JobUpdate{Status: ptr(st), ReasonCode: ptr(reason), ReasonMessage: ptr(reason + " message")}
	}
	step("admit", nil, status(atrium.JobRunning, atrium.ReasonStarted))
	step("priority only", nil, atrium.JobUpdate{Priority: ptr(5)})
	upd := status(atrium.JobQueuing, atrium.ReasonPreempted)
	upd.Attempt = ptr(2)
	step("preempt", nil, upd)
	step("same status", nil, atrium.JobUpdate{Status: ptr(atrium.JobQueuing), Description: ptr("still queued")})
	step("readmit", nil, status(atrium.JobRunning, atrium.ReasonStarted))

	// A conflicting update and an update of an unknown job write nothing.
	_, err := s.UpdateJob(ctx, j.ID, version-1, status(atrium.JobFailed, atrium.ReasonPodFailed))
	wantCode(t, err, atrium.ECONFLICT)
	_, err = s.UpdateJob(ctx, "dlc-unknown", 1, status(atrium.JobFailed, atrium.ReasonPodFailed))
	wantCode(t, err, atrium.ENOTFOUND)

	// The clock steps back: the event keeps the job's last time.
	c.Add(-time.Hour)
	step("timeout", true, status(atrium.JobFailed, atrium.ReasonMaxRunningTimeExceeded))

	es := subjectEvents(t, s, j.ID)
	type row struct{ typ, from, to, reason, actor string }
	want := []row{
		{atrium.EventJobStatusChanged, "", atrium.JobQueuing, atrium.ReasonSubmitted, "alice"},
		{atrium.EventJobStatusChanged, atrium.JobQueuing, atrium.JobRunning, atrium.ReasonStarted, "system"},
		{atrium.EventJobStatusChanged, atrium.JobRunning, atrium.JobQueuing, atrium.ReasonPreempted, "system"},
		{atrium.EventJobPreempted, atrium.JobRunning, atrium.JobQueuing, atrium.ReasonPreempted, "system"},
		{atrium.EventJobStatusChanged, atrium.JobQueuing, atrium.JobRunning, atrium.ReasonStarted, "system"},
		{atrium.EventJobStatusChanged, atrium.JobRunning, atrium.JobFailed, atrium.ReasonMaxRunningTimeExceeded, "alice"},
		{atrium.EventJobTimeout, atrium.JobRunning, atrium.JobFailed, atrium.ReasonMaxRunningTimeExceeded, "alice"},
	}
	if len(es) != len(want) {
		t.Fatalf("job events = %s, want %d", dump(es), len(want))
	}
	// Expected times: create at the start, then one per step (minutes 1, 3, 5);
	// the step after the clock went back keeps minute 5.
	times := []time.Duration{0, 1, 3, 3, 5, 5, 5}
	for i, e := range es {
		d := eventData(t, e)
		got := row{e.Type, d["from"].(string), d["to"].(string), d["reasonCode"].(string), d["actor"].(string)}
		if got != want[i] {
			t.Fatalf("event %d = %+v, want %+v (all: %s)", i, got, want[i], dump(es))
		}
		if e.Source != "/workspaces/"+w.ID+"/jobs/"+j.ID || e.WorkspaceID != w.ID || e.Subject != j.ID {
			t.Fatalf("event %d = %+v", i, e)
		}
		if d["jobId"] != j.ID || d["creator"] != alice.ID || d["accessibility"] != atrium.AccessPrivate ||
			d["kind"] != atrium.KindDLC || d["jobType"] != "PyTorchJob" || d["displayName"] != "mnist" {
			t.Fatalf("event %d data = %s", i, e.Data)
		}
		if wt := stored(clockStart.Add(times[i] * time.Minute)); !e.Time.Equal(wt) {
			t.Fatalf("event %d time = %v, want %v", i, e.Time, wt)
		}
		if i > 0 && (e.Seq <= es[i-1].Seq || e.Time.Before(es[i-1].Time)) {
			t.Fatalf("event %d out of order: %s", i, dump(es))
		}
	}
	if d := eventData(t, es[3]); d["attempt"] != float64(2) {
		t.Fatalf("preempted event data = %s", es[3].Data)
	}

	// A DSW instance's events have their own type and source.
	dsw := newJob(w, alice.ID, clockStart)
	dsw.Kind, dsw.JobType = atrium.KindDSW, "DSW"
	mustJob(t, s, dsw)
	got, err := s.UpdateJob(ctx, dsw.ID, dsw.Version, status(atrium.JobQueuing, atrium.ReasonQueueTimeout))
	wantNoErr(t, err)
	_, err = s.UpdateJob(ctx, dsw.ID, got.Version, status(atrium.JobFailed, atrium.ReasonQueueTimeout))
	wantNoErr(t, err)
	es = subjectEvents(t, s, dsw.ID)
	var types []string
	for _, e := range es {
		types = append(types, e.Type)
		if e.Source != "/workspaces/"+w.ID+"/dsw-instances/"+dsw.ID {
			t.Fatalf("DSW event source = %s", e.Source)
		}
	}
	wantEqual(t, "DSW event types", types, []string{atrium.EventDSWStatusChanged, atrium.EventDSWStatusChanged, atrium.EventJobTimeout})
}

// testMemberOutbox: membership changes write workspace.member.changed
// events; refused and no-op changes write none.
func testMemberOutbox(t *testing.T, s atrium.Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	w := mustWorkspace(t, s, "vision", alice)
	owner := mustOwnerMember(t, s, w)
	actx := atrium.WithAudit(ctx, &atrium.Audit{ActorID: alice.ID, ActorName: "alice", Action: "Workspace:CreateMember", RequestID: "req-member-1"})
	ms, err := s.AddMembers(actx, w.ID, []atrium.MemberParams{{UserID: bob.ID, Roles: []string{atrium.RoleAlgoDeveloper}}})
	wantNoErr(t, err)
	m := ms[0]
	_, err = s.AddMembers(ctx, w.ID, []atrium.MemberParams{{UserID: bob.ID, Roles: []string{atrium.RoleAlgoDeveloper}}})
	wantCode(t, err, atrium.ECONFLICT)
	_, err = s.AddMemberRole(ctx, w.ID, m.ID, atrium.RoleAlgoOperator)
	wantNoErr(t, err)
	_, err = s.AddMemberRole(ctx, w.ID, m.ID, atrium.RoleAlgoOperator) // held already: no change
	wantNoErr(t, err)
	_, err = s.RemoveMemberRole(ctx, w.ID, m.ID, atrium.RoleAlgoDeveloper)
	wantNoErr(t, err)
	_, err = s.RemoveMemberRole(ctx, w.ID, m.ID, atrium.RoleAlgoDeveloper)
	wantCode(t, err, atrium.ENOTFOUND)
	wantCode(t, s.DeleteMember(ctx, w.ID, owner.ID), atrium.ECONFLICT) // the last owner
	wantNoErr(t, s.DeleteMember(ctx, w.ID, m.ID))

	es, err := s.FindEvents(ctx, atrium.EventFilter{WorkspaceID: w.ID, Types: []string{atrium.EventWorkspaceMemberChange}})
	wantNoErr(t, err)
	type row struct {
		action, role, roles, actor string
	}
	want := []row{
		{"added", "", `["AlgoDeveloper"]`, "alice"},
		{"roleAdded", atrium.RoleAlgoOperator, "null", "system"},
		{"roleRemoved", atrium.RoleAlgoDeveloper, "null", "system"},
		{"removed", "", `["AlgoOperator"]`, "system"},
	}
	if len(es) != len(want) {
		t.Fatalf("member events = %s", dump(es))
	}
	for i, e := range es {
		d := eventData(t, e)
		role, _ := d["role"].(string)
		roles, _ := json.Marshal(d["roles"])
		got := row{d["action"].(string), role, string(roles), d["actor"].(string)}
		if got != want[i] || d["memberId"] != m.ID || d["userId"] != bob.ID || d["userName"] != "bob" ||
			e.Subject != m.ID || e.Source != "/workspaces/"+w.ID+"/members/"+m.ID {
			t.Fatalf("member event %d = %+v %s, want %+v", i, e, e.Data, want[i])
		}
	}
}
