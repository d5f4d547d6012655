package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"atrium"
)

func eventIDs(es []*atrium.Event) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// testEvents: approval changes write their events to the outbox, which
// lists them in the order written, filtered by workspace, type and position.
func testEvents(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w1, w2 := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)

	es, err := s.FindEvents(ctx, atrium.EventFilter{})
	wantNoErr(t, err)
	wantEqual(t, "empty outbox", es, []*atrium.Event{})

	// Each event rides on a version update; versions are named after the event.
	emit := func(ws *atrium.Workspace, e *atrium.Event) *atrium.Event {
		t.Helper()
		c.Add(time.Second)
		m := mustAsset(t, s, newAsset(ws, atrium.AssetModel, fmt.Sprintf("m%d", c.Now().Unix()), alice.ID))
		mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: m.ID, Name: "1.0.0", ApprovalStatus: atrium.ApprovalPending})
		_, err := s.UpdateAssetVersion(ctx, m.ID, "1.0.0", atrium.AssetVersionUpdate{
			ApprovalStatus: ptr(atrium.ApprovalApproved), FromApproval: ptr(atrium.ApprovalPending), Event: e})
		if err != nil {
			t.Fatalf("UpdateAssetVersion with event %s: %v", e.Type, err)
		}
		return e
	}
	at := clockStart.Add(-time.Hour)
	e1 := emit(w1, &atrium.Event{Type: atrium.EventModelApprovalChanged, Source: "/workspaces/w1/models/m1", Subject: "1.0.0",
		Data: json.RawMessage(` {"approvalStatus": "Approved"} `)})
	e2 := emit(w2, &atrium.Event{ID: "evt-given", Type: atrium.EventModelApprovalChanged, Time: at})
	e3 := emit(w1, &atrium.Event{Type: "test.other", WorkspaceID: "ws-elsewhere"})
	e4 := emit(w1, &atrium.Event{Type: "test.other"})

	if !atrium.HasPrefix(e1.ID, atrium.PrefixEvent) || !e1.Time.Equal(stored(clockStart.Add(time.Second))) ||
		e1.Time.Location() != time.UTC || e1.WorkspaceID != w1.ID || string(e1.Data) != `{"approvalStatus":"Approved"}` {
		t.Fatalf("written event = %+v", e1)
	}
	if e2.ID != "evt-given" || !e2.Time.Equal(stored(at)) || string(e2.Data) != "{}" || e2.WorkspaceID != w2.ID {
		t.Fatalf("event with id and time = %+v", e2)
	}
	if !(e1.Seq < e2.Seq && e2.Seq < e3.Seq && e3.Seq < e4.Seq) {
		t.Fatalf("seqs = %d %d %d %d, want increasing", e1.Seq, e2.Seq, e3.Seq, e4.Seq)
	}
	es, err = s.FindEvents(ctx, atrium.EventFilter{})
	wantNoErr(t, err)
	wantEqual(t, "outbox", es, []*atrium.Event{e1, e2, e3, e4})

	for _, tc := range []struct {
		name string
		f    atrium.EventFilter
		want []*atrium.Event
	}{
		{"workspace", atrium.EventFilter{WorkspaceID: w1.ID}, []*atrium.Event{e1, e4}},
		{"given workspace", atrium.EventFilter{WorkspaceID: "ws-elsewhere"}, []*atrium.Event{e3}},
		{"type", atrium.EventFilter{Types: []string{atrium.EventModelApprovalChanged}}, []*atrium.Event{e1, e2}},
		{"types", atrium.EventFilter{Types: []string{"test.other", atrium.EventModelApprovalChanged}}, []*atrium.Event{e1, e2, e3, e4}},
		{"after", atrium.EventFilter{AfterSeq: e2.Seq}, []*atrium.Event{e3, e4}},
		{"after the end", atrium.EventFilter{AfterSeq: e4.Seq}, []*atrium.Event{}},
		{"limit", atrium.EventFilter{Limit: 2}, []*atrium.Event{e1, e2}},
		{"after and limit", atrium.EventFilter{AfterSeq: e1.Seq, Limit: 2}, []*atrium.Event{e2, e3}},
		{"all filters", atrium.EventFilter{WorkspaceID: w1.ID, Types: []string{"test.other"}, AfterSeq: e1.Seq, Limit: 5}, []*atrium.Event{e4}},
	} {
		es, err := s.FindEvents(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		wantEqual(t, tc.name, eventIDs(es), eventIDs(tc.want))
	}

	// A taken event id fails the update it rides on.
	m := mustAsset(t, s, newAsset(w1, atrium.AssetModel, "dup", alice.ID))
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: m.ID, Name: "1.0.0", ApprovalStatus: atrium.ApprovalPending})
	_, err = s.UpdateAssetVersion(ctx, m.ID, "1.0.0", atrium.AssetVersionUpdate{ApprovalStatus: ptr(atrium.ApprovalApproved),
		Event: &atrium.Event{ID: "evt-given", Type: "x"}})
	wantCode(t, err, atrium.ECONFLICT)
	v, err := s.FindAssetVersion(ctx, m.ID, "1.0.0")
	wantNoErr(t, err)
	if v.ApprovalStatus != atrium.ApprovalPending {
		t.Fatalf("version after a failed event = %s, want still Pending", dump(v))
	}
}
