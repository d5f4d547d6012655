package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"atrium"
)

// TestInvalidInput: bad input is a 400 naming the field and the rule, and
// changes nothing.
func TestInvalidInput(t *testing.T) {
	f := setup(t)
	_, ra := f.user(t, "root", atrium.RoleResourceAdmin)
	dev, _ := f.user(t, "dev")
	ws := f.do(t, ra, "POST", "/api/v1/workspaces", map[string]any{"name": "team_a", "envTypes": []string{"prod"}})
	if ws.status != 201 {
		t.Fatalf("create: %d %s", ws.status, ws.body)
	}
	var w atrium.Workspace
	ws.decode(t, &w)
	wsPath := "/api/v1/workspaces/" + w.ID

	tests := []struct {
		name, method, path string
		body               any
		field, rule        string
	}{
		{"name starts with digit", "POST", "/api/v1/workspaces", map[string]any{"name": "1team", "envTypes": []string{"prod"}}, "name", "starting with a letter"},
		{"name too short", "POST", "/api/v1/workspaces", map[string]any{"name": "ab", "envTypes": []string{"prod"}}, "name", "3–23 characters"},
		{"name too long", "POST", "/api/v1/workspaces", map[string]any{"name": strings.Repeat("a", 24), "envTypes": []string{"prod"}}, "name", "3–23 characters"},
		{"name with dash", "POST", "/api/v1/workspaces", map[string]any{"name": "team-b", "envTypes": []string{"prod"}}, "name", "letters, digits or '_'"},
		{"description too long", "POST", "/api/v1/workspaces", map[string]any{"name": "team_b", "envTypes": []string{"prod"}, "description": strings.Repeat("é", 81)}, "description", "at most 80"},
		{"bad env types", "POST", "/api/v1/workspaces", map[string]any{"name": "team_b", "envTypes": []string{"dev"}}, "envTypes", `["dev","prod"]`},
		{"missing env types", "POST", "/api/v1/workspaces", map[string]any{"name": "team_b"}, "envTypes", "required"},
		{"wrong type", "POST", "/api/v1/workspaces", `{"name": 7, "envTypes": ["prod"]}`, "name", "must be a string"},
		{"unknown field", "POST", "/api/v1/workspaces", `{"name": "team_b", "envTypes": ["prod"], "owner": "x"}`, "owner", "not a known field"},
		{"malformed JSON", "POST", "/api/v1/workspaces", `{"name": "team_b",`, "body", "not valid JSON"},
		{"trailing data", "POST", "/api/v1/workspaces", `{"name": "team_b", "envTypes": ["prod"]} {}`, "body", "single JSON value"},
		{"empty body", "POST", "/api/v1/workspaces", "", "body", "empty"},
		{"oversized body", "POST", "/api/v1/workspaces", `{"name": "team_b", "envTypes": ["prod"], "description": "` + strings.Repeat("x", MaxBodyBytes) + `"}`, "body", "at most 1048576 bytes"},
		{"rename workspace", "PUT", wsPath, map[string]any{"name": "other"}, "name", "cannot be changed"},
		{"change env types", "PUT", wsPath, map[string]any{"envTypes": []string{"dev", "prod"}}, "envTypes", "fixed at creation"},
		{"update description too long", "PUT", wsPath, map[string]any{"description": strings.Repeat("x", 81)}, "description", "at most 80"},
		{"unknown role", "POST", wsPath + "/members", map[string]any{"members": []map[string]any{{"userId": dev.ID, "roles": []string{"Wizard"}}}}, "members[0].roles[0]", "Wizard"},
		{"no roles", "POST", wsPath + "/members", map[string]any{"members": []map[string]any{{"userId": dev.ID, "roles": []string{}}}}, "members[0].roles", "at least one role"},
		{"no members", "POST", wsPath + "/members", map[string]any{"members": []any{}}, "members", "at least one"},
		{"missing user id", "POST", wsPath + "/members", map[string]any{"members": []map[string]any{{"roles": []string{"WorkspaceGuest"}}}}, "members[0].userId", "required"},
		{"unknown permission in role", "POST", wsPath + "/roles", map[string]any{"name": "Ops", "permissions": []string{"DLC:Nuke"}}, "permissions[0]", "unknown permission code"},
		{"platform permission in role", "POST", wsPath + "/roles", map[string]any{"name": "Ops", "permissions": []string{"User:CreateUser"}}, "permissions[0]", "platform permission"},
		{"role shadows built-in", "POST", wsPath + "/roles", map[string]any{"name": "WorkspaceAdmin", "permissions": []string{"DLC:GetJob"}}, "name", "built-in"},
		{"bad user name", "POST", "/api/v1/users", map[string]any{"name": "Bob Smith", "password": "long enough pw"}, "name", "lowercase"},
		{"short password", "POST", "/api/v1/users", map[string]any{"name": "bob", "password": "short"}, "password", "8–256"},
		{"bad email", "POST", "/api/v1/users", map[string]any{"name": "bob", "password": "long enough pw", "email": "not-an-address"}, "email", "plain address"},
		{"bad page size", "GET", "/api/v1/workspaces?pageSize=0", nil, "pageSize", "1 to 500"},
		{"forged page token", "GET", "/api/v1/workspaces?pageToken=zzz", nil, "pageToken", "not a token"},
		{"unknown query parameter", "GET", "/api/v1/workspaces?owner=me", nil, "owner", "not a query parameter"},
		{"bad sort", "GET", "/api/v1/workspaces?sortBy=size", nil, "sortBy", "name, createdAt"},
		{"bad token lifetime", "POST", "/api/v1/auth/tokens", map[string]any{"expiresIn": "forever"}, "expiresIn", "positive duration"},
	}
	before := f.snapshot(t, w.ID)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do(t, ra, tt.method, tt.path, tt.body)
			if resp.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %.300s", resp.status, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			p := resp.problem(t)
			if p.Code != atrium.EINVALID || p.Field != tt.field || !strings.Contains(p.Detail, tt.rule) || p.RequestID == "" {
				t.Errorf("problem %+v; want field %q and rule containing %q", p, tt.field, tt.rule)
			}
		})
	}
	if after := f.snapshot(t, w.ID); after != before {
		t.Errorf("invalid requests changed data:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot renders the user-visible data so a test can see that nothing changed.
func (f *fixture) snapshot(t *testing.T, wsID string) string {
	t.Helper()
	ctx := context.Background()
	wss, _, err1 := f.store.FindWorkspaces(ctx, atrium.WorkspaceFilter{})
	users, _, err2 := f.store.FindUsers(ctx, atrium.UserFilter{})
	ms, _, err3 := f.store.FindMembers(ctx, atrium.MemberFilter{WorkspaceID: wsID})
	roles, err4 := f.store.FindRoles(ctx, wsID)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal([]any{wss, users, ms, roles})
	return string(b)
}

func TestAuthentication(t *testing.T) {
	f := setup(t)
	_, ra := f.user(t, "root", atrium.RoleResourceAdmin)
	resp := f.do(t, ra, "POST", "/api/v1/users", map[string]any{"name": "alice", "password": "alice's password"})
	if resp.status != 201 {
		t.Fatalf("create user: %d %s", resp.status, resp.body)
	}
	var alice atrium.User
	resp.decode(t, &alice)

	basic := func(name, pw string, body string) response {
		req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/auth/tokens", strings.NewReader(body))
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(name+":"+pw)))
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return response{status: r.StatusCode, body: b, header: r.Header}
	}
	if r := basic("alice", "wrong password", ""); r.status != 401 || r.problem(t).Code != atrium.EUNAUTHENTICATED || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("wrong password: %d %s", r.status, r.body)
	}
	if r := basic("nobody", "alice's password", ""); r.status != 401 {
		t.Fatalf("unknown user: %d", r.status)
	}
	// Failed sign-ins are in the platform log under the claimed name, without the password.
	var failed List[*atrium.OperationLog]
	f.do(t, ra, "GET", "/api/v1/operation-logs?result=Denied&action=Token:CreateToken", nil).decode(t, &failed)
	if failed.TotalCount != 2 || failed.Items[0].ActorName != "nobody" || failed.Items[1].ActorName != "alice" ||
		strings.Contains(fmt.Sprint(failed.Items[0], failed.Items[1]), "alice's password") {
		t.Fatalf("failed sign-ins logged as %+v", failed.Items)
	}
	r := basic("alice", "alice's password", `{"name":"laptop","expiresIn":"1h"}`)
	if r.status != 201 {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	var ct CreatedToken
	r.decode(t, &ct)
	if ct.Token == "" || ct.Name != "laptop" || ct.ExpiresAt == nil {
		t.Fatalf("minted %+v", ct)
	}
	if me := f.do(t, ct.Token, "GET", "/api/v1/users/me", nil); me.status != 200 || !strings.Contains(string(me.body), alice.ID) {
		t.Fatalf("me: %d %s", me.status, me.body)
	}
	// Basic is accepted only where a token is minted.
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/workspaces", nil)
	req.SetBasicAuth("alice", "alice's password")
	if r, _ := http.DefaultClient.Do(req); r.StatusCode != 401 {
		t.Fatalf("basic on a normal route: %d", r.StatusCode)
	}
	// The token list never shows secrets, and revocation takes effect at once.
	list := f.do(t, ct.Token, "GET", "/api/v1/auth/tokens", nil)
	if list.status != 200 || strings.Contains(string(list.body), ct.Token) || !strings.Contains(string(list.body), `"lastUsedAt"`) {
		t.Fatalf("list: %d %s", list.status, list.body)
	}
	if rv := f.do(t, ct.Token, "DELETE", "/api/v1/auth/tokens/"+ct.ID, nil); rv.status != 200 {
		t.Fatalf("revoke: %d %s", rv.status, rv.body)
	}
	if me := f.do(t, ct.Token, "GET", "/api/v1/users/me", nil); me.status != 401 {
		t.Fatalf("revoked token still works: %d", me.status)
	}
	// Disabled users cannot sign in any more.
	if d := f.do(t, ra, "PUT", "/api/v1/users/"+alice.ID, map[string]any{"disabled": true}); d.status != 200 {
		t.Fatalf("disable: %d %s", d.status, d.body)
	}
	if r := basic("alice", "alice's password", ""); r.status != 401 || !strings.Contains(r.problem(t).Detail, "disabled") {
		t.Fatalf("disabled user minted a token: %d %s", r.status, r.body)
	}
	for _, h := range []string{"", "Bearer", "Bearer atr_nope", "Token abc"} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/workspaces", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 401 {
			t.Errorf("Authorization %q: %d", h, r.StatusCode)
		}
	}
}

// TestWorkspaceLifecycle walks the workspace and member API as a team would.
func TestWorkspaceLifecycle(t *testing.T) {
	f := setup(t)
	_, ra := f.user(t, "root", atrium.RoleResourceAdmin)
	lead, leadTok := f.user(t, "lead")
	dev, devTok := f.user(t, "dev")

	var w atrium.Workspace
	r := f.do(t, ra, "POST", "/api/v1/workspaces", map[string]any{"name": "vision", "displayName": "Vision team", "description": "CV models", "envTypes": []string{"dev", "prod"}})
	r.decode(t, &w)
	if r.status != 201 || !atrium.HasPrefix(w.ID, atrium.PrefixWorkspace) || w.Status != atrium.WorkspaceEnabled {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	wsPath := "/api/v1/workspaces/" + w.ID
	var added AddMembersResponse
	r = f.do(t, ra, "POST", wsPath+"/members", map[string]any{"members": []map[string]any{
		{"userId": lead.ID, "roles": []string{"WorkspaceAdmin"}}, {"userId": dev.ID, "roles": []string{"AlgoDeveloper"}}}})
	r.decode(t, &added)
	if r.status != 201 || len(added.Members) != 2 {
		t.Fatalf("add members: %d %s", r.status, r.body)
	}
	// Team leads add people by name; unknown names are a 400 naming the entry.
	carol, _ := f.user(t, "carol")
	r = f.do(t, leadTok, "POST", wsPath+"/members", map[string]any{"members": []map[string]any{{"userName": "carol", "roles": []string{"WorkspaceGuest"}}}})
	var byName AddMembersResponse
	r.decode(t, &byName)
	if r.status != 201 || byName.Members[0].UserID != carol.ID {
		t.Fatalf("add by name: %d %s", r.status, r.body)
	}
	r = f.do(t, leadTok, "POST", wsPath+"/members", map[string]any{"members": []map[string]any{{"userName": "nobody", "roles": []string{"WorkspaceGuest"}}}})
	if r.status != 400 || r.problem(t).Field != "members[0].userName" {
		t.Fatalf("unknown name: %d %s", r.status, r.body)
	}
	if r := f.do(t, leadTok, "DELETE", wsPath+"/members/"+byName.Members[0].ID, nil); r.status != 204 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	// Adding the same user again is a conflict and adds nobody.
	if r := f.do(t, leadTok, "POST", wsPath+"/members", map[string]any{"members": []map[string]any{{"userId": dev.ID, "roles": []string{"WorkspaceGuest"}}}}); r.status != 409 {
		t.Fatalf("re-add: %d %s", r.status, r.body)
	}
	// Members list, filter by role and by fuzzy name.
	var ms List[*atrium.Member]
	f.do(t, devTok, "GET", wsPath+"/members?role=AlgoDeveloper", nil).decode(t, &ms)
	if ms.TotalCount != 1 || ms.Items[0].UserID != dev.ID {
		t.Fatalf("role filter: %+v", ms)
	}
	f.do(t, devTok, "GET", wsPath+"/members?name=LEA", nil).decode(t, &ms)
	if ms.TotalCount != 1 || ms.Items[0].UserID != lead.ID {
		t.Fatalf("name filter: %+v", ms)
	}
	// Paging follows nextPageToken to the end.
	f.do(t, devTok, "GET", wsPath+"/members?pageSize=2", nil).decode(t, &ms)
	if ms.TotalCount != 3 || len(ms.Items) != 2 || ms.NextPageToken == "" {
		t.Fatalf("page 1: %+v", ms)
	}
	next := ms.NextPageToken
	ms = List[*atrium.Member]{}
	f.do(t, devTok, "GET", wsPath+"/members?pageSize=2&pageToken="+next, nil).decode(t, &ms)
	if len(ms.Items) != 1 || ms.NextPageToken != "" {
		t.Fatalf("page 2: %+v", ms)
	}
	devMember := added.Members[1]
	// A custom role grants its codes.
	if r := f.do(t, leadTok, "POST", wsPath+"/roles", map[string]any{"name": "Approver", "permissions": []string{"Model:GetModel@Public", "Model:ApproveModelVersion"}}); r.status != 201 {
		t.Fatalf("create role: %d %s", r.status, r.body)
	}
	var m atrium.Member
	r = f.do(t, leadTok, "POST", wsPath+"/members/"+devMember.ID+"/roles/Approver", nil)
	r.decode(t, &m)
	if r.status != 200 || !m.HasRole("Approver") || !m.HasRole("AlgoDeveloper") {
		t.Fatalf("add role: %d %s", r.status, r.body)
	}
	if r := f.do(t, leadTok, "DELETE", wsPath+"/roles/Approver", nil); r.status != 409 {
		t.Fatalf("delete held role: %d %s", r.status, r.body)
	}
	// The last owner cannot leave.
	owners := List[*atrium.Member]{}
	f.do(t, ra, "GET", wsPath+"/members?role=WorkspaceOwner", nil).decode(t, &owners)
	if r := f.do(t, leadTok, "DELETE", wsPath+"/members/"+owners.Items[0].ID+"/roles/WorkspaceOwner", nil); r.status != 409 || !strings.Contains(r.problem(t).Detail, "owner") {
		t.Fatalf("remove last owner: %d %s", r.status, r.body)
	}
	// Non-members do not learn the workspace exists; ResourceAdmin deletes it.
	_, outsider := f.user(t, "outsider")
	if r := f.do(t, outsider, "GET", wsPath, nil); r.status != 404 {
		t.Fatalf("outsider: %d", r.status)
	}
	var wl List[*atrium.Workspace]
	f.do(t, outsider, "GET", "/api/v1/workspaces", nil).decode(t, &wl)
	if wl.TotalCount != 0 {
		t.Fatalf("outsider lists %+v", wl)
	}
	// Default workspace round trip.
	if r := f.do(t, devTok, "PUT", "/api/v1/default-workspace", map[string]any{"workspaceId": w.ID}); r.status != 200 {
		t.Fatalf("set default: %d %s", r.status, r.body)
	}
	var dw DefaultWorkspace
	f.do(t, devTok, "GET", "/api/v1/default-workspace", nil).decode(t, &dw)
	if dw.WorkspaceID != w.ID || dw.Workspace == nil || dw.Workspace.Name != "vision" {
		t.Fatalf("default: %+v", dw)
	}
	// Every change is in the workspace operation log with its request id.
	var logs List[*atrium.OperationLog]
	f.do(t, devTok, "GET", wsPath+"/operation-logs?result=Succeeded", nil).decode(t, &logs)
	actions := map[string]bool{}
	for _, l := range logs.Items {
		actions[l.Action] = true
		if l.RequestID == "" || l.ActorID == "" || l.Time.IsZero() {
			t.Errorf("incomplete log %+v", l)
		}
	}
	for _, a := range []string{"Workspace:CreateMember", "Workspace:CreateRole", "Workspace:CreateMemberRole"} {
		if !actions[a] {
			t.Errorf("operation log lacks %s: %v", a, actions)
		}
	}
	if r := f.do(t, ra, "DELETE", wsPath, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := f.do(t, ra, "GET", wsPath, nil); r.status != 404 {
		t.Fatalf("deleted workspace still readable: %d", r.status)
	}
}

func TestOpenAPIAndMetrics(t *testing.T) {
	f := setup(t)
	r := f.do(t, "", "GET", "/api/v1/openapi.json", nil)
	var doc map[string]any
	r.decode(t, &doc)
	if r.status != 200 || doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi: %d", r.status)
	}
	paths := doc["paths"].(map[string]any)
	for _, rt := range f.api.routes {
		op, ok := paths[rt.path].(map[string]any)[strings.ToLower(rt.method)].(map[string]any)
		if !ok {
			t.Errorf("%s %s missing from the document", rt.method, rt.path)
			continue
		}
		if op["x-permission"] != rt.code {
			t.Errorf("%s %s documents permission %v, route checks %s", rt.method, rt.path, op["x-permission"], rt.code)
		}
	}
	// Every documented operation is served (401 without a token, never 404/405).
	n := 0
	for path, ops := range paths {
		for method := range ops.(map[string]any) {
			n++
			p := strings.NewReplacer("{workspaceId}", "ws-x", "{memberId}", "mem-x", "{roleName}", "R", "{userId}", "u-x", "{tokenId}", "tok-x").Replace(path)
			if r := f.do(t, "", strings.ToUpper(method), p, nil); r.status != 401 {
				t.Errorf("%s %s: %d, want 401", method, path, r.status)
			}
		}
	}
	if n != len(f.api.routes) {
		t.Errorf("document has %d operations, server %d routes", n, len(f.api.routes))
	}
	m := f.do(t, "", "GET", "/metrics", nil)
	if !strings.Contains(string(m.body), `atrium_http_requests_total{code="401",method="GET",route="/api/v1/workspaces"}`) ||
		!strings.Contains(string(m.body), `atrium_http_request_duration_seconds_bucket{method="GET",route="/api/v1/workspaces/{workspaceId}"`) {
		t.Errorf("metrics lack request counts by route and code:\n%.2000s", m.body)
	}
	if r := f.do(t, "", "GET", "/readyz", nil); r.status != 200 {
		t.Errorf("readyz %d", r.status)
	}
	if r := f.do(t, "", "GET", "/healthz", nil); r.status != 200 {
		t.Errorf("healthz %d", r.status)
	}
	if r := f.do(t, "", "GET", "/", nil); r.status != 200 || !strings.Contains(string(r.body), "/api/v1/openapi.json") ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("home page: %d %.200s", r.status, r.body)
	}
	if r := f.do(t, "", "GET", "/nothing", nil); r.status != 404 {
		t.Errorf("unknown page: %d", r.status)
	}
	if r := f.do(t, "", "GET", "/api/v1/nothing", nil); r.status != 404 || r.problem(t).Code != atrium.ENOTFOUND {
		t.Errorf("unknown route %d %s", r.status, r.body)
	}
}
