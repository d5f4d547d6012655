package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
)

func newRule(ws *atrium.Workspace, name, owner string) *atrium.AlertRule {
	return &atrium.AlertRule{
		WorkspaceID: ws.ID, Name: name, Owner: owner, OwnerName: "name of " + owner,
		EventTypes: []string{atrium.EventJobStatusChanged},
		Scope:      atrium.ScopeMine,
		Filter:     atrium.AlertFilter{Statuses: []string{"Failed"}, JobTypes: []string{"PyTorchJob"}, CEL: `event.data.to == "Failed"`},
		Throttle:   atrium.Duration(time.Minute),
		Enabled:    true,
		Targets: []atrium.AlertTarget{
			{Type: atrium.TargetWebhook, URL: "https://hooks.example.com/a", Secret: []byte("sealed-1")},
			{Type: atrium.TargetEmail, To: []string{"a@example.com", "b@example.com"}},
			{Type: atrium.TargetDingTalk, URL: "https://oapi.dingtalk.com/robot/send?access_token=x", Secret: []byte("sealed-3")},
		},
	}
}

func mustRule(t *testing.T, s atrium.Store, r *atrium.AlertRule) *atrium.AlertRule {
	t.Helper()
	if err := s.CreateAlertRule(ctx, r); err != nil {
		t.Fatalf("CreateAlertRule(%s): %v", r.Name, err)
	}
	return r
}

func ruleNames(rs []*atrium.AlertRule) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// testAlertRules: CRUD, names unique per workspace, secrets round-trip but
// never in the marshalled view.
func testAlertRules(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	w1, w2 := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)

	r := mustRule(t, s, newRule(w1, "failures", alice.ID))
	if !atrium.HasPrefix(r.ID, atrium.PrefixRule) || !r.CreatedAt.Equal(stored(clockStart)) || !r.UpdatedAt.Equal(r.CreatedAt) {
		t.Fatalf("created rule = %s", dump(r))
	}
	if !r.Targets[0].HasSecret || r.Targets[1].HasSecret || !r.Targets[2].HasSecret {
		t.Fatalf("HasSecret = %v %v %v", r.Targets[0].HasSecret, r.Targets[1].HasSecret, r.Targets[2].HasSecret)
	}
	got, err := s.FindAlertRuleByID(ctx, r.ID)
	wantNoErr(t, err)
	wantEqual(t, "rule read back", got, r)
	if string(got.Targets[0].Secret) != "sealed-1" || got.Targets[1].Secret != nil || string(got.Targets[2].Secret) != "sealed-3" {
		t.Fatalf("secrets read back = %q %q %q", got.Targets[0].Secret, got.Targets[1].Secret, got.Targets[2].Secret)
	}
	view, err := json.Marshal(got)
	wantNoErr(t, err)
	for _, secret := range []string{"sealed-1", "sealed-3", "c2VhbGVk"} { // and base64 of "sealed"
		if strings.Contains(string(view), secret) {
			t.Fatalf("view shows a secret: %s", view)
		}
	}

	_, err = s.FindAlertRuleByID(ctx, "rule-missing")
	wantCode(t, err, atrium.ENOTFOUND)
	wantCode(t, s.CreateAlertRule(ctx, newRule(w1, "failures", bob.ID)), atrium.ECONFLICT)
	wantCode(t, s.CreateAlertRule(ctx, newRule(&atrium.Workspace{ID: "ws-missing"}, "x", bob.ID)), atrium.ENOTFOUND)
	wantCode(t, s.CreateAlertRule(ctx, newRule(w1, "", bob.ID)), atrium.EINVALID)

	// The same name in another workspace is fine; minimal rule.
	min := mustRule(t, s, &atrium.AlertRule{WorkspaceID: w2.ID, Name: "failures", Owner: bob.ID, Scope: atrium.ScopeAll})
	got, err = s.FindAlertRuleByID(ctx, min.ID)
	wantNoErr(t, err)
	if len(got.EventTypes) != 0 || got.EventTypes == nil || got.Targets == nil || len(got.Targets) != 0 || got.Enabled {
		t.Fatalf("minimal rule = %s", dump(got))
	}
	b := mustRule(t, s, newRule(w1, "b-by-bob", bob.ID))
	a := mustRule(t, s, newRule(w1, "a-by-alice", alice.ID))

	rs, err := s.FindAlertRules(ctx, w1.ID, "")
	wantNoErr(t, err)
	wantEqual(t, "rules of w1", ruleNames(rs), []string{"a-by-alice", "b-by-bob", "failures"})
	rs, err = s.FindAlertRules(ctx, w1.ID, alice.ID)
	wantNoErr(t, err)
	wantEqual(t, "alice's rules", ruleNames(rs), []string{"a-by-alice", "failures"})
	rs, err = s.FindAlertRules(ctx, "ws-none", "")
	wantNoErr(t, err)
	wantEqual(t, "rules of no workspace", rs, []*atrium.AlertRule{})

	// Update replaces everything but workspace, owner and creation time;
	// an update without secrets drops them.
	c.Add(time.Hour)
	upd := *a
	upd.Name, upd.Enabled, upd.Scope, upd.ResourceID = "renamed", false, "", "dlc-123"
	upd.WorkspaceID, upd.Owner, upd.OwnerName = "ws-other", "", ""
	upd.Throttle, upd.Filter = 0, atrium.AlertFilter{}
	upd.Targets = []atrium.AlertTarget{{Type: atrium.TargetSlack, URL: "https://hooks.slack.com/x"}, {Type: atrium.TargetWebhook, URL: "http://h/", Secret: []byte("new")}}
	wantNoErr(t, s.UpdateAlertRule(ctx, &upd))
	got, err = s.FindAlertRuleByID(ctx, a.ID)
	wantNoErr(t, err)
	if got.Name != "renamed" || got.Enabled || got.Scope != "" || got.ResourceID != "dlc-123" || got.WorkspaceID != w1.ID ||
		got.Owner != alice.ID || got.OwnerName != a.OwnerName || !got.CreatedAt.Equal(a.CreatedAt) ||
		!got.UpdatedAt.Equal(stored(clockStart.Add(time.Hour))) || got.Throttle != 0 || got.Filter.CEL != "" ||
		len(got.Targets) != 2 || got.Targets[0].HasSecret || string(got.Targets[1].Secret) != "new" || !got.Targets[1].HasSecret {
		t.Fatalf("updated rule = %s", dump(got))
	}
	wantEqual(t, "update result", got, &upd)
	taken := *b
	taken.Name = "failures"
	wantCode(t, s.UpdateAlertRule(ctx, &taken), atrium.ECONFLICT)
	missing := *b
	missing.ID = "rule-missing"
	wantCode(t, s.UpdateAlertRule(ctx, &missing), atrium.ENOTFOUND)

	wantNoErr(t, s.DeleteAlertRule(ctx, b.ID))
	wantCode(t, s.DeleteAlertRule(ctx, b.ID), atrium.ENOTFOUND)
	_, err = s.FindAlertRuleByID(ctx, b.ID)
	wantCode(t, err, atrium.ENOTFOUND)
}

func delivery(r *atrium.AlertRule, target int, eventID string) *atrium.Delivery {
	return &atrium.Delivery{RuleID: r.ID, WorkspaceID: r.WorkspaceID, TargetIndex: target, TargetType: r.Targets[target].Type,
		EventID: eventID, EventType: atrium.EventJobStatusChanged, Payload: json.RawMessage(`{"id": "` + eventID + `"}`)}
}

func deliveryIDs(ds []*atrium.Delivery) []int64 {
	out := []int64{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// testDeliveries: enqueue dedupes per rule, target and event (not tests),
// moves the cursor in the same call; claims lease, leases expire; finish
// records the result; deleting a rule or workspace removes its history.
func testDeliveries(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	r := mustRule(t, s, newRule(w, "failures", alice.ID))

	seq, err := s.MatchCursor(ctx)
	wantNoErr(t, err)
	if seq != 0 {
		t.Fatalf("initial cursor = %d", seq)
	}
	d1, d2 := delivery(r, 0, "evt-1"), delivery(r, 1, "evt-1")
	wantNoErr(t, s.EnqueueDeliveries(ctx, []*atrium.Delivery{d1, d2}, 7))
	if d1.ID == 0 || d2.ID <= d1.ID || d1.Status != atrium.DeliveryPending || !d1.NextAttempt.Equal(stored(clockStart)) ||
		!d1.CreatedAt.Equal(stored(clockStart)) || string(d1.Payload) != `{"id":"evt-1"}` {
		t.Fatalf("enqueued = %s", dump([]*atrium.Delivery{d1, d2}))
	}
	seq, err = s.MatchCursor(ctx)
	wantNoErr(t, err)
	if seq != 7 {
		t.Fatalf("cursor = %d, want 7", seq)
	}
	// The same event for the same target again: skipped; a test delivery
	// and another event are not.
	again, test := delivery(r, 0, "evt-1"), delivery(r, 0, "evt-1")
	test.Test = true
	test2 := delivery(r, 0, "evt-1")
	test2.Test = true
	d3 := delivery(r, 2, "evt-2")
	wantNoErr(t, s.EnqueueDeliveries(ctx, []*atrium.Delivery{again, test, test2, d3}, 9))
	if again.ID != 0 || test.ID == 0 || test2.ID == 0 || d3.ID == 0 {
		t.Fatalf("enqueue again = %s", dump([]*atrium.Delivery{again, test, test2, d3}))
	}
	seq, err = s.MatchCursor(ctx)
	wantNoErr(t, err)
	if seq != 9 {
		t.Fatalf("cursor = %d, want 9", seq)
	}
	// A delivery for a missing rule fails the whole call: cursor unmoved.
	bad := delivery(r, 0, "evt-3")
	bad.RuleID = "rule-missing"
	if err := s.EnqueueDeliveries(ctx, []*atrium.Delivery{delivery(r, 0, "evt-3"), bad}, 11); err == nil {
		t.Fatal("enqueue for a missing rule succeeded")
	}
	seq, err = s.MatchCursor(ctx)
	wantNoErr(t, err)
	ds, err := s.FindDeliveries(ctx, r.ID, 0)
	wantNoErr(t, err)
	if seq != 9 || len(ds) != 5 {
		t.Fatalf("after a failed enqueue: cursor %d, %d deliveries", seq, len(ds))
	}
	wantEqual(t, "deliveries newest first", deliveryIDs(ds), []int64{d3.ID, test2.ID, test.ID, d2.ID, d1.ID})
	if pc, ok := s.(interface {
		CountPendingDeliveries(context.Context) (int, error)
	}); ok {
		n, err := pc.CountPendingDeliveries(ctx)
		wantNoErr(t, err)
		wantEqual(t, "pending deliveries", n, 5)
	}
	if !ds[2].Test || ds[4].Test {
		t.Fatalf("test flags = %s", dump(ds))
	}
	ds, err = s.FindDeliveries(ctx, r.ID, 2)
	wantNoErr(t, err)
	wantEqual(t, "limit", deliveryIDs(ds), []int64{d3.ID, test2.ID})
	wantEqual(t, "read back", ds[0], d3)

	// A delivery due later is not claimed yet.
	now := stored(clockStart)
	later := delivery(r, 1, "evt-later")
	later.NextAttempt = now.Add(time.Hour)
	wantNoErr(t, s.EnqueueDeliveries(ctx, []*atrium.Delivery{later}, 0))

	claimed, err := s.ClaimDeliveries(ctx, 3, now, now.Add(time.Minute))
	wantNoErr(t, err)
	wantEqual(t, "claimed", deliveryIDs(claimed), []int64{d1.ID, d2.ID, test.ID})
	if claimed[0].Attempts != 1 || claimed[0].RuleID != r.ID || string(claimed[0].Payload) != `{"id":"evt-1"}` {
		t.Fatalf("claimed = %s", dump(claimed[0]))
	}
	claimed, err = s.ClaimDeliveries(ctx, 10, now, now.Add(time.Minute))
	wantNoErr(t, err)
	wantEqual(t, "claimed the rest", deliveryIDs(claimed), []int64{test2.ID, d3.ID})
	claimed, err = s.ClaimDeliveries(ctx, 10, now.Add(30*time.Second), now.Add(time.Minute))
	wantNoErr(t, err)
	wantEqual(t, "all leased", claimed, []*atrium.Delivery{})

	// Finish: d1 delivered, d2 to retry later, test failed; d3's lease runs out.
	c.Add(10 * time.Second)
	wantNoErr(t, s.FinishDelivery(ctx, d1.ID, atrium.DeliveryResult{Status: atrium.DeliveryDelivered, ResponseCode: 200, LatencyMs: 12}))
	retry := now.Add(5 * time.Minute)
	wantNoErr(t, s.FinishDelivery(ctx, d2.ID, atrium.DeliveryResult{Status: atrium.DeliveryPending, Next: retry, Error: "connection refused", LatencyMs: 3}))
	wantNoErr(t, s.FinishDelivery(ctx, test.ID, atrium.DeliveryResult{Status: atrium.DeliveryFailed, Error: "404 Not Found", ResponseCode: 404}))
	wantCode(t, s.FinishDelivery(ctx, 999999, atrium.DeliveryResult{Status: atrium.DeliveryDelivered}), atrium.ENOTFOUND)
	wantCode(t, s.FinishDelivery(ctx, d1.ID, atrium.DeliveryResult{Status: "Bogus"}), atrium.EINVALID)

	ds, err = s.FindDeliveries(ctx, r.ID, 0)
	wantNoErr(t, err)
	byID := map[int64]*atrium.Delivery{}
	for _, d := range ds {
		byID[d.ID] = d
	}
	g1, g2, gt := byID[d1.ID], byID[d2.ID], byID[test.ID]
	if g1.Status != atrium.DeliveryDelivered || g1.ResponseCode != 200 || g1.LatencyMs != 12 || g1.Attempts != 1 ||
		g1.DeliveredAt == nil || !g1.DeliveredAt.Equal(stored(clockStart.Add(10*time.Second))) || g1.LastError != "" {
		t.Fatalf("delivered = %s", dump(g1))
	}
	if g2.Status != atrium.DeliveryPending || !g2.NextAttempt.Equal(retry) || g2.LastError != "connection refused" || g2.DeliveredAt != nil {
		t.Fatalf("retrying = %s", dump(g2))
	}
	if gt.Status != atrium.DeliveryFailed || gt.ResponseCode != 404 || gt.LastError != "404 Not Found" {
		t.Fatalf("failed = %s", dump(gt))
	}

	// After the lease: the unfinished ones come back (attempt 2); the retry
	// comes when due; finished ones never.
	claimed, err = s.ClaimDeliveries(ctx, 10, now.Add(2*time.Minute), now.Add(3*time.Minute))
	wantNoErr(t, err)
	wantEqual(t, "re-claimed after lease", deliveryIDs(claimed), []int64{test2.ID, d3.ID})
	if claimed[0].Attempts != 2 {
		t.Fatalf("attempts = %d, want 2", claimed[0].Attempts)
	}
	claimed, err = s.ClaimDeliveries(ctx, 10, now.Add(time.Hour), now.Add(time.Hour+time.Minute))
	wantNoErr(t, err)
	wantEqual(t, "due later", deliveryIDs(claimed), []int64{test2.ID, d3.ID, d2.ID, later.ID})
	if claimed[2].Attempts != 2 || claimed[0].Attempts != 3 || claimed[3].Attempts != 1 {
		t.Fatalf("attempts = %s", dump(claimed))
	}

	// Deleting the rule removes its deliveries; deleting the workspace its rules.
	wantNoErr(t, s.DeleteAlertRule(ctx, r.ID))
	ds, err = s.FindDeliveries(ctx, r.ID, 0)
	wantNoErr(t, err)
	wantEqual(t, "deliveries of a deleted rule", ds, []*atrium.Delivery{})
	claimed, err = s.ClaimDeliveries(ctx, 10, now.Add(10*time.Hour), now.Add(11*time.Hour))
	wantNoErr(t, err)
	wantEqual(t, "nothing left to claim", claimed, []*atrium.Delivery{})

	r2 := mustRule(t, s, newRule(w, "other", alice.ID))
	wantNoErr(t, s.EnqueueDeliveries(ctx, []*atrium.Delivery{delivery(r2, 0, "evt-9")}, 0))
	wantNoErr(t, s.DeleteWorkspace(ctx, w.ID))
	_, err = s.FindAlertRuleByID(ctx, r2.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	ds, err = s.FindDeliveries(ctx, r2.ID, 0)
	wantNoErr(t, err)
	wantEqual(t, "deliveries of a deleted workspace", ds, []*atrium.Delivery{})
}

// testClaimConcurrent: 8 claimers at once never get the same delivery.
func testClaimConcurrent(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	r := mustRule(t, s, newRule(w, "failures", alice.ID))
	const total = 200
	var ds []*atrium.Delivery
	for i := range total {
		ds = append(ds, delivery(r, i%3, fmt.Sprintf("evt-%d", i)))
	}
	wantNoErr(t, s.EnqueueDeliveries(ctx, ds, int64(total)))
	now := time.Now().Add(time.Hour) // everything is due
	var (
		mu  sync.Mutex
		got []int64
		wg  sync.WaitGroup
	)
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cs, err := s.ClaimDeliveries(ctx, 7, now, now.Add(time.Hour))
				if err != nil {
					errs <- err
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					got = append(got, c.ID)
					if c.Attempts != 1 {
						errs <- fmt.Errorf("delivery %d claimed with attempts %d", c.ID, c.Attempts)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	want := deliveryIDs(ds)
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	wantEqual(t, "claimed once each", got, want)
}
