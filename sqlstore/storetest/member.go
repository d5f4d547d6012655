package storetest

import (
	"strings"
	"sync"
	"testing"

	"atrium"
)

func testAddMembers(t *testing.T, s atrium.Store) {
	alice, bob, carol := mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol")
	w := mustWorkspace(t, s, "Vision", alice)
	wantNoErr(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Zeta"}))
	wantNoErr(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Beta"}))

	ms, err := s.AddMembers(ctx, w.ID, []atrium.MemberParams{
		// Roles given out of order and once twice; they come back deduplicated
		// in built-in order, then custom roles by name.
		{UserID: bob.ID, Roles: []string{"Zeta", atrium.RoleWorkspaceGuest, "Beta", atrium.RoleWorkspaceAdmin, atrium.RoleWorkspaceGuest}},
		{UserID: carol.ID, Roles: []string{atrium.RoleAlgoDeveloper}},
	})
	wantNoErr(t, err)
	if len(ms) != 2 {
		t.Fatalf("AddMembers returned %d members", len(ms))
	}
	wantRoles := []string{atrium.RoleWorkspaceAdmin, atrium.RoleWorkspaceGuest, "Beta", "Zeta"}
	mb := ms[0]
	if !atrium.HasPrefix(mb.ID, atrium.PrefixMember) || mb.WorkspaceID != w.ID || mb.UserID != bob.ID ||
		mb.UserName != "bob" || mb.DisplayName != bob.DisplayName || mb.CreatedAt.IsZero() {
		t.Fatalf("member = %+v", mb)
	}
	wantEqual(t, "roles", mb.Roles, wantRoles)

	got, err := s.FindMemberByID(ctx, w.ID, mb.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindMemberByID", got, mb)
	got, err = s.FindMemberByUser(ctx, w.ID, carol.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindMemberByUser", got, ms[1])

	// A member of one workspace is not found through another.
	other := mustWorkspace(t, s, "Other", alice)
	_, err = s.FindMemberByID(ctx, other.ID, mb.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindMemberByUser(ctx, other.ID, bob.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindMemberByID(ctx, w.ID, "mem-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)
}

func testAddMembersErrors(t *testing.T, s atrium.Store) {
	alice, bob, carol := mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol")
	w := mustWorkspace(t, s, "Vision", alice)
	other := mustWorkspace(t, s, "Other", alice)
	wantNoErr(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: other.ID, Name: "OtherRole"}))

	tests := []struct {
		name  string
		ws    string
		ms    []atrium.MemberParams
		code  string
		field string
		msg   string
	}{
		{"unknown workspace", "ws-nosuch", []atrium.MemberParams{{UserID: bob.ID, Roles: []string{atrium.RoleWorkspaceGuest}}}, atrium.ENOTFOUND, "", "ws-nosuch"},
		{"no members", w.ID, nil, atrium.EINVALID, "members", ""},
		{"unknown user", w.ID, []atrium.MemberParams{
			{UserID: bob.ID, Roles: []string{atrium.RoleWorkspaceGuest}},
			{UserID: "u-nobody", Roles: []string{atrium.RoleWorkspaceGuest}},
		}, atrium.ENOTFOUND, "", "u-nobody"},
		{"already a member", w.ID, []atrium.MemberParams{
			{UserID: bob.ID, Roles: []string{atrium.RoleWorkspaceGuest}},
			{UserID: alice.ID, Roles: []string{atrium.RoleWorkspaceGuest}},
		}, atrium.ECONFLICT, "", alice.ID},
		{"unknown role", w.ID, []atrium.MemberParams{
			{UserID: bob.ID, Roles: []string{atrium.RoleWorkspaceGuest}},
			{UserID: carol.ID, Roles: []string{atrium.RoleAlgoOperator, "Wizard"}},
		}, atrium.EINVALID, "members[1].roles[1]", "Wizard"},
		{"another workspace's role", w.ID, []atrium.MemberParams{{UserID: bob.ID, Roles: []string{"OtherRole"}}}, atrium.EINVALID, "members[0].roles[0]", "OtherRole"},
		{"platform role", w.ID, []atrium.MemberParams{{UserID: bob.ID, Roles: []string{atrium.RoleResourceAdmin}}}, atrium.EINVALID, "members[0].roles[0]", ""},
		{"no roles", w.ID, []atrium.MemberParams{{UserID: bob.ID}}, atrium.EINVALID, "members[0].roles", ""},
		{"user twice", w.ID, []atrium.MemberParams{
			{UserID: bob.ID, Roles: []string{atrium.RoleWorkspaceGuest}},
			{UserID: bob.ID, Roles: []string{atrium.RoleWorkspaceAdmin}},
		}, atrium.EINVALID, "members[1].userId", ""},
	}
	for _, tt := range tests {
		_, err := s.AddMembers(ctx, tt.ws, tt.ms)
		if atrium.ErrorCode(err) != tt.code {
			t.Fatalf("%s: error = %v, want code %s", tt.name, err, tt.code)
		}
		e := atrium.AsError(err)
		if e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
			t.Fatalf("%s: error = %+v, want field %q and a message naming %q", tt.name, e, tt.field, tt.msg)
		}
	}
	// All or none: bob, valid in every failing request, was never added.
	_, err := s.FindMemberByUser(ctx, w.ID, bob.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	_, n, err := s.FindMembers(ctx, atrium.MemberFilter{WorkspaceID: w.ID})
	wantNoErr(t, err)
	if n != 1 {
		t.Fatalf("members = %d, want only the owner", n)
	}
}

func memberNames(ms []*atrium.Member) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.UserName)
	}
	return out
}

func testFindMembers(t *testing.T, s atrium.Store) {
	dave := mustUser(t, s, "dave")
	w := mustWorkspace(t, s, "Vision", dave)
	other := mustWorkspace(t, s, "Other", dave)
	wantNoErr(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Labeler"}))
	users := map[string]*atrium.User{}
	for _, n := range []string{"erin", "alice", "carol", "bob"} {
		users[n] = mustUser(t, s, n)
	}
	_, err := s.AddMembers(ctx, w.ID, []atrium.MemberParams{
		{UserID: users["erin"].ID, Roles: []string{atrium.RoleAlgoDeveloper}},
		{UserID: users["alice"].ID, Roles: []string{atrium.RoleAlgoDeveloper, "Labeler"}},
		{UserID: users["carol"].ID, Roles: []string{atrium.RoleWorkspaceGuest}},
		{UserID: users["bob"].ID, Roles: []string{"Labeler"}},
	})
	wantNoErr(t, err)
	mustAddMember(t, s, other, users["carol"], atrium.RoleAlgoDeveloper)

	tests := []struct {
		name  string
		f     atrium.MemberFilter
		want  []string
		total int
	}{
		{"all by user name", atrium.MemberFilter{WorkspaceID: w.ID}, []string{"alice", "bob", "carol", "dave", "erin"}, 5},
		{"page", atrium.MemberFilter{WorkspaceID: w.ID, Offset: 1, Limit: 3}, []string{"bob", "carol", "dave"}, 5},
		{"offset only", atrium.MemberFilter{WorkspaceID: w.ID, Offset: 4}, []string{"erin"}, 5},
		{"role", atrium.MemberFilter{WorkspaceID: w.ID, Role: atrium.RoleAlgoDeveloper}, []string{"alice", "erin"}, 2},
		{"custom role", atrium.MemberFilter{WorkspaceID: w.ID, Role: "Labeler"}, []string{"alice", "bob"}, 2},
		{"owner", atrium.MemberFilter{WorkspaceID: w.ID, Role: atrium.RoleWorkspaceOwner}, []string{"dave"}, 1},
		{"role page", atrium.MemberFilter{WorkspaceID: w.ID, Role: atrium.RoleAlgoDeveloper, Offset: 1, Limit: 1}, []string{"erin"}, 2},
		{"user", atrium.MemberFilter{WorkspaceID: w.ID, UserID: ptr(users["carol"].ID)}, []string{"carol"}, 1},
		{"like name", atrium.MemberFilter{WorkspaceID: w.ID, NameLike: "RO"}, []string{"carol"}, 1},
		{"like display name", atrium.MemberFilter{WorkspaceID: w.ID, NameLike: "user e"}, []string{"erin"}, 1},
		{"like and role", atrium.MemberFilter{WorkspaceID: w.ID, NameLike: "b", Role: "Labeler"}, []string{"bob"}, 1},
		{"other workspace", atrium.MemberFilter{WorkspaceID: other.ID}, []string{"carol", "dave"}, 2},
		{"unknown workspace", atrium.MemberFilter{WorkspaceID: "ws-nosuch"}, []string{}, 0},
	}
	for _, tt := range tests {
		ms, n, err := s.FindMembers(ctx, tt.f)
		wantNoErr(t, err)
		wantEqual(t, tt.name, memberNames(ms), tt.want)
		if n != tt.total {
			t.Fatalf("%s: total = %d, want %d", tt.name, n, tt.total)
		}
	}
	// Every row carries its full, sorted role list, even when filtered by one role.
	ms, _, err := s.FindMembers(ctx, atrium.MemberFilter{WorkspaceID: w.ID, Role: "Labeler"})
	wantNoErr(t, err)
	wantEqual(t, "alice's roles", ms[0].Roles, []string{atrium.RoleAlgoDeveloper, "Labeler"})
	if ms[0].UserID != users["alice"].ID || ms[0].DisplayName != users["alice"].DisplayName {
		t.Fatalf("member user fields = %+v", ms[0])
	}
}

func testMemberRoles(t *testing.T, s atrium.Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	w := mustWorkspace(t, s, "Vision", alice)
	wantNoErr(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Labeler"}))
	m := mustAddMember(t, s, w, bob, atrium.RoleWorkspaceGuest)

	got, err := s.AddMemberRole(ctx, w.ID, m.ID, "Labeler")
	wantNoErr(t, err)
	wantEqual(t, "after add", got.Roles, []string{atrium.RoleWorkspaceGuest, "Labeler"})
	got, err = s.AddMemberRole(ctx, w.ID, m.ID, atrium.RoleAlgoDeveloper)
	wantNoErr(t, err)
	wantEqual(t, "after second add", got.Roles, []string{atrium.RoleAlgoDeveloper, atrium.RoleWorkspaceGuest, "Labeler"})
	// Idempotent.
	got, err = s.AddMemberRole(ctx, w.ID, m.ID, "Labeler")
	wantNoErr(t, err)
	wantEqual(t, "after repeated add", got.Roles, []string{atrium.RoleAlgoDeveloper, atrium.RoleWorkspaceGuest, "Labeler"})
	read, err := s.FindMemberByID(ctx, w.ID, m.ID)
	wantNoErr(t, err)
	wantEqual(t, "read back", read, got)

	_, err = s.AddMemberRole(ctx, w.ID, m.ID, "Wizard")
	if e := wantCode(t, err, atrium.EINVALID); e.Field != "role" || !strings.Contains(e.Message, "Wizard") {
		t.Fatalf("unknown role error = %+v", e)
	}
	_, err = s.AddMemberRole(ctx, w.ID, "mem-nosuch", atrium.RoleWorkspaceGuest)
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.AddMemberRole(ctx, "ws-nosuch", m.ID, atrium.RoleWorkspaceGuest)
	wantCode(t, err, atrium.ENOTFOUND)

	got, err = s.RemoveMemberRole(ctx, w.ID, m.ID, atrium.RoleWorkspaceGuest)
	wantNoErr(t, err)
	wantEqual(t, "after remove", got.Roles, []string{atrium.RoleAlgoDeveloper, "Labeler"})
	_, err = s.RemoveMemberRole(ctx, w.ID, m.ID, atrium.RoleWorkspaceGuest)
	wantCode(t, err, atrium.ENOTFOUND)
	got, err = s.RemoveMemberRole(ctx, w.ID, m.ID, "Labeler")
	wantNoErr(t, err)
	wantEqual(t, "after second remove", got.Roles, []string{atrium.RoleAlgoDeveloper})

	// The last role stays: a member without roles must be removed instead.
	_, err = s.RemoveMemberRole(ctx, w.ID, m.ID, atrium.RoleAlgoDeveloper)
	if e := wantCode(t, err, atrium.ECONFLICT); !strings.Contains(e.Message, "at least one role") {
		t.Fatalf("last role message = %q, want it to state the rule", e.Message)
	}
	read, err = s.FindMemberByID(ctx, w.ID, m.ID)
	wantNoErr(t, err)
	wantEqual(t, "roles after refused remove", read.Roles, []string{atrium.RoleAlgoDeveloper})

	wantNoErr(t, s.DeleteMember(ctx, w.ID, m.ID))
	_, err = s.FindMemberByID(ctx, w.ID, m.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	wantCode(t, s.DeleteMember(ctx, w.ID, m.ID), atrium.ENOTFOUND)
	// The user can join again.
	mustAddMember(t, s, w, bob, atrium.RoleWorkspaceGuest)
}

func testOwnerRules(t *testing.T, s atrium.Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	w := mustWorkspace(t, s, "Vision", alice)
	owner := mustOwnerMember(t, s, w)

	// The only owner can neither leave nor drop the role, even with other roles.
	_, err := s.AddMemberRole(ctx, w.ID, owner.ID, atrium.RoleWorkspaceAdmin)
	wantNoErr(t, err)
	_, err = s.RemoveMemberRole(ctx, w.ID, owner.ID, atrium.RoleWorkspaceOwner)
	if e := wantCode(t, err, atrium.ECONFLICT); !strings.Contains(e.Message, "at least one WorkspaceOwner") {
		t.Fatalf("last owner message = %q, want it to state the rule", e.Message)
	}
	err = s.DeleteMember(ctx, w.ID, owner.ID)
	if e := wantCode(t, err, atrium.ECONFLICT); !strings.Contains(e.Message, "at least one WorkspaceOwner") {
		t.Fatalf("last owner message = %q, want it to state the rule", e.Message)
	}

	// With a second owner, the first may go.
	m := mustAddMember(t, s, w, bob, atrium.RoleWorkspaceOwner)
	got, err := s.RemoveMemberRole(ctx, w.ID, owner.ID, atrium.RoleWorkspaceOwner)
	wantNoErr(t, err)
	wantEqual(t, "former owner's roles", got.Roles, []string{atrium.RoleWorkspaceAdmin})
	wantCode(t, s.DeleteMember(ctx, w.ID, m.ID), atrium.ECONFLICT)
	wantNoErr(t, s.DeleteMember(ctx, w.ID, owner.ID))
	owners, _, err := s.FindMembers(ctx, atrium.MemberFilter{WorkspaceID: w.ID, Role: atrium.RoleWorkspaceOwner})
	wantNoErr(t, err)
	wantEqual(t, "owners", memberNames(owners), []string{"bob"})
}

// testOwnerRulesConcurrent has two owners drop their owner role at the same
// time: exactly one may succeed, or the workspace would be left ownerless.
func testOwnerRulesConcurrent(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	for round := range 5 {
		bob := mustUser(t, s, "bob"+string(rune('a'+round)))
		w := mustWorkspace(t, s, "Race"+string(rune('a'+round)), alice)
		first := mustOwnerMember(t, s, w)
		_, err := s.AddMemberRole(ctx, w.ID, first.ID, atrium.RoleWorkspaceGuest)
		wantNoErr(t, err)
		second := mustAddMember(t, s, w, bob, atrium.RoleWorkspaceOwner, atrium.RoleWorkspaceGuest)

		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, m := range []*atrium.Member{first, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.RemoveMemberRole(ctx, w.ID, m.ID, atrium.RoleWorkspaceOwner)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch atrium.ErrorCode(err) {
			case "":
				ok++
			case atrium.ECONFLICT:
			default:
				t.Fatalf("RemoveMemberRole: %v", err)
			}
		}
		owners, _, err := s.FindMembers(ctx, atrium.MemberFilter{WorkspaceID: w.ID, Role: atrium.RoleWorkspaceOwner})
		wantNoErr(t, err)
		if ok != 1 || len(owners) != 1 {
			t.Fatalf("round %d: %d removals succeeded, %d owners left; want 1 and 1", round, ok, len(owners))
		}
	}
}
