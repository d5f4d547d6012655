package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"atrium"
)

// testDSWHandoffs: a handoff is redeemed once, returns what was stored, and
// is refused once expired; minting it writes the caller's audit line.
func testDSWHandoffs(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "notebooks", alice)
	h := &atrium.DSWHandoff{Hash: "hash-1", InstanceID: "dsw-one", WorkspaceID: w.ID, UserID: alice.ID, ExpiresAt: c.Now().Add(time.Minute)}
	runAuditSteps(t, s, c, alice, []auditStep{{"CreateDSWHandoff", func(ctx context.Context) error { return s.CreateDSWHandoff(ctx, h) },
		func() string { return w.ID }, func() string { return "dsw-one" }}})

	got, err := s.RedeemDSWHandoff(ctx, "hash-1")
	wantNoErr(t, err)
	wantEqual(t, "redeemed", got, &atrium.DSWHandoff{Hash: "hash-1", InstanceID: "dsw-one", WorkspaceID: w.ID, UserID: alice.ID,
		ExpiresAt: time.UnixMilli(clockStart.Add(time.Minute).UnixMilli()).UTC()})
	wantCode(t, ignoreHandoff(s.RedeemDSWHandoff(ctx, "hash-1")), atrium.ENOTFOUND)
	wantCode(t, ignoreHandoff(s.RedeemDSWHandoff(ctx, "never-minted")), atrium.ENOTFOUND)

	// The same hash twice is a conflict (tokens are random: a bug, not luck).
	wantNoErr(t, s.CreateDSWHandoff(ctx, &atrium.DSWHandoff{Hash: "hash-2", InstanceID: "dsw-one", WorkspaceID: w.ID, UserID: alice.ID, ExpiresAt: c.Now().Add(time.Minute)}))
	wantCode(t, s.CreateDSWHandoff(ctx, &atrium.DSWHandoff{Hash: "hash-2", InstanceID: "dsw-two", WorkspaceID: w.ID, UserID: alice.ID, ExpiresAt: c.Now().Add(time.Minute)}), atrium.ECONFLICT)

	// Expired: refused, and gone for good (the clock going back does not revive it).
	c.Add(time.Minute)
	e := wantCode(t, ignoreHandoff(s.RedeemDSWHandoff(ctx, "hash-2")), atrium.ENOTFOUND)
	if e != nil && e.Message == "" {
		t.Errorf("no message for an expired handoff")
	}
	if cs, ok := s.(Clocked); ok {
		cs.SetNow(func() time.Time { return clockStart })
	}
	wantCode(t, ignoreHandoff(s.RedeemDSWHandoff(ctx, "hash-2")), atrium.ENOTFOUND)
}

// testDSWHandoffConcurrent: of many replicas redeeming one handoff at once,
// exactly one gets it.
func testDSWHandoffConcurrent(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "notebooks", alice)
	for round := range 3 {
		hash := fmt.Sprintf("race-%d", round)
		wantNoErr(t, s.CreateDSWHandoff(ctx, &atrium.DSWHandoff{Hash: hash, InstanceID: "dsw-one", WorkspaceID: w.ID, UserID: alice.ID,
			ExpiresAt: time.Now().Add(time.Minute)}))
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 8 {
			wg.Go(func() {
				_, err := s.RedeemDSWHandoff(ctx, hash)
				if err != nil && atrium.ErrorCode(err) != atrium.ENOTFOUND {
					t.Errorf("redeem: %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won++
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("round %d: %d redeemers got the handoff, want exactly 1", round, won)
		}
	}
}

func ignoreHandoff(_ *atrium.DSWHandoff, err error) error { return err }
