package main

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"atrium"
	"atrium/httpapi"
	"atrium/secret"
	"atrium/sqlrunner"
	"atrium/sqlstore"
)

// TestSQLCLI: connection create|list|get|delete and sql run --wait|list|get
// against the CI PostgreSQL (ATRIUM_TEST_POSTGRES).
func TestSQLCLI(t *testing.T) {
	pgURL := os.Getenv("ATRIUM_TEST_POSTGRES")
	if pgURL == "" {
		t.Skip("ATRIUM_TEST_POSTGRES is not set")
	}
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	noPW := *u
	noPW.User = url.User(u.User.Username())

	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, filepath.Join(dir, "a.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	tok := secret.NewToken()
	if ok, err := store.BootstrapAdmin(ctx, &atrium.User{Name: "admin", PlatformRoles: []string{atrium.RoleResourceAdmin}},
		&atrium.Token{Name: "t", Hash: secret.HashToken(tok)}); err != nil || !ok {
		t.Fatalf("BootstrapAdmin = %v, %v", ok, err)
	}
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	runner := sqlrunner.New(store, box, nil)
	runner.Poll = 100 * time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); runner.Run(rctx) }()
	api := httpapi.NewServer(store, nil)
	api.Secrets, api.SQL = box, runner
	ts := httptest.NewServer(api)
	t.Cleanup(func() { cancel(); <-done; ts.Close(); store.Close() })

	e := &testEnv{t: t, url: ts.URL, token: tok, tokenFile: filepath.Join(dir, "admin.token"),
		cfgPath: filepath.Join(dir, "cfg", "atrium", "config.json"), store: store}
	if err := os.WriteFile(e.tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ATRIUM_CONFIG", e.cfgPath)
	for _, v := range []string{"ATRIUM_SERVER", "ATRIUM_TOKEN", "ATRIUM_WORKSPACE"} {
		t.Setenv(v, "")
	}
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	e.ok("workspace", "create", "team_sql")
	e.ok("workspace", "use", "team_sql")

	out, errOut, err := e.run(password+"\n", "connection", "create", "--name", "ci", "--url", noPW.String(), "--password-stdin")
	if err != nil {
		t.Fatalf("connection create: %v\n%s", err, errOut)
	}
	contains(t, out, "password set: true")
	conn := regexp.MustCompile(`conn-[a-z0-9]+`).FindString(out)
	contains(t, e.ok("connection", "list"), conn, "ci")
	contains(t, e.ok("connection", "get", conn), conn, noPW.String())

	file := filepath.Join(dir, "query.sql")
	if err := os.WriteFile(file, []byte("SELECT 41 + 1 AS answer, 'x' AS word"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = e.ok("sql", "run", "--connection", conn, "-f", file, "--wait", "--timeout", "1m")
	contains(t, out, "Succeeded", "answer", "42")
	id := regexp.MustCompile(`sql-[a-z0-9]+`).FindString(out)
	contains(t, e.ok("sql", "list"), id, "Succeeded")
	contains(t, e.ok("sql", "get", id), "42")
	contains(t, e.fails("", "sql", "stop", id), "already ended")
	contains(t, e.fails("", "sql", "run", "-f", file), "--connection")

	// The shipped example creates a table and returns a preview.
	out = e.ok("sql", "run", "--connection", conn, "-f", sqlExamples+"create-and-select.sql", "--wait")
	contains(t, out, "Succeeded", "alpha", "gamma")
	if out, errOut, err := e.run("DROP TABLE atrium_example", "sql", "run", "--connection", conn, "-f", "-", "--wait"); err != nil {
		t.Fatalf("sql run -f -: %v\n%s%s", err, out, errOut)
	}

	e.ok("connection", "delete", conn)
	contains(t, e.fails("", "connection", "get", conn), "not found")
}
