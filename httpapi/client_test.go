package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"atrium"
	"atrium/httpapi"
	"atrium/secret"
	"atrium/sqlstore"
)

// newTestServer starts the API over a fresh SQLite store and returns a
// client authenticated as the bootstrap admin (ResourceAdmin).
func newTestServer(t *testing.T) (*httptest.Server, *httpapi.Client) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tok := secret.NewToken()
	if ok, err := store.BootstrapAdmin(ctx, &atrium.User{Name: "admin", PlatformRoles: []string{atrium.RoleResourceAdmin}},
		&atrium.Token{Name: "t", Hash: secret.HashToken(tok)}); err != nil || !ok {
		t.Fatalf("BootstrapAdmin = %v, %v", ok, err)
	}
	ts := httptest.NewServer(httpapi.NewServer(store, nil))
	t.Cleanup(ts.Close)
	return ts, &httpapi.Client{BaseURL: ts.URL, Token: tok, HTTP: ts.Client()}
}

func wantProblem(t *testing.T, err error, status int, code string) *httpapi.ProblemError {
	t.Helper()
	var pe *httpapi.ProblemError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want *ProblemError %d %s", err, err, status, code)
	}
	if pe.Status != status || pe.Code != code {
		t.Fatalf("problem = %d %s (%s), want %d %s", pe.Status, pe.Code, pe.Detail, status, code)
	}
	if pe.RequestID == "" {
		t.Errorf("problem %v has no request id", pe)
	}
	return pe
}

// must returns v, panicking on err: a failed call in these tests means
// everything after it is moot, and the panic names the line.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestClientIdentity(t *testing.T) {
	ctx := context.Background()
	ts, admin := newTestServer(t)

	me := must(admin.GetUser(ctx, "me"))
	if me.Name != "admin" || !me.IsResourceAdmin() {
		t.Fatalf("me = %+v", me)
	}

	alice := must(admin.CreateUser(ctx, httpapi.CreateUserRequest{Name: "alice", Password: "correct horse", Email: "alice@example.com"}))
	if alice.ID == "" || alice.DisplayName != "alice" {
		t.Fatalf("created %+v", alice)
	}
	_, err := admin.CreateUser(ctx, httpapi.CreateUserRequest{Name: "bob", Password: "short"})
	if pe := wantProblem(t, err, 400, atrium.EINVALID); pe.Field != "password" {
		t.Errorf("field = %q, want password", pe.Field)
	}

	anon := &httpapi.Client{BaseURL: ts.URL, HTTP: ts.Client()}
	_, err = anon.CreateTokenWithPassword(ctx, "alice", "wrong password", httpapi.CreateTokenRequest{})
	wantProblem(t, err, 401, atrium.EUNAUTHENTICATED)
	_, err = anon.ListTokens(ctx)
	wantProblem(t, err, 401, atrium.EUNAUTHENTICATED)

	created := must(anon.CreateTokenWithPassword(ctx, "alice", "correct horse", httpapi.CreateTokenRequest{Name: "cli", ExpiresIn: "24h"}))
	if created.Token == "" || created.ID == "" || created.ExpiresAt == nil || created.UserID != alice.ID {
		t.Fatalf("created token %+v", created)
	}
	ac := &httpapi.Client{BaseURL: ts.URL + "/", Token: created.Token, HTTP: ts.Client()} // trailing slash is fine
	if got := must(ac.GetUser(ctx, "me")); got.ID != alice.ID {
		t.Fatalf("alice me = %+v", got)
	}
	// A token can mint another.
	second := must(ac.CreateToken(ctx, httpapi.CreateTokenRequest{Name: "second"}))
	toks := must(ac.ListTokens(ctx))
	if toks.TotalCount != 2 || len(toks.Items) != 2 {
		t.Fatalf("tokens = %+v", toks)
	}
	revoked := must(ac.RevokeToken(ctx, second.ID))
	if revoked.RevokedAt == nil {
		t.Fatalf("revoked = %+v", revoked)
	}
	_, err = (&httpapi.Client{BaseURL: ts.URL, Token: second.Token, HTTP: ts.Client()}).GetUser(ctx, "me")
	wantProblem(t, err, 401, atrium.EUNAUTHENTICATED)

	// Users: ResourceAdmin only.
	_, err = ac.ListUsers(ctx, httpapi.ListUsersOptions{})
	if pe := wantProblem(t, err, 403, atrium.EFORBIDDEN); pe.Permission != "User:ListUsers" {
		t.Errorf("permission = %q", pe.Permission)
	} else if s := pe.Error(); !strings.HasPrefix(s, "403 Forbidden: ") || !strings.Contains(s, "User:ListUsers") {
		t.Errorf("Error() = %q", s)
	}
	_, err = ac.GetUser(ctx, me.ID)
	wantProblem(t, err, 404, atrium.ENOTFOUND)

	must(admin.CreateUser(ctx, httpapi.CreateUserRequest{Name: "bob", Password: "bob's password"}))
	page1 := must(admin.ListUsers(ctx, httpapi.ListUsersOptions{PageOptions: httpapi.PageOptions{PageSize: 2}}))
	if page1.TotalCount != 3 || len(page1.Items) != 2 || page1.NextPageToken == "" {
		t.Fatalf("page 1 = %+v", page1)
	}
	page2 := must(admin.ListUsers(ctx, httpapi.ListUsersOptions{PageOptions: httpapi.PageOptions{PageSize: 2, PageToken: page1.NextPageToken}}))
	if len(page2.Items) != 1 || page2.NextPageToken != "" || page2.Items[0].Name != "bob" {
		t.Fatalf("page 2 = %+v", page2)
	}
	if l := must(admin.ListUsers(ctx, httpapi.ListUsersOptions{Name: "ALI"})); len(l.Items) != 1 || l.Items[0].ID != alice.ID {
		t.Fatalf("name filter = %+v", l)
	}

	dn, disabled := "Alice A.", true
	upd := must(admin.UpdateUser(ctx, alice.ID, httpapi.UpdateUserRequest{DisplayName: &dn}))
	if upd.DisplayName != dn || upd.Email != "alice@example.com" {
		t.Fatalf("updated = %+v", upd)
	}
	must(admin.UpdateUser(ctx, alice.ID, httpapi.UpdateUserRequest{Disabled: &disabled}))
	_, err = ac.GetUser(ctx, "me")
	wantProblem(t, err, 401, atrium.EUNAUTHENTICATED)

	perms := must(admin.ListPermissions(ctx))
	i := slices.IndexFunc(perms.Items, func(p httpapi.PermissionInfo) bool { return p.Code == "Workspace:CreateMember" })
	if i < 0 || perms.Items[i].Grants[atrium.RoleWorkspaceAdmin] != "All" || perms.Items[i].Level == "" {
		t.Fatalf("permissions lack Workspace:CreateMember for WorkspaceAdmin: %+v", perms.Items)
	}
}

func TestClientWorkspaces(t *testing.T) {
	ctx := context.Background()
	ts, admin := newTestServer(t)
	alice := must(admin.CreateUser(ctx, httpapi.CreateUserRequest{Name: "alice", Password: "alice password"}))
	bob := must(admin.CreateUser(ctx, httpapi.CreateUserRequest{Name: "bob", Password: "bob password"}))
	anon := &httpapi.Client{BaseURL: ts.URL, HTTP: ts.Client()}
	at := must(anon.CreateTokenWithPassword(ctx, "alice", "alice password", httpapi.CreateTokenRequest{}))
	ac := &httpapi.Client{BaseURL: ts.URL, Token: at.Token, HTTP: ts.Client()}

	ws := must(admin.CreateWorkspace(ctx, httpapi.CreateWorkspaceRequest{Name: "team_a", Description: "first", EnvTypes: []string{"prod"}}))
	if !strings.HasPrefix(ws.ID, "ws-") || ws.DisplayName != "team_a" {
		t.Fatalf("workspace = %+v", ws)
	}
	must(admin.CreateWorkspace(ctx, httpapi.CreateWorkspaceRequest{Name: "team_b", EnvTypes: []string{"dev", "prod"}}))
	_, err := admin.CreateWorkspace(ctx, httpapi.CreateWorkspaceRequest{Name: "team_c", EnvTypes: []string{"test"}})
	wantProblem(t, err, 400, atrium.EINVALID)
	_, err = ac.CreateWorkspace(ctx, httpapi.CreateWorkspaceRequest{Name: "team_c", EnvTypes: []string{"prod"}})
	wantProblem(t, err, 403, atrium.EFORBIDDEN)

	l := must(admin.ListWorkspaces(ctx, httpapi.ListWorkspacesOptions{SortBy: "name", Order: "desc"}))
	if l.TotalCount != 2 || l.Items[0].Name != "team_b" {
		t.Fatalf("list = %+v", l)
	}
	l = must(admin.ListWorkspaces(ctx, httpapi.ListWorkspacesOptions{Name: "_a", PageOptions: httpapi.PageOptions{PageSize: 1}}))
	if l.TotalCount != 1 || l.Items[0].ID != ws.ID || l.NextPageToken != "" {
		t.Fatalf("filtered list = %+v", l)
	}
	if l := must(ac.ListWorkspaces(ctx, httpapi.ListWorkspacesOptions{})); l.TotalCount != 0 {
		t.Fatalf("alice sees %+v before joining", l)
	}
	_, err = ac.GetWorkspace(ctx, ws.ID)
	wantProblem(t, err, 404, atrium.ENOTFOUND)

	desc := "changed"
	if got := must(admin.UpdateWorkspace(ctx, ws.ID, httpapi.UpdateWorkspaceRequest{Description: &desc})); got.Description != desc || got.Name != "team_a" {
		t.Fatalf("updated = %+v", got)
	}

	// Members.
	added := must(admin.AddMembers(ctx, ws.ID, atrium.MemberParams{UserID: alice.ID, Roles: []string{atrium.RoleAlgoDeveloper}}))
	if len(added.Members) != 1 || added.Members[0].UserName != "alice" {
		t.Fatalf("added = %+v", added)
	}
	am := added.Members[0]
	_, err = ac.AddMembers(ctx, ws.ID, atrium.MemberParams{UserID: bob.ID, Roles: []string{atrium.RoleWorkspaceGuest}})
	pe := wantProblem(t, err, 403, atrium.EFORBIDDEN)
	if pe.Permission != "Workspace:CreateMember" || !strings.Contains(pe.Error(), "Workspace:CreateMember") {
		t.Fatalf("denial = %+v", pe)
	}
	if got := must(ac.GetWorkspace(ctx, ws.ID)); got.ID != ws.ID {
		t.Fatalf("alice get = %+v", got)
	}
	ms := must(ac.ListMembers(ctx, ws.ID, httpapi.ListMembersOptions{Role: atrium.RoleAlgoDeveloper}))
	if ms.TotalCount != 1 || ms.Items[0].ID != am.ID {
		t.Fatalf("developers = %+v", ms)
	}
	if ms := must(ac.ListMembers(ctx, ws.ID, httpapi.ListMembersOptions{Name: "adm"})); ms.TotalCount != 1 || ms.Items[0].UserName != "admin" {
		t.Fatalf("name filter = %+v", ms)
	}
	if got := must(ac.GetMember(ctx, ws.ID, am.ID)); got.UserID != alice.ID {
		t.Fatalf("member = %+v", got)
	}
	if got := must(admin.AddMemberRole(ctx, ws.ID, am.ID, atrium.RoleWorkspaceAdmin)); !got.HasRole(atrium.RoleWorkspaceAdmin) {
		t.Fatalf("after add role = %+v", got)
	}
	// Now an admin of the workspace, alice may add bob.
	must(ac.AddMembers(ctx, ws.ID, atrium.MemberParams{UserID: bob.ID, Roles: []string{atrium.RoleWorkspaceGuest}}))
	if got := must(admin.RemoveMemberRole(ctx, ws.ID, am.ID, atrium.RoleWorkspaceAdmin)); got.HasRole(atrium.RoleWorkspaceAdmin) {
		t.Fatalf("after remove role = %+v", got)
	}
	_, err = admin.RemoveMemberRole(ctx, ws.ID, am.ID, atrium.RoleAlgoDeveloper)
	wantProblem(t, err, 409, atrium.ECONFLICT)

	// Default workspace.
	if d := must(ac.GetDefaultWorkspace(ctx)); d.WorkspaceID != "" {
		t.Fatalf("default before = %+v", d)
	}
	if d := must(ac.SetDefaultWorkspace(ctx, ws.ID)); d.WorkspaceID != ws.ID || d.Workspace == nil || d.Workspace.Name != "team_a" {
		t.Fatalf("set default = %+v", d)
	}
	if d := must(ac.GetDefaultWorkspace(ctx)); d.WorkspaceID != ws.ID {
		t.Fatalf("default after = %+v", d)
	}

	// Roles.
	roles := must(ac.ListRoles(ctx, ws.ID))
	if len(roles.Items) != len(atrium.BuiltinRoles) || !roles.Items[0].BuiltIn {
		t.Fatalf("roles = %+v", roles)
	}
	r := must(admin.CreateRole(ctx, ws.ID, httpapi.RoleRequest{Name: "Auditor", Description: "reads logs", Permissions: []string{"Workspace:ListOperationLogs"}}))
	if r.BuiltIn || r.CreatedAt == nil {
		t.Fatalf("created role = %+v", r)
	}
	_, err = admin.CreateRole(ctx, ws.ID, httpapi.RoleRequest{Name: "Bad", Permissions: []string{"No:Such"}})
	wantProblem(t, err, 400, atrium.EINVALID)
	rdesc := "reads"
	r = must(admin.UpdateRole(ctx, ws.ID, "Auditor", httpapi.UpdateRoleRequest{Description: &rdesc}))
	if len(r.Permissions) != 1 || r.Description != "reads" {
		t.Fatalf("description-only update = %+v", r)
	}
	perms := []string{"Workspace:ListOperationLogs", "Workspace:ListMembers"}
	r = must(admin.UpdateRole(ctx, ws.ID, "Auditor", httpapi.UpdateRoleRequest{Permissions: &perms}))
	if len(r.Permissions) != 2 || r.Description != "reads" {
		t.Fatalf("permissions-only update kept description? %+v", r)
	}
	if got := must(ac.GetRole(ctx, ws.ID, "Auditor")); got.Description != "reads" {
		t.Fatalf("role = %+v", got)
	}
	if got := must(ac.GetRole(ctx, ws.ID, atrium.RoleWorkspaceOwner)); !got.BuiltIn || len(got.Permissions) == 0 {
		t.Fatalf("owner role = %+v", got)
	}
	must(admin.AddMemberRole(ctx, ws.ID, am.ID, "Auditor"))
	wantProblem(t, admin.DeleteRole(ctx, ws.ID, "Auditor"), 409, atrium.ECONFLICT)
	must(admin.RemoveMemberRole(ctx, ws.ID, am.ID, "Auditor"))
	if err := admin.DeleteRole(ctx, ws.ID, "Auditor"); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GetRole(ctx, ws.ID, "Auditor")
	wantProblem(t, err, 404, atrium.ENOTFOUND)

	// Operation log: the denial and the successful changes.
	// (alice's GetWorkspace before she joined is a denial too, answered 404,
	// but a stranger's probe goes to the platform log only.)
	logs := must(admin.ListOperationLogs(ctx, ws.ID, httpapi.ListOperationLogsOptions{Result: atrium.ResultDenied}))
	if logs.TotalCount != 1 || logs.Items[0].Action != "Workspace:CreateMember" || logs.Items[0].ActorID != alice.ID || logs.Items[0].StatusCode != 403 {
		t.Fatalf("denials = %+v", logs)
	}
	logs = must(admin.ListOperationLogs(ctx, ws.ID, httpapi.ListOperationLogsOptions{ActorID: alice.ID, Action: "Workspace:CreateMember"}))
	if logs.TotalCount != 2 {
		t.Fatalf("alice's CreateMember logs = %+v", logs)
	}
	plat := must(admin.ListPlatformOperationLogs(ctx, httpapi.ListOperationLogsOptions{Action: "Workspace:CreateWorkspace"}))
	if plat.TotalCount != 4 { // two created, one invalid, one denied
		t.Fatalf("platform logs = %+v", plat)
	}
	plat = must(admin.ListPlatformOperationLogs(ctx, httpapi.ListOperationLogsOptions{WorkspaceID: ws.ID, PageOptions: httpapi.PageOptions{PageSize: 1}}))
	if len(plat.Items) != 1 || plat.NextPageToken == "" || plat.Items[0].WorkspaceID != ws.ID {
		t.Fatalf("platform logs of ws = %+v", plat)
	}
	_, err = ac.ListPlatformOperationLogs(ctx, httpapi.ListOperationLogsOptions{})
	wantProblem(t, err, 403, atrium.EFORBIDDEN)

	// Removing members and the workspace.
	bm := must(admin.ListMembers(ctx, ws.ID, httpapi.ListMembersOptions{Name: "bob"}))
	if err := admin.DeleteMember(ctx, ws.ID, bm.Items[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GetMember(ctx, ws.ID, bm.Items[0].ID)
	wantProblem(t, err, 404, atrium.ENOTFOUND)
	wantProblem(t, ac.DeleteWorkspace(ctx, ws.ID), 403, atrium.EFORBIDDEN)
	if err := admin.DeleteWorkspace(ctx, ws.ID); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GetWorkspace(ctx, ws.ID)
	wantProblem(t, err, 404, atrium.ENOTFOUND)
	if !httpapi.IsProblem(err, atrium.ENOTFOUND) {
		t.Error("IsProblem(ENOTFOUND) = false")
	}
}

func TestClientNonProblemError(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<h1>bad gateway</h1>"))
	}))
	defer ts.Close()
	_, err := (&httpapi.Client{BaseURL: ts.URL, Token: "x"}).GetUser(context.Background(), "me")
	var pe *httpapi.ProblemError
	if !errors.As(err, &pe) || pe.Status != 502 || !strings.Contains(pe.Detail, "bad gateway") || pe.Code != atrium.EINTERNAL {
		t.Fatalf("err = %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "502 Bad Gateway: ") {
		t.Errorf("Error() = %q", err.Error())
	}
}
