package leader

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"atrium"
	"atrium/sqlstore"
)

// TestOneLeaderAtATime: two replicas campaign for one lease; exactly one
// leads; when it shuts down the other takes over with the next generation,
// and never do both lead at once.
func TestOneLeaderAtATime(t *testing.T) {
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	leading := map[string]int64{} // holder → generation while leading
	overlap := false
	started := make(chan string, 10)
	replica := func(name string) (context.CancelFunc, chan struct{}) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			Run(ctx, Config{Store: db, Name: "scheduler", Holder: name, TTL: 600 * time.Millisecond}, func(lctx context.Context) {
				l, ok := atrium.FenceFrom(lctx)
				if !ok {
					t.Errorf("%s leads without a fence", name)
				}
				mu.Lock()
				if len(leading) > 0 {
					overlap = true
				}
				leading[name] = l.Generation
				mu.Unlock()
				started <- name
				<-lctx.Done()
				mu.Lock()
				delete(leading, name)
				mu.Unlock()
			})
		}()
		return cancel, done
	}
	stopA, doneA := replica("a")
	if got := <-started; got != "a" {
		t.Fatalf("first leader %s", got)
	}
	stopB, doneB := replica("b")
	defer func() { stopB(); <-doneB }()
	select {
	case got := <-started:
		t.Fatalf("%s leads while a holds the lease", got)
	case <-time.After(1500 * time.Millisecond): // two and a half TTLs: a kept renewing
	}
	stopA()
	<-doneA
	select {
	case got := <-started:
		if got != "b" {
			t.Fatalf("after a stopped, %s leads", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b did not take over")
	}
	l, err := db.FindLease(context.Background(), "scheduler")
	if err != nil || l.Holder != "b" || l.Generation != 2 {
		t.Errorf("lease after takeover: %+v %v", l, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("two replicas led at once")
	}
}

// TestLeadStopsWhenLeaseIsLost: when another holder takes the lease (as
// after a long pause of the leader), the leader's next renewal fails, its
// work is cancelled, and a write it still tries is refused by the fence.
func TestLeadStopsWhenLeaseIsLost(t *testing.T) {
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	now := time.Now()
	db.SetNow(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	led := make(chan struct{}, 1)
	late := make(chan error, 1)
	go Run(ctx, Config{Store: db, Name: "scheduler", Holder: "old", TTL: 600 * time.Millisecond}, func(lctx context.Context) {
		led <- struct{}{}
		<-lctx.Done()
		late <- db.CreateUser(context.WithoutCancel(lctx), &atrium.User{Name: "late", DisplayName: "x"})
	})
	<-led
	// The store's clock jumps past the TTL; "new" takes the expired lease.
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if _, err := db.AcquireLease(ctx, "scheduler", "new", time.Hour); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-late:
		if atrium.ErrorCode(err) != atrium.EFENCED {
			t.Errorf("the old leader's write after losing the lease: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the old leader kept leading")
	}
	if _, err := db.FindUserByName(ctx, "late"); atrium.ErrorCode(err) != atrium.ENOTFOUND {
		t.Errorf("the fenced write landed: %v", err)
	}
}

// TestRestartTakesOverAtOnce: a lease held by a process of this host that
// has exited (a crashed server) is freed at once for the restarted one.
func TestRestartTakesOverAtOnce(t *testing.T) {
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	dead := fmt.Sprintf("%s/%d/deadbeef", host, gone.Process.Pid)
	if _, err := db.AcquireLease(ctx, "scheduler", dead, time.Hour); err != nil {
		t.Fatal(err)
	}
	// A live holder elsewhere is left alone.
	if _, err := db.AcquireLease(ctx, "other", "elsewhere/1/cafe", time.Hour); err != nil {
		t.Fatal(err)
	}
	if freeDeadHolder(ctx, Config{Store: db, Name: "other", Logger: slog.New(slog.DiscardHandler)}) {
		t.Error("freed a lease of another host")
	}
	rctx, cancel := context.WithCancel(ctx)
	led := make(chan int64, 1)
	go Run(rctx, Config{Store: db, Name: "scheduler", TTL: time.Hour}, func(lctx context.Context) {
		l, _ := atrium.FenceFrom(lctx)
		led <- l.Generation
		<-lctx.Done()
	})
	defer cancel()
	select {
	case gen := <-led:
		if gen != 2 {
			t.Errorf("generation %d after taking over, want 2", gen)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the restarted replica waits for the dead holder's lease")
	}
}
