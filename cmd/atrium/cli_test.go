package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"atrium"
	"atrium/httpapi"
	"atrium/secret"
	"atrium/sqlstore"
)

// testEnv is an API server over a fresh SQLite store, a bootstrap admin
// whose token is in tokenFile, and ATRIUM_CONFIG pointing into a temp dir.
type testEnv struct {
	t         *testing.T
	url       string
	token     string
	tokenFile string
	cfgPath   string
	store     *sqlstore.DB
	api       *httpapi.Server
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tok := secret.NewToken()
	if ok, err := store.BootstrapAdmin(ctx, &atrium.User{Name: "admin", PlatformRoles: []string{atrium.RoleResourceAdmin}},
		&atrium.Token{Name: "t", Hash: secret.HashToken(tok)}); err != nil || !ok {
		t.Fatalf("BootstrapAdmin = %v, %v", ok, err)
	}
	api := httpapi.NewServer(store, nil)
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	e := &testEnv{t: t, url: ts.URL, token: tok, tokenFile: filepath.Join(dir, "admin.token"),
		cfgPath: filepath.Join(dir, "cfg", "atrium", "config.json"), store: store, api: api}
	if err := os.WriteFile(e.tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ATRIUM_CONFIG", e.cfgPath)
	for _, v := range []string{"ATRIUM_SERVER", "ATRIUM_TOKEN", "ATRIUM_WORKSPACE"} {
		t.Setenv(v, "")
	}
	return e
}

// run executes the CLI in-process with stdin and returns stdout, stderr
// and the error Execute returned.
func (e *testEnv) run(stdin string, args ...string) (string, string, error) {
	e.t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// ok runs the CLI and fails the test unless it succeeds.
func (e *testEnv) ok(args ...string) string {
	e.t.Helper()
	out, errOut, err := e.run("", args...)
	if err != nil {
		e.t.Fatalf("atrium %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// fails runs the CLI, wants exit status 1 and returns stderr.
func (e *testEnv) fails(stdin string, args ...string) string {
	e.t.Helper()
	out, errOut, err := e.run(stdin, args...)
	var ee exitError
	if !errors.As(err, &ee) || ee != 1 {
		e.t.Fatalf("atrium %s: err = %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return errOut
}

func (e *testEnv) config() *clientConfig {
	e.t.Helper()
	cfg, err := loadConfig(e.cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

func contains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("output lacks %q:\n%s", sub, s)
		}
	}
}

func TestLoginTokenFile(t *testing.T) {
	e := newTestEnv(t)
	// Not logged in yet: a clear error pointing at login.
	errOut := e.fails("", "whoami", "--server", e.url)
	contains(t, errOut, "not logged in", "atrium login")

	out := e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	if want := "Logged in to " + e.url + " as admin\n"; out != want {
		t.Fatalf("login printed %q, want %q", out, want)
	}
	fi, err := os.Stat(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode = %v, want 0600", fi.Mode().Perm())
	}
	if di, err := os.Stat(filepath.Dir(e.cfgPath)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode = %v (%v), want 0700", di.Mode().Perm(), err)
	}
	cfg := e.config()
	if cfg.Server != e.url || cfg.Token != e.token || cfg.TokenID != "" {
		t.Fatalf("config = %+v", cfg)
	}
	// The saved server and token are used from now on.
	contains(t, e.ok("whoami"), "admin", "ResourceAdmin", e.url, "process (not isolated: Jobs on this server are not isolated")

	// A bad token file is refused and not saved.
	bad := filepath.Join(t.TempDir(), "bad.token")
	os.WriteFile(bad, []byte("atr_nope\n"), 0o600)
	errOut = e.fails("", "login", "--token-file", bad)
	contains(t, errOut, "401", "Unauthenticated", "atrium login")
	if e.config().Token != e.token {
		t.Error("a rejected token replaced the saved one")
	}

	// Logout forgets a --token-file token but does not revoke it.
	contains(t, e.ok("logout"), "Logged out")
	if cfg := e.config(); cfg.Token != "" || cfg.Server != e.url {
		t.Fatalf("after logout config = %+v", cfg)
	}
	contains(t, e.ok("whoami", "--token", e.token), "admin")
}

func TestLoginPassword(t *testing.T) {
	e := newTestEnv(t)
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	out, errOut, err := e.run("alice password\n", "user", "create", "alice", "--password-stdin", "--email", "alice@example.com")
	if err != nil {
		t.Fatalf("user create: %v\n%s", err, errOut)
	}
	contains(t, out, "Created user alice (u-")

	// Alice logs in with her own config file.
	t.Setenv("ATRIUM_CONFIG", filepath.Join(t.TempDir(), "alice.json"))
	errOut = e.fails("wrong password\n", "login", "--server", e.url, "--user", "alice", "--password-stdin")
	contains(t, errOut, "401 Unauthenticated", "invalid user name or password")
	errOut = e.fails("", "login", "--server", e.url, "--user", "alice")
	contains(t, errOut, "not a terminal", "--password-stdin")

	out, errOut, err = e.run("alice password\n", "login", "--server", e.url, "--user", "alice", "--password-stdin", "--expires-in", "24h")
	if err != nil {
		t.Fatalf("login: %v\n%s", err, errOut)
	}
	if want := "Logged in to " + e.url + " as alice\n"; out != want {
		t.Fatalf("login printed %q", out)
	}
	cfg, _ := loadConfig(os.Getenv("ATRIUM_CONFIG"))
	if cfg.User != "alice" || cfg.TokenID == "" || !strings.HasPrefix(cfg.Token, "atr_") {
		t.Fatalf("config = %+v", cfg)
	}
	contains(t, e.ok("whoami"), "alice", "alice@example.com")
	list := e.ok("token", "list")
	contains(t, list, "ID", "NAME", "STATUS", cfg.TokenID+" *", "atrium-cli", "active")

	// Logout revokes the minted token on the server.
	e.ok("logout")
	_, err = (&httpapi.Client{BaseURL: e.url, Token: cfg.Token}).GetUser(context.Background(), "me")
	if !httpapi.IsProblem(err, atrium.EUNAUTHENTICATED) {
		t.Fatalf("revoked token still works: %v", err)
	}
}

func TestWorkspacesAndMembers(t *testing.T) {
	e := newTestEnv(t)
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)

	// No workspace yet: member commands say how to choose one.
	contains(t, e.fails("", "member", "list"), "no workspace selected", "atrium workspace use")

	contains(t, e.ok("workspace", "create", "team_a", "--description", "first team"), "Created workspace team_a (ws-")
	var created atrium.Workspace
	if err := json.Unmarshal([]byte(e.ok("workspace", "create", "team_b", "--env-types", "dev,prod", "-o", "json")), &created); err != nil {
		t.Fatal(err)
	}
	if created.Name != "team_b" || strings.Join(created.EnvTypes, ",") != "dev,prod" {
		t.Fatalf("created = %+v", created)
	}
	contains(t, e.fails("", "workspace", "create", "team_c", "--env-types", "test"), "400", "envTypes")

	table := e.ok("workspace", "list")
	contains(t, table, "ID", "NAME", "DISPLAY NAME", "ENV TYPES", "team_a", "team_b", "dev,prod")
	var l httpapi.List[*atrium.Workspace]
	if err := json.Unmarshal([]byte(e.ok("workspace", "list", "-o", "json", "--sort-by", "createdAt", "--order", "desc")), &l); err != nil {
		t.Fatal(err)
	}
	if l.TotalCount != 2 || len(l.Items) != 2 || l.Items[0].Name != "team_b" {
		t.Fatalf("json list = %+v", l)
	}
	// --page-size: one page, and how to get the next.
	out, errOut, err := e.run("", "workspace", "list", "--page-size", "1")
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Fatalf("paged list: %v\n%s", err, out)
	}
	contains(t, errOut, "--page-token")
	var y map[string]any
	if err := yaml.Unmarshal([]byte(e.ok("workspace", "list", "-o", "yaml", "--name", "_a")), &y); err != nil {
		t.Fatal(err)
	}
	if y["totalCount"] != float64(1) {
		t.Fatalf("yaml list = %v", y)
	}

	contains(t, e.ok("workspace", "get", "team_a"), "first team", "ENABLED")
	contains(t, e.ok("workspace", "get", created.ID), "team_b")
	contains(t, e.fails("", "workspace", "get", "nosuch"), `no workspace named "nosuch"`)
	contains(t, e.ok("workspace", "update", "team_a", "--display-name", "Team A"), "Team A", "first team")

	// use: server-side default and config.
	contains(t, e.ok("workspace", "use", "team_a"), "Now using workspace team_a (ws-")
	cfg := e.config()
	if !workspaceIDRE.MatchString(cfg.Workspace) {
		t.Fatalf("config workspace = %q", cfg.Workspace)
	}
	d, err := (&httpapi.Client{BaseURL: e.url, Token: e.token}).GetDefaultWorkspace(context.Background())
	if err != nil || d.WorkspaceID != cfg.Workspace {
		t.Fatalf("server default = %+v, %v", d, err)
	}
	contains(t, e.ok("workspace", "list"), cfg.Workspace+" *")
	contains(t, e.ok("workspace", "get"), "Team A")

	// Members of the workspace in use.
	for _, name := range []string{"alice", "bob"} {
		if _, errOut, err := e.run(name+" password\n", "user", "create", name, "--password-stdin"); err != nil {
			t.Fatalf("user create %s: %v\n%s", name, err, errOut)
		}
	}
	contains(t, e.ok("member", "add", "alice", "--role", "AlgoDeveloper"), "alice", "AlgoDeveloper")
	contains(t, e.fails("", "member", "add", "carol", "--role", "AlgoDeveloper"), `no user is named "carol"`, "members[0].userName")
	contains(t, e.fails("", "member", "add", "bob"), "--role is required")
	list := e.ok("member", "list")
	contains(t, list, "ID", "USER", "ROLES", "admin", "WorkspaceOwner", "alice", "AlgoDeveloper")
	contains(t, e.ok("member", "add-role", "alice", "AlgoOperator"), "AlgoDeveloper,AlgoOperator")
	var ms httpapi.List[*atrium.Member]
	if err := json.Unmarshal([]byte(e.ok("member", "list", "--role", "AlgoOperator", "-o", "json")), &ms); err != nil {
		t.Fatal(err)
	}
	if ms.TotalCount != 1 || ms.Items[0].UserName != "alice" {
		t.Fatalf("operators = %+v", ms)
	}
	contains(t, e.ok("member", "remove-role", ms.Items[0].ID, "AlgoOperator"), "alice")
	contains(t, e.fails("", "member", "remove-role", "alice", "AlgoDeveloper"), "409", "Conflict")

	// alice, a developer, is denied adding bob: 403 with the permission code.
	aliceTok, err := (&httpapi.Client{BaseURL: e.url}).CreateTokenWithPassword(context.Background(), "alice", "alice password", httpapi.CreateTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e.store.FindUserByName(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	errOut = e.fails("", "member", "add", bob.ID, "--role", "WorkspaceGuest", "--token", aliceTok.Token, "-w", "team_a")
	contains(t, errOut, "403 Forbidden", "Workspace:CreateMember", "code Forbidden", "atrium permissions --module Workspace")
	// By name it is the same denial.
	contains(t, e.fails("", "member", "add", "bob", "--role", "WorkspaceGuest", "--token", aliceTok.Token, "-w", "team_a"),
		"403 Forbidden", "Workspace:CreateMember")
	contains(t, e.ok("oplog", "list", "--result", "Denied", "--actor", "alice"), "Workspace:CreateMember", "Denied", "403")

	contains(t, e.ok("oplog", "list", "--platform", "--action", "Workspace:CreateWorkspace", "--actor", "admin"),
		"WORKSPACE", "Workspace:CreateWorkspace", "Succeeded", "admin")
	contains(t, e.fails("", "oplog", "list", "--platform", "--token", aliceTok.Token), "403", "OperationLog:ListPlatformOperationLogs")

	contains(t, e.ok("member", "remove", "alice"), "Removed member alice")
	if strings.Contains(e.ok("member", "list"), "alice") {
		t.Error("alice still listed after remove")
	}

	// Roles and the permission table.
	contains(t, e.ok("role", "create", "Auditor", "--permission", "Workspace:ListOperationLogs"), "Auditor", "Workspace:ListOperationLogs")
	contains(t, e.ok("role", "update", "Auditor", "--add-permission", "Workspace:ListMembers", "--description", "reads"),
		"Workspace:ListMembers", "reads")
	contains(t, e.ok("role", "list"), "NAME", "TYPE", "WorkspaceOwner", "built-in", "Auditor", "custom")
	contains(t, e.ok("role", "delete", "Auditor"), "Deleted role Auditor")
	perms := e.ok("permissions", "--module", "workspace")
	contains(t, perms, "CODE", "LEVEL", "GRANTS", "Workspace:CreateMember", "Owner Admin")
	if strings.Contains(perms, "Dataset:") {
		t.Error("--module did not filter")
	}

	// Delete: confirmation needed without a terminal; the config forgets it.
	contains(t, e.fails("", "workspace", "delete", "team_a"), "--yes")
	contains(t, e.ok("workspace", "delete", "team_a", "--yes"), "Deleted workspace team_a")
	if e.config().Workspace != "" {
		t.Error("config still names the deleted workspace")
	}
	contains(t, e.fails("", "workspace", "get", "team_a"), "no workspace named")
}

func TestPrecedence(t *testing.T) {
	e := newTestEnv(t)
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	e.ok("workspace", "create", "from_config")
	e.ok("workspace", "create", "from_env")
	e.ok("workspace", "create", "from_flag")
	e.ok("workspace", "use", "from_config")
	dead := "http://127.0.0.1:1"

	// Server: flag > env > config. (The saved token is only sent to the
	// saved server, so the others get --token.)
	t.Setenv("ATRIUM_SERVER", dead)
	contains(t, e.fails("", "whoami", "--token", e.token), "cannot reach the Atrium server at "+dead)
	contains(t, e.ok("whoami", "--server", e.url), "admin")
	t.Setenv("ATRIUM_SERVER", "")
	contains(t, e.fails("", "whoami", "--server", dead, "--token", e.token), "cannot reach")
	contains(t, e.ok("whoami"), "admin")

	// Token: flag > env > config.
	t.Setenv("ATRIUM_TOKEN", "atr_invalid")
	contains(t, e.fails("", "whoami"), "401", "atrium login")
	contains(t, e.ok("whoami", "--token", e.token), "admin")
	t.Setenv("ATRIUM_TOKEN", "")
	contains(t, e.fails("", "whoami", "--token", "atr_invalid"), "401")

	// Workspace: flag > env > config > server default.
	contains(t, e.ok("workspace", "get"), "from_config")
	t.Setenv("ATRIUM_WORKSPACE", "from_env")
	contains(t, e.ok("workspace", "get"), "from_env")
	contains(t, e.ok("workspace", "get", "-w", "from_flag"), "from_flag")
	contains(t, e.ok("member", "list", "--workspace", "from_flag", "-o", "json"), `"totalCount": 1`)
	t.Setenv("ATRIUM_WORKSPACE", "")
	cfg := e.config()
	cfg.Workspace = ""
	if err := saveConfig(e.cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	contains(t, e.ok("workspace", "get"), "from_config") // the server-side default set by 'use'

	// A token saved for one server is not sent to another.
	cfg.Server = dead
	saveConfig(e.cfgPath, cfg)
	contains(t, e.fails("", "whoami", "--server", e.url), "not logged in")

	// Bad output format.
	contains(t, e.fails("", "whoami", "-o", "xml"), "--output")
}

func TestCompletionAndHelp(t *testing.T) {
	e := newTestEnv(t)
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := e.ok("completion", sh); !strings.Contains(out, "atrium") {
			t.Errorf("completion %s: %q…", sh, out[:min(len(out), 80)])
		}
	}
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.Name() == "serve" || c.Name() == "migrate" {
			continue
		}
		if c.Short == "" || c.Long == "" {
			t.Errorf("%s lacks help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			if sub.Short == "" || sub.Long == "" || sub.Example == "" {
				t.Errorf("%s lacks Short, Long or Example", sub.CommandPath())
			}
		}
	}
	contains(t, e.ok("workspace", "--help"), "--server", "--token", "--workspace", "--output")
}
