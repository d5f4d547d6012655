package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"atrium"
	"atrium/secret"
	"atrium/sqlrunner"
)

// TestSQLJobsAgainstPostgres is issue 8 acceptance 3: a SQL job against
// the CI PostgreSQL creates a table and returns a result preview; a long
// query stopped by the user is cancelled in PostgreSQL (pg_stat_activity);
// a Guest and a Developer cannot submit; the password never shows.
func TestSQLJobsAgainstPostgres(t *testing.T) {
	pgURL := os.Getenv("ATRIUM_TEST_POSTGRES")
	if pgURL == "" {
		t.Skip("ATRIUM_TEST_POSTGRES is not set")
	}
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	// A role of its own with a password found nowhere else, so a leak
	// check means something.
	wh, err := pgx.Connect(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close(context.Background()) })
	role := fmt.Sprintf("atrium_sql_%d", time.Now().UnixNano())
	password := "pw-" + secret.NewToken()
	if _, err := wh.Exec(context.Background(), fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password)); err != nil {
		t.Skipf("cannot create a warehouse role: %v", err)
	}
	t.Cleanup(func() {
		_, _ = wh.Exec(context.Background(), "DROP OWNED BY "+role)
		_, _ = wh.Exec(context.Background(), "DROP ROLE "+role)
	})
	if _, err := wh.Exec(context.Background(), "GRANT CREATE ON SCHEMA public TO "+role); err != nil {
		t.Fatal(err)
	}
	noPW := *u
	noPW.User = url.User(role)

	f := setup(t)
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	f.api.Secrets = box
	runner := sqlrunner.New(f.store, box, slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	runner.Poll = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); runner.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	f.api.SQL = runner

	var bodies []string
	call := func(token, method, path string, body any) response {
		r := f.do(t, token, method, path, body)
		bodies = append(bodies, string(r.body))
		return r
	}
	_, ra := f.user(t, "root", atrium.RoleResourceAdmin)
	admin, adminTok := f.user(t, "wadmin")
	mc, mcTok := f.user(t, "mcdev")
	guest, guestTok := f.user(t, "guest")
	dev, devTok := f.user(t, "algodev")
	var w atrium.Workspace
	call(ra, "POST", "/api/v1/workspaces", map[string]any{"name": "warehouse", "envTypes": []string{"prod"}}).decode(t, &w)
	if r := call(ra, "POST", "/api/v1/workspaces/"+w.ID+"/members", map[string]any{"members": []map[string]any{
		{"userId": admin.ID, "roles": []string{atrium.RoleWorkspaceAdmin}},
		{"userId": mc.ID, "roles": []string{atrium.RoleMaxComputeDeveloper}},
		{"userId": guest.ID, "roles": []string{atrium.RoleWorkspaceGuest}},
		{"userId": dev.ID, "roles": []string{atrium.RoleAlgoDeveloper}},
	}}); r.status >= 300 {
		t.Fatalf("add members: %d %s", r.status, r.body)
	}
	base := "/api/v1/workspaces/" + w.ID
	r := call(adminTok, "POST", base+"/connections", map[string]any{"name": "ci", "url": noPW.String(), "password": password})
	if r.status != 201 {
		t.Fatalf("create connection: %d %s", r.status, r.body)
	}
	var conn ConnectionView
	r.decode(t, &conn)
	if !conn.HasPassword || !strings.HasPrefix(conn.ConnectionID, "conn-") {
		t.Fatalf("connection: %+v", conn)
	}
	if r := call(adminTok, "POST", base+"/connections", map[string]any{"name": "bad", "url": pgURL}); r.status != 400 {
		t.Fatalf("a URL with a password: %d %s, want 400", r.status, r.body)
	}

	submit := func(tok, sql string) response {
		return call(tok, "POST", base+"/sql-jobs", map[string]any{"displayName": "q", "connectionId": conn.ConnectionID, "sql": sql})
	}
	for name, tok := range map[string]string{"guest": guestTok, "developer": devTok} {
		r := submit(tok, "SELECT 1")
		if r.status != 403 || r.problem(t).Permission != "MaxCompute:CreateSQLJob" {
			t.Fatalf("%s submits: %d %s, want 403 naming MaxCompute:CreateSQLJob", name, r.status, r.body)
		}
	}
	wait := func(id string, until func(*atrium.Job) bool, what string) *atrium.Job {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var j atrium.Job
			r := call(mcTok, "GET", base+"/sql-jobs/"+id, nil)
			if r.status != 200 {
				t.Fatalf("get %s: %d %s", id, r.status, r.body)
			}
			r.decode(t, &j)
			if until(&j) {
				return &j
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: job %s still %s (%s)", what, id, j.Status, j.ReasonMessage)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	finished := func(j *atrium.Job) bool { return atrium.JobFinished(j.Status) }

	// 1. Create a table, insert, select: Succeeded with a preview.
	table := fmt.Sprintf("atrium_sqljob_%d", time.Now().UnixNano())
	var j atrium.Job
	r = submit(mcTok, fmt.Sprintf(`CREATE TABLE %[1]s (id int, name text);
INSERT INTO %[1]s VALUES (1, 'a'), (2, 'b'), (3, NULL);
SELECT id, name FROM %[1]s ORDER BY id;
DROP TABLE %[1]s;`, table))
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	r.decode(t, &j)
	if !strings.HasPrefix(j.ID, "sql-") || j.Kind != atrium.KindSQL || j.Status != atrium.JobQueuing {
		t.Fatalf("submitted job: %s %s %s", j.ID, j.Kind, j.Status)
	}
	got := wait(j.ID, finished, "table job")
	if got.Status != atrium.JobSucceeded {
		t.Fatalf("table job ended %s: %s", got.Status, got.ReasonMessage)
	}
	res := got.Spec.SQL.Result
	if res == nil || res.RowsAffected != 3 || strings.Join(res.Columns, ",") != "id,name" || len(res.Rows) != 3 ||
		strings.Join(res.Rows[1], ",") != "2,b" {
		t.Fatalf("result: %+v", res)
	}

	// Its status changes are events the submitter may read.
	var evs List[*atrium.Event]
	call(mcTok, "GET", base+"/events", nil).decode(t, &evs)
	seen := 0
	for _, e := range evs.Items {
		if strings.HasSuffix(e.Source, "/sql-jobs/"+got.ID) && e.Type == atrium.EventJobStatusChanged {
			seen++
		}
	}
	if seen == 0 {
		t.Fatalf("no status events of %s among %d events", got.ID, len(evs.Items))
	}

	// 2. A long query stopped by the user is cancelled in PostgreSQL.
	marker := fmt.Sprintf("atrium_stop_%d", time.Now().UnixNano())
	r = submit(mcTok, "SELECT pg_sleep(60) /* "+marker+" */")
	if r.status != 201 {
		t.Fatalf("submit sleep: %d %s", r.status, r.body)
	}
	r.decode(t, &j)
	wait(j.ID, func(j *atrium.Job) bool { return j.Status != atrium.JobQueuing }, "sleep job start")
	active := func() int {
		var n int
		if err := wh.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'`, marker).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for active() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sleep query never showed up active in pg_stat_activity")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := call(mcTok, "POST", base+"/sql-jobs/"+j.ID+"/stop", nil); r.status != 200 {
		t.Fatalf("stop: %d %s", r.status, r.body)
	}
	got = wait(j.ID, finished, "sleep job stop")
	if got.Status != atrium.JobStopped {
		t.Fatalf("sleep job ended %s: %s", got.Status, got.ReasonMessage)
	}
	deadline = time.Now().Add(30 * time.Second)
	for active() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stopped query is still active in pg_stat_activity")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A changed password is sealed again; a bad one makes jobs fail with
	// PostgreSQL's error, never the password.
	if r := call(adminTok, "PUT", base+"/connections/"+conn.ConnectionID, map[string]any{"password": password + "-wrong"}); r.status != 200 {
		t.Fatalf("update connection: %d %s", r.status, r.body)
	}
	r = submit(mcTok, "SELECT 1")
	r.decode(t, &j)
	if got := wait(j.ID, finished, "wrong password job"); got.Status != atrium.JobFailed || got.ReasonMessage == "" {
		t.Fatalf("job with a wrong password ended %s: %q", got.Status, got.ReasonMessage)
	}

	// Reads never carry the password.
	call(mcTok, "GET", base+"/connections", nil)
	call(mcTok, "GET", base+"/connections/"+conn.ConnectionID, nil)
	call(mcTok, "GET", base+"/sql-jobs", nil)
	call(mcTok, "GET", base+"/sql-jobs/"+j.ID+"/events", nil)
	for _, b := range append(bodies, f.logs.String()) {
		if strings.Contains(b, password) {
			t.Fatalf("the warehouse password leaked: %s", b)
		}
	}
}
