package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
)

func testLeases(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	const ttl = 10 * time.Second
	_, err := s.FindLease(ctx, "scheduler")
	wantCode(t, err, atrium.ENOTFOUND)

	a, err := s.AcquireLease(ctx, "scheduler", "replica-a", ttl)
	wantNoErr(t, err)
	if a.Generation != 1 || a.Holder != "replica-a" {
		t.Fatalf("first acquire: %+v", a)
	}
	// Someone else waits while it is alive; the holder re-acquires (renews).
	e := wantCode(t, ignoreLease(s.AcquireLease(ctx, "scheduler", "replica-b", ttl)), atrium.ECONFLICT)
	if e != nil && !strings.Contains(e.Message, "replica-a") {
		t.Errorf("conflict does not name the holder: %s", e.Message)
	}
	c.Add(5 * time.Second)
	a2, err := s.AcquireLease(ctx, "scheduler", "replica-a", ttl)
	wantNoErr(t, err)
	if a2.Generation != 1 || !a2.ExpiresAt.After(a.ExpiresAt) {
		t.Errorf("re-acquire by the holder: %+v after %+v", a2, a)
	}
	a3, err := s.RenewLease(ctx, a2, ttl)
	wantNoErr(t, err)

	// Fenced writes succeed while the lease is held.
	fenced := atrium.WithFence(ctx, a3)
	u := &atrium.User{Name: "fenced1", DisplayName: "f"}
	wantNoErr(t, s.CreateUser(fenced, u))

	// The holder stops renewing; after expiry b takes over with a new
	// generation, and a's renewals and fenced writes fail from then on.
	c.Add(ttl + time.Second)
	wantCode(t, s.CreateUser(fenced, &atrium.User{Name: "fenced2", DisplayName: "f"}), atrium.EFENCED)
	b, err := s.AcquireLease(ctx, "scheduler", "replica-b", ttl)
	wantNoErr(t, err)
	if b.Generation != 2 {
		t.Errorf("takeover generation %d, want 2", b.Generation)
	}
	wantCode(t, ignoreLease(s.RenewLease(ctx, a3, ttl)), atrium.EFENCED)
	wantCode(t, s.CreateUser(fenced, &atrium.User{Name: "fenced3", DisplayName: "f"}), atrium.EFENCED)
	_, err = s.FindUserByName(ctx, "fenced3")
	wantCode(t, err, atrium.ENOTFOUND)
	wantNoErr(t, s.CreateUser(atrium.WithFence(ctx, b), &atrium.User{Name: "fenced4", DisplayName: "f"}))
	// Unfenced writes (the API's) are not affected.
	wantNoErr(t, s.CreateUser(ctx, &atrium.User{Name: "free", DisplayName: "f"}))

	// Releasing a lease one lost does nothing; releasing one's own frees it
	// at once for the next holder, with the next generation.
	wantNoErr(t, s.ReleaseLease(ctx, a3))
	got, err := s.FindLease(ctx, "scheduler")
	wantNoErr(t, err)
	if got.Holder != "replica-b" || got.Generation != 2 {
		t.Errorf("a's release changed b's lease: %+v", got)
	}
	wantNoErr(t, s.ReleaseLease(ctx, b))
	a4, err := s.AcquireLease(ctx, "scheduler", "replica-a", ttl)
	wantNoErr(t, err)
	if a4.Generation != 3 {
		t.Errorf("after release: generation %d, want 3", a4.Generation)
	}
}

// testLeaseConcurrent: of many replicas racing for a free lease, exactly one wins.
func testLeaseConcurrent(t *testing.T, s atrium.Store) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := map[string]int64{}
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := "replica-" + string(rune('a'+i))
			l, err := s.AcquireLease(ctx, "race", holder, time.Minute)
			if err != nil {
				if atrium.ErrorCode(err) != atrium.ECONFLICT {
					t.Errorf("%s: %v", holder, err)
				}
				return
			}
			mu.Lock()
			winners[holder] = l.Generation
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("winners: %v", winners)
	}
}

func ignoreLease(_ *atrium.Lease, err error) error { return err }
