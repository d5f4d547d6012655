package sqlrunner

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atrium"
	"atrium/sqlstore"
)

// TestRecoverAndMissingConnection: at start-up, SQL jobs a dead server left
// Running end Failed (interrupted) and Stopping ones Stopped; other kinds
// are not touched; a queued job whose connection is gone ends Failed.
func TestRecoverAndMissingConnection(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "a.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u := &atrium.User{Name: "alice", DisplayName: "alice"}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	w := &atrium.Workspace{Name: "w", EnvTypes: []string{"prod"}, Creator: u.ID}
	if err := db.CreateWorkspace(ctx, w); err != nil {
		t.Fatal(err)
	}
	mk := func(kind, status string) *atrium.Job {
		j := &atrium.Job{WorkspaceID: w.ID, Kind: kind, DisplayName: status, JobType: "SQL", Creator: u.ID, Priority: 1,
			Spec:   atrium.JobSpec{JobType: "SQL", SQL: &atrium.SQLJobSpec{ConnectionID: "conn-gone", Script: "select 1"}},
			Status: status, Pods: []atrium.Pod{}, StatusHistory: []atrium.StatusChange{{Status: status}}}
		if kind == atrium.KindDLC {
			j.JobType, j.Spec = "CustomJob", atrium.JobSpec{JobType: "CustomJob"}
		}
		if err := db.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	running, stopping, dlc := mk(atrium.KindSQL, atrium.JobRunning), mk(atrium.KindSQL, atrium.JobStopping), mk(atrium.KindDLC, atrium.JobRunning)
	queued := mk(atrium.KindSQL, atrium.JobQueuing)

	r := New(db, nil, nil)
	r.Poll = 50 * time.Millisecond
	if err := r.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	get := func(id string) *atrium.Job {
		j, err := db.FindJobByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	if j := get(running.ID); j.Status != atrium.JobFailed || j.ReasonMessage != InterruptedMessage || j.FinishedAt == nil {
		t.Fatalf("running job after recovery: %s %q", j.Status, j.ReasonMessage)
	}
	if j := get(stopping.ID); j.Status != atrium.JobStopped {
		t.Fatalf("stopping job after recovery: %s", j.Status)
	}
	if j := get(dlc.ID); j.Status != atrium.JobRunning {
		t.Fatalf("a DLC job was touched: %s", j.Status)
	}
	evs, err := db.FindJobEvents(ctx, running.ID)
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Reason != ReasonInterrupted {
		t.Fatalf("events of the interrupted job: %v %v", evs, err)
	}

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(rctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j := get(queued.ID)
		if atrium.JobFinished(j.Status) {
			if j.Status != atrium.JobFailed || !strings.Contains(j.ReasonMessage, "conn-gone no longer exists") || j.StartedAt == nil {
				t.Fatalf("queued job ended %s: %q", j.Status, j.ReasonMessage)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queued job still %s", j.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
