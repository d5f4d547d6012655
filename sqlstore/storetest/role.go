package storetest

import (
	"testing"
	"time"

	"atrium"
)

func testRoles(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	w := mustWorkspace(t, s, "Vision", alice)
	other := mustWorkspace(t, s, "Other", alice)

	lab := &atrium.Role{WorkspaceID: w.ID, Name: "Labeler", Description: "labels data", Permissions: []string{"Label:Read", "Label:Write"}}
	wantNoErr(t, s.CreateRole(ctx, lab))
	if !lab.CreatedAt.Equal(stored(clockStart)) || !lab.UpdatedAt.Equal(lab.CreatedAt) {
		t.Fatalf("role timestamps = %v, %v", lab.CreatedAt, lab.UpdatedAt)
	}
	aud := &atrium.Role{WorkspaceID: w.ID, Name: "Auditor"}
	wantNoErr(t, s.CreateRole(ctx, aud))
	// The same name in another workspace is a different role.
	wantNoErr(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: other.ID, Name: "Labeler"}))

	got, err := s.FindRole(ctx, w.ID, "Labeler")
	wantNoErr(t, err)
	wantEqual(t, "FindRole", got, lab)
	rs, err := s.FindRoles(ctx, w.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindRoles by name", rs, []*atrium.Role{aud, lab})
	if rs[0].Permissions == nil {
		t.Fatal("empty permissions came back nil")
	}
	rs, err = s.FindRoles(ctx, "ws-nosuch")
	wantNoErr(t, err)
	if len(rs) != 0 {
		t.Fatalf("FindRoles(unknown) = %v", dump(rs))
	}

	c.Add(time.Hour)
	upd, err := s.UpdateRole(ctx, w.ID, "Labeler", atrium.RoleUpdate{Permissions: []string{"Label:Read"}})
	wantNoErr(t, err)
	want := *lab
	want.Permissions, want.UpdatedAt = []string{"Label:Read"}, stored(c.Now())
	wantEqual(t, "UpdateRole permissions", upd, &want)
	upd, err = s.UpdateRole(ctx, w.ID, "Labeler", atrium.RoleUpdate{Description: ptr("reads labels")})
	wantNoErr(t, err)
	want.Description = "reads labels"
	wantEqual(t, "UpdateRole description", upd, &want)
	upd, err = s.UpdateRole(ctx, w.ID, "Labeler", atrium.RoleUpdate{Permissions: []string{}})
	wantNoErr(t, err)
	want.Permissions = []string{}
	wantEqual(t, "UpdateRole to no permissions", upd, &want)
	got, err = s.FindRole(ctx, w.ID, "Labeler")
	wantNoErr(t, err)
	wantEqual(t, "read back", got, &want)

	// A role in use cannot be deleted.
	m := mustAddMember(t, s, w, bob, "Labeler", atrium.RoleWorkspaceGuest)
	wantCode(t, s.DeleteRole(ctx, w.ID, "Labeler"), atrium.ECONFLICT)
	_, err = s.RemoveMemberRole(ctx, w.ID, m.ID, "Labeler")
	wantNoErr(t, err)
	wantNoErr(t, s.DeleteRole(ctx, w.ID, "Labeler"))
	_, err = s.FindRole(ctx, w.ID, "Labeler")
	wantCode(t, err, atrium.ENOTFOUND)
	// Deleting one workspace's role leaves the namesake elsewhere.
	if _, err := s.FindRole(ctx, other.ID, "Labeler"); err != nil {
		t.Fatal(err)
	}
	// And the deleted name can no longer be granted.
	_, err = s.AddMemberRole(ctx, w.ID, m.ID, "Labeler")
	wantCode(t, err, atrium.EINVALID)
}

func testRoleErrors(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "Vision", alice)
	wantNoErr(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Labeler"}))

	wantCode(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Labeler"}), atrium.ECONFLICT)
	wantCode(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: "ws-nosuch", Name: "Labeler"}), atrium.ENOTFOUND)
	wantCode(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: atrium.RoleWorkspaceAdmin}), atrium.EINVALID)
	wantCode(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "bad name!"}), atrium.EINVALID)

	_, err := s.FindRole(ctx, w.ID, "Nope")
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.UpdateRole(ctx, w.ID, "Nope", atrium.RoleUpdate{Description: ptr("x")})
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.UpdateRole(ctx, "ws-nosuch", "Labeler", atrium.RoleUpdate{Description: ptr("x")})
	wantCode(t, err, atrium.ENOTFOUND)
	wantCode(t, s.DeleteRole(ctx, w.ID, "Nope"), atrium.ENOTFOUND)

	rs, err := s.FindRoles(ctx, w.ID)
	wantNoErr(t, err)
	if len(rs) != 1 {
		t.Fatalf("roles = %v, want only Labeler", dump(rs))
	}
}
