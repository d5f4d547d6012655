package storetest

import (
	"context"
	"testing"
	"time"

	"atrium"
)

// testAccountMappings: a slurm group's default Unix account and the
// mappings of workspaces and users; a user's mapping wins over the
// workspace's, which wins over the default.
func testAccountMappings(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	w := mustWorkspace(t, s, "vision", alice)
	g := &atrium.ResourceGroup{Name: "hpc", Backend: atrium.BackendSlurm, Partition: "gpu", DefaultUnixAccount: "atrium-job"}
	wantNoErr(t, s.CreateResourceGroup(ctx, g))
	got, err := s.FindResourceGroupByID(ctx, g.ID)
	wantNoErr(t, err)
	wantEqual(t, "group with a default account", got, g)
	local := mustGroup(t, s, "pool")

	resolve := func(ws, user string) string {
		t.Helper()
		g, err := s.FindResourceGroupByID(ctx, g.ID)
		wantNoErr(t, err)
		a, err := atrium.ResolveUnixAccount(ctx, s, g, ws, user)
		if err != nil {
			return "error: " + err.Error()
		}
		return a
	}
	if a := resolve(w.ID, alice.ID); a != "atrium-job" {
		t.Fatalf("without mappings: %q, want the default", a)
	}

	wm := &atrium.AccountMapping{GroupID: g.ID, WorkspaceID: w.ID, UnixAccount: "vision"}
	wantNoErr(t, s.PutAccountMapping(ctx, wm))
	if !wm.CreatedAt.Equal(stored(clockStart)) || !wm.UpdatedAt.Equal(wm.CreatedAt) {
		t.Fatalf("mapping timestamps %v %v", wm.CreatedAt, wm.UpdatedAt)
	}
	um := &atrium.AccountMapping{GroupID: g.ID, UserID: bob.ID, UnixAccount: "bob"}
	wantNoErr(t, s.PutAccountMapping(ctx, um))
	if a := resolve(w.ID, alice.ID); a != "vision" {
		t.Fatalf("alice in vision: %q, want the workspace's", a)
	}
	if a := resolve(w.ID, bob.ID); a != "bob" {
		t.Fatalf("bob in vision: %q, want his own (a user's mapping wins)", a)
	}
	if a := resolve("ws-other", alice.ID); a != "atrium-job" {
		t.Fatalf("alice elsewhere: %q, want the default", a)
	}

	// Replacing keeps CreatedAt; the list is workspaces first, then users.
	c.Add(time.Hour)
	wm2 := &atrium.AccountMapping{GroupID: g.ID, WorkspaceID: w.ID, UnixAccount: "vision2"}
	wantNoErr(t, s.PutAccountMapping(ctx, wm2))
	if !wm2.CreatedAt.Equal(wm.CreatedAt) || !wm2.UpdatedAt.Equal(stored(c.Now())) {
		t.Fatalf("replaced mapping timestamps %v %v", wm2.CreatedAt, wm2.UpdatedAt)
	}
	all, err := s.FindAccountMappings(ctx, atrium.AccountMappingFilter{GroupID: g.ID})
	wantNoErr(t, err)
	wantEqual(t, "FindAccountMappings", all, []*atrium.AccountMapping{wm2, um})
	mine, err := s.FindAccountMappings(ctx, atrium.AccountMappingFilter{GroupID: g.ID, ForWorkspace: "ws-other", ForUser: bob.ID})
	wantNoErr(t, err)
	wantEqual(t, "FindAccountMappings for bob elsewhere", mine, []*atrium.AccountMapping{um})
	none, err := s.FindAccountMappings(ctx, atrium.AccountMappingFilter{GroupID: local.ID})
	wantNoErr(t, err)
	wantEqual(t, "FindAccountMappings of another group", none, []*atrium.AccountMapping{})

	// Errors.
	wantCode(t, s.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: "rg-nosuch", WorkspaceID: w.ID, UnixAccount: "x"}), atrium.ENOTFOUND)
	wantCode(t, s.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: g.ID, WorkspaceID: "ws-nosuch", UnixAccount: "x"}), atrium.ENOTFOUND)
	wantCode(t, s.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: g.ID, UserID: "u-nosuch", UnixAccount: "x"}), atrium.ENOTFOUND)
	wantField(t, s.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: local.ID, WorkspaceID: w.ID, UnixAccount: "x"}), "resourceGroupId")
	wantField(t, s.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: g.ID, WorkspaceID: w.ID, UserID: bob.ID, UnixAccount: "x"}), "workspaceId")
	wantField(t, s.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: g.ID, UnixAccount: "x"}), "workspaceId")
	wantField(t, s.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: g.ID, UserID: bob.ID}), "unixAccount")
	wantCode(t, s.DeleteAccountMapping(ctx, g.ID, "", alice.ID), atrium.ENOTFOUND)
	wantField(t, s.DeleteAccountMapping(ctx, g.ID, "", ""), "workspaceId")

	// Deleting the user's mapping falls back to the workspace's; clearing
	// the default leaves nothing for other workspaces, and the error says
	// how to fix it.
	wantNoErr(t, s.DeleteAccountMapping(ctx, g.ID, "", bob.ID))
	wantCode(t, s.DeleteAccountMapping(ctx, g.ID, "", bob.ID), atrium.ENOTFOUND)
	if a := resolve(w.ID, bob.ID); a != "vision2" {
		t.Fatalf("bob after his mapping is gone: %q", a)
	}
	upd, err := s.UpdateResourceGroup(ctx, g.ID, atrium.ResourceGroupUpdate{DefaultUnixAccount: ptr("")})
	wantNoErr(t, err)
	if upd.DefaultUnixAccount != "" || upd.Partition != "gpu" {
		t.Fatalf("after clearing the default: %+v", upd)
	}
	if a := resolve("ws-other", bob.ID); a != "error: no Unix account is mapped for workspace ws-other (or user "+bob.ID+
		") on Slurm resource group hpc, and the group has no default; a ResourceAdmin sets one with 'atrium rg account set hpc ACCOUNT --workspace ws-other' (or --user, or --default)" {
		t.Fatalf("no account: %s", a)
	}
	upd, err = s.UpdateResourceGroup(ctx, g.ID, atrium.ResourceGroupUpdate{DefaultUnixAccount: ptr("atrium-job2")})
	wantNoErr(t, err)
	if upd.DefaultUnixAccount != "atrium-job2" {
		t.Fatalf("default not set: %+v", upd)
	}

	// Mappings go with their workspace and with their group.
	wantNoErr(t, s.PutAccountMapping(ctx, um))
	wantNoErr(t, s.DeleteWorkspace(ctx, w.ID))
	all, err = s.FindAccountMappings(ctx, atrium.AccountMappingFilter{GroupID: g.ID})
	wantNoErr(t, err)
	wantEqual(t, "after the workspace is deleted", all, []*atrium.AccountMapping{um})
	wantNoErr(t, s.DeleteResourceGroup(ctx, g.ID))
	all, err = s.FindAccountMappings(ctx, atrium.AccountMappingFilter{GroupID: g.ID})
	wantNoErr(t, err)
	wantEqual(t, "after the group is deleted", all, []*atrium.AccountMapping{})
}

// testAccountMappingsAudit: every mapping write is one operation log line in
// its own transaction; a workspace's mapping shows in that workspace's log.
func testAccountMappingsAudit(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	g := &atrium.ResourceGroup{Name: "hpc", Backend: atrium.BackendSlurm}
	wantNoErr(t, s.CreateResourceGroup(ctx, g))
	str := func(s string) func() string { return func() string { return s } }
	wsTarget, userTarget := g.ID+"/accounts/workspaces/"+w.ID, g.ID+"/accounts/users/"+alice.ID
	runAuditSteps(t, s, c, alice, []auditStep{
		{"PutWorkspaceAccount", func(ctx context.Context) error {
			return s.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: g.ID, WorkspaceID: w.ID, UnixAccount: "vision"})
		}, str(w.ID), str(wsTarget)},
		{"PutUserAccount", func(ctx context.Context) error {
			return s.PutAccountMapping(ctx, &atrium.AccountMapping{GroupID: g.ID, UserID: alice.ID, UnixAccount: "alice"})
		}, str(""), str(userTarget)},
		{"DeleteWorkspaceAccount", func(ctx context.Context) error {
			return s.DeleteAccountMapping(ctx, g.ID, w.ID, "")
		}, str(w.ID), str(wsTarget)},
		{"DeleteUserAccount", func(ctx context.Context) error {
			return s.DeleteAccountMapping(ctx, g.ID, "", alice.ID)
		}, str(""), str(userTarget)},
	})
}
