package sqlstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"atrium"
	"atrium/sqlstore"
)

// crashChildEnv names the database the re-executed test binary writes to.
const crashChildEnv = "ATRIUM_CRASH_CHILD_DB"

// TestSQLiteCrashSafety kills a writing process with SIGKILL and checks that
// the database is intact and holds every write the process saw committed.
func TestSQLiteCrashSafety(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "atrium.db")
	// Create the schema first so the child starts writing at once.
	db, err := sqlstore.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	for round := range 3 {
		committed := runCrashChild(t, path, 100+round*150)
		checkAfterCrash(t, path, committed)
	}
}

// runCrashChild starts the writer, kills it after it has reported n commits,
// and returns every committed id it printed.
func runCrashChild(t *testing.T, path string, n int) map[string]string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteCrashSafety$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := map[string]string{} // id -> kind
	sc := bufio.NewScanner(out)
	killed := false
	deadline := time.After(60 * time.Second)
	lines := make(chan string)
	go func() {
		defer close(lines)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			if !ok {
				done = true
				break
			}
			if kind, id, ok := strings.Cut(strings.TrimPrefix(line, "committed "), " "); ok && strings.HasPrefix(line, "committed ") {
				committed[id] = kind
			}
			if !killed && len(committed) >= n {
				// Kill mid-stream: the child is writing as fast as it can.
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			t.Fatalf("child wrote only %d commits in 60s", len(committed))
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited by itself (%v) after %d commits", err, len(committed))
	}
	if ws, ok := err.(*exec.ExitError); !ok || ws.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", err)
	}
	return committed
}

func checkAfterCrash(t *testing.T, path string, committed map[string]string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer db.Close()
	if w, r, err := sqlstore.Pragma(ctx, db, "integrity_check"); err != nil || w != "ok" || r != "ok" {
		t.Fatalf("integrity_check = %q, %q, %v", w, r, err)
	}
	if w, _, err := sqlstore.Pragma(ctx, db, "foreign_key_check"); err != nil || w != "" {
		t.Fatalf("foreign_key_check = %q, %v", w, err)
	}
	for id, kind := range committed {
		switch kind {
		case "user":
			if _, err := db.FindUserByID(ctx, id); err != nil {
				t.Fatalf("committed user %s lost: %v", id, err)
			}
			// Its audit line committed with it.
			ls, _, err := db.FindOperationLogs(ctx, atrium.OperationLogFilter{Action: "Crash:CreateUser:" + id})
			if err != nil || len(ls) != 1 {
				t.Fatalf("audit line of user %s: %v, %v", id, dump(ls), err)
			}
		case "member":
			ws, mid, _ := strings.Cut(id, "/")
			if _, err := db.FindMemberByID(ctx, ws, mid); err != nil {
				t.Fatalf("committed member %s lost: %v", id, err)
			}
		}
	}
	t.Logf("%d committed writes survived SIGKILL", len(committed))
}

func dump(ls []*atrium.OperationLog) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%+v ", *l)
	}
	return b.String()
}

// crashChild writes users (each with its audit line) and memberships from two
// goroutines until it is killed, printing each id only after its commit.
func crashChild(path string) {
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex // one line per write, whole
	report := func(kind, id string) {
		mu.Lock()
		fmt.Printf("committed %s %s\n", kind, id)
		mu.Unlock()
	}
	owner := &atrium.User{Name: "owner-" + strings.ToLower(atrium.NewID(""))}
	if err := db.CreateUser(ctx, owner); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	w := &atrium.Workspace{Name: "ws_" + atrium.NewID(""), EnvTypes: []string{"prod"}, Creator: owner.ID}
	if err := db.CreateWorkspace(ctx, w); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				u := &atrium.User{ID: atrium.NewID(atrium.PrefixUser), DisplayName: strings.Repeat("x", 200)}
				u.Name = "u" + strings.TrimPrefix(u.ID, atrium.PrefixUser)
				a := &atrium.Audit{ActorID: owner.ID, Action: "Crash:CreateUser:" + u.ID, Status: 201}
				if err := db.CreateUser(atrium.WithAudit(ctx, a), u); err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(3)
				}
				report("user", u.ID)
				if g == 1 && i%2 == 0 {
					ms, err := db.AddMembers(ctx, w.ID, []atrium.MemberParams{{UserID: u.ID, Roles: []string{atrium.RoleWorkspaceGuest}}})
					if err != nil {
						fmt.Fprintln(os.Stderr, "child:", err)
						os.Exit(3)
					}
					report("member", w.ID+"/"+ms[0].ID)
				}
			}
		}()
	}
	wg.Wait()
}
