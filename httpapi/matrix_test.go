package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"atrium"
	"atrium/resource"
)

// world is one fresh workspace with a member of every built-in role, a
// spare member to act on, and an unused custom role.
type world struct {
	ws         *atrium.Workspace
	victim     *atrium.Member
	victimTok  string
	subjects   map[string]*subject
	otherToken string // id of a token that belongs to the victim

	// Compute: a resource group with a node and a root quota drawing on it,
	// offered to and bound by the workspace; a leaf child quota offered to
	// the workspace but not bound; a spare group no quota draws on, with a
	// spare node.
	rg, spareRG       *atrium.ResourceGroup
	quota, spareQuota *atrium.Quota
	spareNode         string
	// registry is a platform-wide image registry without credentials.
	registry *atrium.Registry

	// Jobs (see jobWorld): the caller's own PRIVATE queued and finished
	// jobs, another member's PRIVATE and PUBLIC queued jobs.
	jobs map[string]*atrium.Job
	// Assets (see assetWorld), made afresh for each caller: the caller's
	// own PRIVATE asset, another member's PRIVATE and PUBLIC ones.
	assets map[string]*atrium.Asset
	// Pipelines and runs (see pipelineSetup), by caller.
	pipelines map[string]*atrium.Pipeline
	runs      map[string]*atrium.PipelineRun
}

type subject struct {
	name  string
	role  string // built-in role held, "" for none
	user  *atrium.User
	token string
	// spareTokenID is a token of the caller's own, minted for the revoke case.
	spareTokenID string
}

// The callers of the matrix: one member per built-in role, a ResourceAdmin
// who is not a member, and a user who is neither.
var matrixSubjects = []struct{ name, role string }{
	{"owner", atrium.RoleWorkspaceOwner},
	{"wsadmin", atrium.RoleWorkspaceAdmin},
	{"dev", atrium.RoleAlgoDeveloper},
	{"op", atrium.RoleAlgoOperator},
	{"label", atrium.RoleLabelManager},
	{"guest", atrium.RoleWorkspaceGuest},
	{"mc", atrium.RoleMaxComputeDeveloper},
	{"resadmin", atrium.RoleResourceAdmin},
	{"outsider", ""},
}

func (f *fixture) newWorld(t *testing.T, users map[string]*subject, n int) *world {
	t.Helper()
	ctx := context.Background()
	ws := &atrium.Workspace{Name: fmt.Sprintf("matrix_%d", n), DisplayName: "m", EnvTypes: []string{"prod"}, Status: atrium.WorkspaceEnabled, Creator: users["owner"].user.ID}
	if err := f.store.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	var ps []atrium.MemberParams
	for _, s := range users {
		if s.role != "" && s.role != atrium.RoleWorkspaceOwner && s.role != atrium.RoleResourceAdmin {
			ps = append(ps, atrium.MemberParams{UserID: s.user.ID, Roles: []string{s.role}})
		}
	}
	victim, victimTok := f.user(t, fmt.Sprintf("victim%d", n))
	ps = append(ps, atrium.MemberParams{UserID: victim.ID, Roles: []string{atrium.RoleAlgoDeveloper, atrium.RoleLabelManager}})
	ms, err := f.store.AddMembers(ctx, ws.ID, ps)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateRole(ctx, &atrium.Role{WorkspaceID: ws.ID, Name: "Reviewer", Permissions: []string{"Model:ApproveModelVersion"}}); err != nil {
		t.Fatal(err)
	}
	toks, err := f.store.FindTokens(ctx, victim.ID)
	if err != nil || len(toks) != 1 {
		t.Fatal(err, toks)
	}
	w := &world{ws: ws, victim: ms[len(ms)-1], victimTok: victimTok, subjects: users, otherToken: toks[0].ID}
	f.computeWorld(t, w, n)
	f.registryWorld(t, w, n)
	return w
}

func (f *fixture) computeWorld(t *testing.T, w *world, n int) {
	t.Helper()
	ctx := context.Background()
	w.rg = &atrium.ResourceGroup{ID: fmt.Sprintf("rg-m%d", n), Name: fmt.Sprintf("m%d", n), Backend: atrium.BackendLocal}
	w.spareRG = &atrium.ResourceGroup{ID: fmt.Sprintf("rg-spare%d", n), Name: fmt.Sprintf("spare%d", n), Backend: atrium.BackendSlurm}
	w.spareNode = fmt.Sprintf("spare-node%d", n)
	a100 := func(cpu int64, gi int64, gpu int64) resource.List {
		return resource.List{"A100": {MilliCPU: cpu * 1000, Memory: gi << 30, GPU: gpu}}
	}
	for _, g := range []*atrium.ResourceGroup{w.rg, w.spareRG} {
		if err := f.store.CreateResourceGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	for _, nd := range []*atrium.Node{
		{Name: fmt.Sprintf("node%d", n), GroupID: w.rg.ID, GPUType: "A100", Capacity: a100(16, 64, 8)["A100"], State: atrium.NodeReady, Labels: map[string]string{}},
		{Name: w.spareNode, GroupID: w.spareRG.ID, GPUType: "T4", Capacity: resource.Vector{MilliCPU: 8000, Memory: 32 << 30, GPU: 2}, State: atrium.NodeReady, Labels: map[string]string{}},
	} {
		if err := f.store.PutNode(ctx, nd); err != nil {
			t.Fatal(err)
		}
	}
	w.quota = &atrium.Quota{ID: fmt.Sprintf("quota-m%d", n), Name: fmt.Sprintf("m%d", n), ResourceGroups: []string{w.rg.ID},
		Min: a100(8, 32, 4), Max: a100(16, 64, 8), QueueStrategy: atrium.RoundRobin, OfferedTo: []string{w.ws.ID}}
	w.spareQuota = &atrium.Quota{ID: fmt.Sprintf("quota-spare%d", n), Name: fmt.Sprintf("spare%d", n), ParentID: w.quota.ID,
		Max: a100(4, 16, 2), QueueStrategy: atrium.StrictFIFO, OfferedTo: []string{w.ws.ID}}
	for _, q := range []*atrium.Quota{w.quota, w.spareQuota} {
		if err := f.store.CreateQuota(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.store.BindQuota(ctx, w.ws.ID, w.quota.ID); err != nil {
		t.Fatal(err)
	}
	// The spare (slurm) group maps the workspace and the victim to Unix accounts.
	for _, m := range []*atrium.AccountMapping{
		{GroupID: w.spareRG.ID, WorkspaceID: w.ws.ID, UnixAccount: "atrium-job"},
		{GroupID: w.spareRG.ID, UserID: w.victim.UserID, UnixAccount: "victim"},
	} {
		if err := f.store.PutAccountMapping(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

// matrixCase is one request in the matrix and the answer the permission rules demand.
type matrixCase struct {
	method, path string
	name         string
	body         func(w *world, s *subject) any
	path_        func(w *world, s *subject) string
	// want returns the expected status for subject s.
	want func(s *subject) int
	// setup, when set, prepares the targets for each caller in a world
	// the case's callers share (writes then need no fresh world each).
	setup func(t *testing.T, f *fixture, w *world, s *subject)
}

// Expectations written from the permission rules, independently of the permission table.
func isMember(s *subject) bool { return s.role != "" && s.role != atrium.RoleResourceAdmin }
func isRA(s *subject) bool     { return s.role == atrium.RoleResourceAdmin }
func isWSAdmin(s *subject) bool {
	return s.role == atrium.RoleWorkspaceOwner || s.role == atrium.RoleWorkspaceAdmin
}

// "every member may read the workspace, its members, roles… and operation
// log"; a non-member gets 404 (no existence leaks); ResourceAdmin sees all.
func wsRead(ok int) func(*subject) int {
	return func(s *subject) int {
		if isMember(s) || isRA(s) {
			return ok
		}
		return http.StatusNotFound
	}
}

// "Only Owner/Admin update it, add/remove members and roles…"
func wsManage(ok int) func(*subject) int {
	return func(s *subject) int {
		switch {
		case isWSAdmin(s):
			return ok
		case isMember(s) || isRA(s):
			return http.StatusForbidden
		}
		return http.StatusNotFound
	}
}

// "Only ResourceAdmin creates or deletes workspaces" (and manages users).
func raOnly(ok int) func(*subject) int {
	return func(s *subject) int {
		if isRA(s) {
			return ok
		}
		if s.role == "" && ok == http.StatusNoContent {
			return http.StatusNotFound // deleting a workspace one cannot see
		}
		return http.StatusForbidden
	}
}

// Resource groups, nodes and quotas are managed by ResourceAdmin alone
// ("registers resource groups and nodes, carves quotas").
func platform(ok int) func(*subject) int {
	return func(s *subject) int {
		if isRA(s) {
			return ok
		}
		return http.StatusForbidden
	}
}

func anyone(ok int) func(*subject) int { return func(*subject) int { return ok } }

func matrixCases() []matrixCase {
	return append(append(append(append(append(baseMatrixCases(), jobMatrixCases()...), dswMatrixCases()...), assetMatrixCases()...), eventMatrixCases()...), append(append(append(alertMatrixCases(), sqlMatrixCases()...), pipelineMatrixCases()...), registryMatrixCases()...)...)
}

func baseMatrixCases() []matrixCase {
	ws := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string {
			p := "/api/v1/workspaces/" + w.ws.ID + suffix
			return strings.ReplaceAll(p, "{memberId}", w.victim.ID)
		}
	}
	rg := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string { return "/api/v1/resource-groups/" + w.rg.ID + suffix }
	}
	spare := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string { return "/api/v1/resource-groups/" + w.spareRG.ID + suffix }
	}
	quota := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string { return "/api/v1/quotas/" + w.quota.ID + suffix }
	}
	fixed := func(p string) func(*world, *subject) string { return func(*world, *subject) string { return p } }
	body := func(v any) func(*world, *subject) any { return func(*world, *subject) any { return v } }
	return []matrixCase{
		{method: "POST", path: "/api/v1/auth/tokens", path_: fixed("/api/v1/auth/tokens"), body: body(map[string]any{"name": "x"}), want: anyone(201)},
		{method: "GET", path: "/api/v1/auth/tokens", path_: fixed("/api/v1/auth/tokens"), want: anyone(200)},
		{method: "DELETE", path: "/api/v1/auth/tokens/{tokenId}", name: "own",
			path_: func(w *world, s *subject) string {
				return "/api/v1/auth/tokens/" + s.spareTokenID
			}, want: anyone(200)},
		{method: "DELETE", path: "/api/v1/auth/tokens/{tokenId}", name: "other's",
			path_: func(w *world, s *subject) string { return "/api/v1/auth/tokens/" + w.otherToken }, want: anyone(404)},
		{method: "POST", path: "/api/v1/users", path_: fixed("/api/v1/users"),
			body: func(w *world, s *subject) any {
				return map[string]any{"name": "new-" + s.name + "-" + w.ws.Name[7:], "password": "long enough pw"}
			}, want: raOnly(201)},
		{method: "GET", path: "/api/v1/users", path_: fixed("/api/v1/users"), want: raOnly(200)},
		{method: "GET", path: "/api/v1/users/{userId}", name: "me", path_: fixed("/api/v1/users/me"), want: anyone(200)},
		{method: "GET", path: "/api/v1/users/{userId}", name: "other",
			path_: func(w *world, s *subject) string { return "/api/v1/users/" + w.victim.UserID },
			want: func(s *subject) int {
				if isRA(s) {
					return 200
				}
				return 404
			}},
		{method: "PUT", path: "/api/v1/users/{userId}", path_: func(w *world, s *subject) string { return "/api/v1/users/" + w.victim.UserID },
			body: body(map[string]any{"displayName": "Victim"}), want: raOnly(200)},
		{method: "GET", path: "/api/v1/server", path_: fixed("/api/v1/server"), want: anyone(200)},
		{method: "GET", path: "/api/v1/permissions", path_: fixed("/api/v1/permissions"), want: anyone(200)},
		{method: "GET", path: "/api/v1/default-workspace", path_: fixed("/api/v1/default-workspace"), want: anyone(200)},
		{method: "PUT", path: "/api/v1/default-workspace", path_: fixed("/api/v1/default-workspace"),
			body: func(w *world, s *subject) any { return map[string]any{"workspaceId": w.ws.ID} },
			want: func(s *subject) int {
				if isMember(s) {
					return 200
				}
				return 400 // only a workspace one belongs to
			}},
		{method: "GET", path: "/api/v1/operation-logs", path_: fixed("/api/v1/operation-logs"), want: raOnly(200)},
		{method: "POST", path: "/api/v1/workspaces", path_: fixed("/api/v1/workspaces"),
			body: func(w *world, s *subject) any {
				return map[string]any{"name": "n_" + s.name + "_" + w.ws.Name[7:], "envTypes": []string{"prod"}}
			}, want: raOnly(201)},
		{method: "GET", path: "/api/v1/workspaces", path_: fixed("/api/v1/workspaces"), want: anyone(200)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}", path_: ws(""), want: wsRead(200)},
		{method: "PUT", path: "/api/v1/workspaces/{workspaceId}", path_: ws(""), body: body(map[string]any{"description": "changed"}), want: wsManage(200)},
		{method: "DELETE", path: "/api/v1/workspaces/{workspaceId}", path_: ws(""), want: raOnly(204)},
		{method: "POST", path: "/api/v1/workspaces/{workspaceId}/members", path_: ws("/members"),
			body: func(w *world, s *subject) any {
				return map[string]any{"members": []map[string]any{{"userId": w.subjects["outsider"].user.ID, "roles": []string{"WorkspaceGuest"}}}}
			}, want: wsManage(201)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/access", path_: ws("/access"), want: wsRead(200)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/members", path_: ws("/members"), want: wsRead(200)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/members/{memberId}", path_: ws("/members/{memberId}"), want: wsRead(200)},
		{method: "DELETE", path: "/api/v1/workspaces/{workspaceId}/members/{memberId}", path_: ws("/members/{memberId}"), want: wsManage(204)},
		{method: "POST", path: "/api/v1/workspaces/{workspaceId}/members/{memberId}/roles/{roleName}", path_: ws("/members/{memberId}/roles/AlgoOperator"), want: wsManage(200)},
		{method: "DELETE", path: "/api/v1/workspaces/{workspaceId}/members/{memberId}/roles/{roleName}", path_: ws("/members/{memberId}/roles/LabelManager"), want: wsManage(200)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/roles", path_: ws("/roles"), want: wsRead(200)},
		{method: "POST", path: "/api/v1/workspaces/{workspaceId}/roles", path_: ws("/roles"),
			body: body(map[string]any{"name": "Stopper", "permissions": []string{"DLC:GetJob", "DLC:StopJob"}}), want: wsManage(201)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/roles/{roleName}", path_: ws("/roles/Reviewer"), want: wsRead(200)},
		{method: "PUT", path: "/api/v1/workspaces/{workspaceId}/roles/{roleName}", path_: ws("/roles/Reviewer"),
			body: body(map[string]any{"permissions": []string{"Model:GetModel", "Model:ApproveModelVersion"}}), want: wsManage(200)},
		{method: "DELETE", path: "/api/v1/workspaces/{workspaceId}/roles/{roleName}", path_: ws("/roles/Reviewer"), want: wsManage(204)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/operation-logs", path_: ws("/operation-logs"), want: wsRead(200)},

		// Compute, platform side: ResourceAdmin only.
		{method: "POST", path: "/api/v1/resource-groups", path_: fixed("/api/v1/resource-groups"),
			body: func(w *world, s *subject) any {
				return map[string]any{"name": "new-" + s.name + "-" + w.ws.Name[7:], "backend": "kubernetes"}
			}, want: platform(201)},
		{method: "GET", path: "/api/v1/resource-groups", path_: fixed("/api/v1/resource-groups"), want: platform(200)},
		{method: "GET", path: "/api/v1/resource-groups/{resourceGroupId}", path_: rg(""), want: platform(200)},
		{method: "PUT", path: "/api/v1/resource-groups/{resourceGroupId}", path_: rg(""), body: body(map[string]any{"description": "changed"}), want: platform(200)},
		{method: "DELETE", path: "/api/v1/resource-groups/{resourceGroupId}",
			path_: func(w *world, s *subject) string { return "/api/v1/resource-groups/" + w.spareRG.ID }, want: platform(204)},
		{method: "GET", path: "/api/v1/resource-groups/{resourceGroupId}/nodes", path_: rg("/nodes"), want: platform(200)},
		{method: "PUT", path: "/api/v1/resource-groups/{resourceGroupId}/nodes/{nodeName}",
			path_: func(w *world, s *subject) string {
				return "/api/v1/resource-groups/" + w.spareRG.ID + "/nodes/new-" + s.name + "-" + w.ws.Name[7:]
			}, body: body(map[string]any{"capacity": map[string]any{"cpu": 4, "memory": "16Gi"}, "labels": map[string]string{"zone": "a"}}), want: platform(200)},
		{method: "DELETE", path: "/api/v1/resource-groups/{resourceGroupId}/nodes/{nodeName}",
			path_: func(w *world, s *subject) string {
				return "/api/v1/resource-groups/" + w.spareRG.ID + "/nodes/" + w.spareNode
			}, want: platform(204)},
		{method: "GET", path: "/api/v1/resource-groups/{resourceGroupId}/accounts", path_: spare("/accounts"), want: platform(200)},
		{method: "PUT", path: "/api/v1/resource-groups/{resourceGroupId}/accounts/workspaces/{workspaceId}",
			path_: func(w *world, s *subject) string { return spare("/accounts/workspaces/"+w.ws.ID)(w, s) },
			body:  body(map[string]any{"unixAccount": "atrium-job2"}), want: platform(200)},
		{method: "DELETE", path: "/api/v1/resource-groups/{resourceGroupId}/accounts/workspaces/{workspaceId}",
			path_: func(w *world, s *subject) string { return spare("/accounts/workspaces/"+w.ws.ID)(w, s) }, want: platform(204)},
		{method: "PUT", path: "/api/v1/resource-groups/{resourceGroupId}/accounts/users/{userId}",
			path_: func(w *world, s *subject) string { return spare("/accounts/users/"+s.user.ID)(w, s) },
			body:  body(map[string]any{"unixAccount": "atrium-job2"}), want: platform(200)},
		{method: "DELETE", path: "/api/v1/resource-groups/{resourceGroupId}/accounts/users/{userId}",
			path_: func(w *world, s *subject) string { return spare("/accounts/users/"+w.victim.UserID)(w, s) }, want: platform(204)},
		{method: "POST", path: "/api/v1/quotas", path_: fixed("/api/v1/quotas"),
			body: func(w *world, s *subject) any {
				return map[string]any{"name": "new-" + s.name + "-" + w.ws.Name[7:], "parentId": w.quota.ID,
					"max": []map[string]any{{"gpuType": "A100", "cpu": 2, "memory": "8Gi", "gpu": 1}}}
			}, want: platform(201)},
		{method: "GET", path: "/api/v1/quotas", path_: fixed("/api/v1/quotas?layout=tree"), want: platform(200)},
		{method: "GET", path: "/api/v1/quotas/{quotaId}", path_: quota("?layout=tree"), want: platform(200)},
		{method: "PUT", path: "/api/v1/quotas/{quotaId}", path_: quota(""),
			body: func(w *world, s *subject) any {
				return map[string]any{"name": w.quota.Name, "description": "changed", "resourceGroupIds": []string{w.rg.ID},
					"min": w.quota.Min.Specs(), "max": w.quota.Max.Specs(), "offeredTo": []string{w.ws.ID}}
			}, want: platform(200)},
		{method: "DELETE", path: "/api/v1/quotas/{quotaId}",
			path_: func(w *world, s *subject) string { return "/api/v1/quotas/" + w.spareQuota.ID }, want: platform(204)},

		// Compute, workspace side: members read, Owner/Admin bind and configure.
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/quotas", path_: ws("/quotas"), want: wsRead(200)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/quotas", name: "offered", path_: ws("/quotas?offered=true"), want: wsRead(200)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/quotas/{quotaId}",
			path_: func(w *world, s *subject) string {
				return "/api/v1/workspaces/" + w.ws.ID + "/quotas/" + w.quota.ID + "?layout=tree"
			}, want: wsRead(200)},
		{method: "POST", path: "/api/v1/workspaces/{workspaceId}/quotas", path_: ws("/quotas"),
			body: func(w *world, s *subject) any { return map[string]any{"quotaId": w.spareQuota.ID} }, want: wsManage(201)},
		{method: "DELETE", path: "/api/v1/workspaces/{workspaceId}/quotas/{quotaId}",
			path_: func(w *world, s *subject) string { return "/api/v1/workspaces/" + w.ws.ID + "/quotas/" + w.quota.ID }, want: wsManage(204)},
		{method: "GET", path: "/api/v1/workspaces/{workspaceId}/config", path_: ws("/config"), want: wsRead(200)},
		{method: "PUT", path: "/api/v1/workspaces/{workspaceId}/config", path_: ws("/config"),
			body: func(w *world, s *subject) any {
				return map[string]any{"defaultPriority": map[string]int{"DLC": 3}, "maxPriority": map[string]int{"AlgoDeveloper": 5, "Reviewer": 7},
					"maxRunningTime": map[string]string{"DLC": "24h"}, "queueTimeout": "2h", "defaultQuotaId": w.quota.ID}
			}, want: wsManage(200)},
	}
}

// TestPermissionMatrix sends every route as every kind of caller and checks
// the answer against the permission rules. It also fails when a route has no case, so new
// endpoints must join the matrix.
func TestPermissionMatrix(t *testing.T) {
	f := setup(t)
	users := map[string]*subject{}
	for _, ms := range matrixSubjects {
		var roles []string
		if ms.role == atrium.RoleResourceAdmin {
			roles = []string{ms.role}
		}
		u, tok := f.user(t, ms.name, roles...)
		users[ms.name] = &subject{name: ms.name, role: ms.role, user: u, token: tok}
	}

	covered := map[string]bool{}
	n := 0
	for _, mc := range matrixCases() {
		covered[mc.method+" "+mc.path] = true
		var w *world
		for _, ms := range matrixSubjects {
			s := users[ms.name]
			// Reads change nothing, so one world serves every caller; a
			// write gets a fresh world per caller.
			if w == nil || (mc.method != "GET" && mc.setup == nil) {
				n++
				w = f.newWorld(t, users, n)
				f.jobWorld(t, w, users)
				f.dswWorld(t, w, users)
			}
			if mc.setup != nil {
				mc.setup(t, f, w, s)
			}
			// A fresh own token for the revoke case, so revoking never locks the caller out.
			_, s.spareTokenID = f.mintToken(t, s.token)
			var b any
			if mc.body != nil {
				b = mc.body(w, s)
			}
			path := mc.path_(w, s)
			want := mc.want(s)
			resp := f.do(t, s.token, mc.method, path, b)
			label := fmt.Sprintf("%s %s (%s) as %s", mc.method, mc.path, mc.name, ms.name)
			if resp.status != want {
				t.Errorf("%s: status %d, want %d; body %s", label, resp.status, want, resp.body)
				continue
			}
			if resp.status == http.StatusForbidden {
				p := resp.problem(t)
				rt := f.api.findRoute(mc.method, mc.path)
				if p.Permission != rt.code || !strings.Contains(p.Detail, rt.code) {
					t.Errorf("%s: 403 names %q (%s), want %s", label, p.Permission, p.Detail, rt.code)
				}
				f.wantDeniedLogged(t, rt.code, s.user.ID)
			}
			if resp.status < 300 && resp.status != http.StatusNoContent {
				f.checkSchema(t, label, mc.method, mc.path, resp.status, resp.body)
			}
		}
	}
	for _, rt := range f.api.routes {
		if !covered[rt.method+" "+rt.path] {
			t.Errorf("route %s %s is not in the permission matrix", rt.method, rt.path)
		}
	}
}

func (f *fixture) mintToken(t *testing.T, token string) (string, string) {
	t.Helper()
	resp := f.do(t, token, "POST", "/api/v1/auth/tokens", map[string]any{"name": "spare"})
	if resp.status != 201 {
		t.Fatalf("mint: %d %s", resp.status, resp.body)
	}
	var ct CreatedToken
	resp.decode(t, &ct)
	return ct.Token, ct.ID
}

func (s *Server) findRoute(method, path string) *route {
	for _, rt := range s.routes {
		if rt.method == method && rt.path == path {
			return rt
		}
	}
	panic("no route " + method + " " + path)
}

func (f *fixture) wantDeniedLogged(t *testing.T, code, actorID string) {
	t.Helper()
	logs, _, err := f.store.FindOperationLogs(context.Background(), atrium.OperationLogFilter{ActorID: actorID, Action: code, Result: atrium.ResultDenied, Limit: 1})
	if err != nil || len(logs) == 0 {
		t.Errorf("denial of %s by %s not in the operation log (err %v)", code, actorID, err)
	}
}

// checkSchema asserts that every field of the response is documented in the
// OpenAPI schema of the route, keeping the document in step with handlers.
func (f *fixture) checkSchema(t *testing.T, label, method, path string, status int, body []byte) {
	t.Helper()
	doc := f.api.OpenAPI()
	op := doc["paths"].(map[string]map[string]any)[path][strings.ToLower(method)].(map[string]any)
	content := op["responses"].(map[string]any)[itoa(status)].(map[string]any)["content"].(map[string]any)
	sch := content["application/json"].(map[string]any)["schema"].(map[string]any)
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	if err := conforms(v, sch, schemas, "$"); err != nil {
		t.Errorf("%s: response does not match the OpenAPI schema: %v", label, err)
	}
}

func conforms(v any, sch map[string]any, schemas map[string]any, at string) error {
	if ref, ok := sch["$ref"].(string); ok {
		sch = schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	if len(sch) == 0 {
		return nil // any JSON value
	}
	switch x := v.(type) {
	case map[string]any:
		if sch["type"] != "object" {
			return fmt.Errorf("%s: got an object, schema says %v", at, sch["type"])
		}
		if ap, ok := sch["additionalProperties"].(map[string]any); ok {
			for k, e := range x {
				if err := conforms(e, ap, schemas, at+"."+k); err != nil {
					return err
				}
			}
			return nil
		}
		props, _ := sch["properties"].(map[string]any)
		for k, e := range x {
			ps, ok := props[k].(map[string]any)
			if !ok {
				return fmt.Errorf("%s.%s: not in the schema", at, k)
			}
			if err := conforms(e, ps, schemas, at+"."+k); err != nil {
				return err
			}
		}
		if req, ok := sch["required"].([]string); ok {
			for _, k := range req {
				if _, ok := x[k]; !ok {
					return fmt.Errorf("%s.%s: required by the schema but missing", at, k)
				}
			}
		}
	case []any:
		if sch["type"] != "array" {
			return fmt.Errorf("%s: got an array, schema says %v", at, sch["type"])
		}
		for i, e := range x {
			if err := conforms(e, sch["items"].(map[string]any), schemas, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case string:
		if sch["type"] != "string" {
			return fmt.Errorf("%s: got a string, schema says %v", at, sch["type"])
		}
	case bool:
		if sch["type"] != "boolean" {
			return fmt.Errorf("%s: got a boolean, schema says %v", at, sch["type"])
		}
	case float64:
		if sch["type"] != "integer" && sch["type"] != "number" {
			return fmt.Errorf("%s: got a number, schema says %v", at, sch["type"])
		}
	}
	return nil
}
