package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEventsCLI: 'atrium events' prints a job's life as the store wrote
// it; -o json one event per line; -f follows new events until stopped.
func TestEventsCLI(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	e.ok("workspace", "create", "team_a")
	e.ok("workspace", "use", "team_a")
	var ws atrium.Workspace
	if err := json.Unmarshal([]byte(e.ok("workspace", "get", "team_a", "-o", "json")), &ws); err != nil {
		t.Fatal(err)
	}
	j := &atrium.Job{WorkspaceID: ws.ID, Kind: atrium.KindDLC, DisplayName: "train", JobType: "PyTorchJob", Creator: "u-x",
		CreatorName: "x", QuotaID: "q", Accessibility: atrium.AccessPublic, Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted}
	if err := e.store.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	move := func(status, reason string) {
		cur, err := e.store.FindJobByID(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.UpdateJob(ctx, j.ID, cur.Version, atrium.JobUpdate{Status: &status, ReasonCode: &reason}); err != nil {
			t.Fatal(err)
		}
	}
	move(atrium.JobRunning, atrium.ReasonStarted)

	out := e.ok("events")
	contains(t, out, "TIME", "TYPE", "SUBJECT", "SUMMARY", "dlc.job.status.changed", j.ID, "- → Queuing (Submitted) by system", "Queuing → Running (Started) by system")
	if i, k := strings.Index(out, "→ Queuing"), strings.Index(out, "Queuing → Running"); i < 0 || k < i {
		t.Fatalf("not in order:\n%s", out)
	}

	out = e.ok("events", "--resource", j.ID, "-o", "json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("json lines:\n%s", out)
	}
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["subject"] != j.ID || ev["seq"] == nil {
			t.Fatalf("json line %q: %v", l, err)
		}
	}
	if out := e.ok("events", "--type", atrium.EventJobTimeout); strings.Contains(out, j.ID) {
		t.Fatalf("type filter:\n%s", out)
	}

	// -f: the past, then what happens next, until interrupted.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	root := newRootCmd()
	var buf lockedBuf
	root.SetArgs([]string{"events", "-f", "--type", atrium.EventJobStatusChanged + "," + atrium.EventJobTimeout})
	root.SetOut(&buf)
	root.SetErr(&buf)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(fctx) }()
	waitFor := func(s string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(buf.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%s", s, buf.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("Queuing → Running (Started)")
	move(atrium.JobFailed, atrium.ReasonMaxRunningTimeExceeded)
	waitFor("dlc.job.timeout")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("events -f: %v\n%s", err, buf.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events -f did not stop")
	}
	if n := strings.Count(buf.String(), "Running → Failed (MaxRunningTimeExceeded)"); n != 2 {
		t.Fatalf("want the change and the timeout once each:\n%s", buf.String())
	}
}
