package storetest

import (
	"testing"
	"time"

	"atrium"
)

func testCreateWorkspace(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w := &atrium.Workspace{Name: "Vision", DisplayName: "Vision team", Description: "images", EnvTypes: []string{"prod"}, Creator: alice.ID}
	wantNoErr(t, s.CreateWorkspace(ctx, w))
	if !atrium.HasPrefix(w.ID, atrium.PrefixWorkspace) || w.Status != atrium.WorkspaceEnabled || w.CreatedAt.IsZero() || !w.UpdatedAt.Equal(w.CreatedAt) {
		t.Fatalf("workspace = %+v, want ID, Status and timestamps set", w)
	}
	got, err := s.FindWorkspaceByID(ctx, w.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindWorkspaceByID", got, w)

	// The creator is the first owner, in the same transaction.
	m, err := s.FindMemberByUser(ctx, w.ID, alice.ID)
	wantNoErr(t, err)
	want := &atrium.Member{
		ID: m.ID, WorkspaceID: w.ID, UserID: alice.ID, UserName: "alice", DisplayName: alice.DisplayName,
		Roles: []string{atrium.RoleWorkspaceOwner}, CreatedAt: w.CreatedAt,
	}
	wantEqual(t, "creator membership", m, want)
	if !atrium.HasPrefix(m.ID, atrium.PrefixMember) {
		t.Fatalf("member ID = %q", m.ID)
	}
}

func testCreateWorkspaceErrors(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	mustWorkspace(t, s, "Vision", alice)

	err := s.CreateWorkspace(ctx, &atrium.Workspace{Name: "Vision", EnvTypes: []string{"prod"}, Creator: alice.ID})
	wantCode(t, err, atrium.ECONFLICT)
	err = s.CreateWorkspace(ctx, &atrium.Workspace{Name: "Ghost", EnvTypes: []string{"prod"}, Creator: "u-nobody"})
	wantCode(t, err, atrium.ENOTFOUND)

	ws, n, err := s.FindWorkspaces(ctx, atrium.WorkspaceFilter{})
	wantNoErr(t, err)
	if n != 1 || len(ws) != 1 {
		t.Fatalf("workspaces = %d, want 1 after failed creates", n)
	}
	_, err = s.FindWorkspaceByID(ctx, "ws-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)
}

func wsNames(ws []*atrium.Workspace) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.Name)
	}
	return out
}

func testFindWorkspaces(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	// Created in this order, a second apart: beta, Alpha, gamma, delta.
	byName := map[string]*atrium.Workspace{}
	for _, n := range []string{"beta", "Alpha", "gamma", "delta"} {
		creator := alice
		if n == "gamma" {
			creator = bob
		}
		byName[n] = mustWorkspace(t, s, n, creator)
		c.Add(time.Second)
	}
	mustAddMember(t, s, byName["delta"], bob, atrium.RoleWorkspaceGuest)
	wantNoErr(t, s.CreateWorkspace(ctx, &atrium.Workspace{Name: "Odd100", DisplayName: "The ODD one", EnvTypes: []string{"prod"}, Creator: alice.ID, Status: "DISABLED"}))

	tests := []struct {
		name  string
		f     atrium.WorkspaceFilter
		want  []string
		total int
	}{
		// Names sort byte-wise: upper case first, on every engine.
		{"default by name", atrium.WorkspaceFilter{}, []string{"Alpha", "Odd100", "beta", "delta", "gamma"}, 5},
		{"name desc", atrium.WorkspaceFilter{SortBy: "name", Desc: true}, []string{"gamma", "delta", "beta", "Odd100", "Alpha"}, 5},
		{"createdAt", atrium.WorkspaceFilter{SortBy: "createdAt"}, []string{"beta", "Alpha", "gamma", "delta", "Odd100"}, 5},
		{"createdAt desc page", atrium.WorkspaceFilter{SortBy: "createdAt", Desc: true, Offset: 1, Limit: 2}, []string{"delta", "gamma"}, 5},
		{"offset only", atrium.WorkspaceFilter{Offset: 3}, []string{"delta", "gamma"}, 5},
		{"ids", atrium.WorkspaceFilter{IDs: []string{byName["gamma"].ID, byName["beta"].ID, "ws-nosuch"}}, []string{"beta", "gamma"}, 2},
		{"empty ids", atrium.WorkspaceFilter{IDs: []string{}}, []string{}, 0},
		{"member bob", atrium.WorkspaceFilter{MemberID: bob.ID}, []string{"delta", "gamma"}, 2},
		{"member alice", atrium.WorkspaceFilter{MemberID: alice.ID, Limit: 2}, []string{"Alpha", "Odd100"}, 4},
		{"member nobody", atrium.WorkspaceFilter{MemberID: "u-nobody"}, []string{}, 0},
		{"name", atrium.WorkspaceFilter{Name: ptr("delta")}, []string{"delta"}, 1},
		{"name is exact", atrium.WorkspaceFilter{Name: ptr("DELTA")}, []string{}, 0},
		{"like name", atrium.WorkspaceFilter{NameLike: "ALP"}, []string{"Alpha"}, 1},
		{"like display name", atrium.WorkspaceFilter{NameLike: "odd ONE"}, []string{"Odd100"}, 1},
		{"status", atrium.WorkspaceFilter{Status: ptr(atrium.WorkspaceEnabled)}, []string{"Alpha", "beta", "delta", "gamma"}, 4},
		{"combined", atrium.WorkspaceFilter{MemberID: bob.ID, NameLike: "ta"}, []string{"delta"}, 1},
	}
	for _, tt := range tests {
		ws, n, err := s.FindWorkspaces(ctx, tt.f)
		wantNoErr(t, err)
		wantEqual(t, tt.name, wsNames(ws), tt.want)
		if n != tt.total {
			t.Fatalf("%s: total = %d, want %d", tt.name, n, tt.total)
		}
	}
	_, _, err := s.FindWorkspaces(ctx, atrium.WorkspaceFilter{SortBy: "color"})
	wantCode(t, err, atrium.EINVALID)
}

func testUpdateWorkspace(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "Vision", alice)
	c.Add(time.Hour)

	got, err := s.UpdateWorkspace(ctx, w.ID, atrium.WorkspaceUpdate{DisplayName: ptr("New name")})
	wantNoErr(t, err)
	want := *w
	want.DisplayName, want.UpdatedAt = "New name", stored(c.Now())
	wantEqual(t, "UpdateWorkspace", got, &want)

	got, err = s.UpdateWorkspace(ctx, w.ID, atrium.WorkspaceUpdate{Description: ptr("")})
	wantNoErr(t, err)
	want.Description = ""
	wantEqual(t, "UpdateWorkspace description", got, &want)
	read, err := s.FindWorkspaceByID(ctx, w.ID)
	wantNoErr(t, err)
	wantEqual(t, "read back", read, &want)

	_, err = s.UpdateWorkspace(ctx, "ws-nosuch", atrium.WorkspaceUpdate{DisplayName: ptr("x")})
	wantCode(t, err, atrium.ENOTFOUND)
}

func testDeleteWorkspace(t *testing.T, s atrium.Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	w := mustWorkspace(t, s, "Vision", alice)
	other := mustWorkspace(t, s, "Other", alice)
	wantNoErr(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Labeler", Permissions: []string{"Label:Read"}}))
	m := mustAddMember(t, s, w, bob, "Labeler", atrium.RoleAlgoDeveloper)
	actx := atrium.WithAudit(ctx, &atrium.Audit{ActorID: alice.ID, Action: "Workspace:Delete", RequestID: "req-del", Status: 204})

	wantNoErr(t, s.DeleteWorkspace(actx, w.ID))
	_, err := s.FindWorkspaceByID(ctx, w.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindMemberByID(ctx, w.ID, m.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	ms, n, err := s.FindMembers(ctx, atrium.MemberFilter{WorkspaceID: w.ID})
	wantNoErr(t, err)
	if n != 0 || len(ms) != 0 {
		t.Fatalf("members of deleted workspace = %d", n)
	}
	rs, err := s.FindRoles(ctx, w.ID)
	wantNoErr(t, err)
	if len(rs) != 0 {
		t.Fatalf("roles of deleted workspace = %v", dump(rs))
	}
	// Operation logs outlive the workspace.
	logs, _, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{WorkspaceID: &w.ID})
	wantNoErr(t, err)
	if len(logs) != 1 || logs[0].Action != "Workspace:Delete" {
		t.Fatalf("logs of deleted workspace = %v", dump(logs))
	}
	// Other workspaces and users are untouched; the name is free again.
	if _, err := s.FindMemberByUser(ctx, other.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindUserByID(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	mustWorkspace(t, s, "Vision", bob)

	wantCode(t, s.DeleteWorkspace(ctx, w.ID), atrium.ENOTFOUND)
}
