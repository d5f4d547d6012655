package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"atrium"
)

func logIDs(ls []*atrium.OperationLog) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}

func testOperationLogs(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	wsA, wsB := "ws-a", "ws-b"
	mk := func(ws, actor, action, result string) *atrium.OperationLog {
		l := &atrium.OperationLog{
			WorkspaceID: ws, ActorID: actor, ActorName: "name-" + actor, Action: action, Target: "tgt",
			Result: result, StatusCode: 200, Detail: "detail", RequestID: "req-" + action,
		}
		wantNoErr(t, s.AppendOperationLog(ctx, l))
		c.Add(time.Second)
		return l
	}
	l0 := mk(wsA, "u-1", "Workspace:CreateMember", atrium.ResultSucceeded)
	l1 := mk("", "u-2", "Platform:CreateUser", atrium.ResultSucceeded)
	l2 := mk(wsB, "u-1", "Workspace:CreateMember", atrium.ResultDenied)
	l3 := mk(wsA, "u-2", "Workspace:DeleteMember", atrium.ResultFailed)
	if !atrium.HasPrefix(l0.ID, atrium.PrefixOpLog) || !l0.Time.Equal(stored(clockStart)) {
		t.Fatalf("log = %+v, want ID and Time set from the clock", l0)
	}
	// An explicit time is kept (in UTC, to the microsecond), even an old one.
	old := time.Date(2020, 1, 1, 0, 0, 0, 1500, time.FixedZone("x", 3600))
	l4 := &atrium.OperationLog{ID: "op-explicit", Action: "Old", Result: atrium.ResultSucceeded, Time: old}
	wantNoErr(t, s.AppendOperationLog(ctx, l4))
	if l4.ID != "op-explicit" || !l4.Time.Equal(stored(old)) {
		t.Fatalf("explicit log = %+v", l4)
	}

	all, n, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{})
	wantNoErr(t, err)
	if n != 5 {
		t.Fatalf("total = %d, want 5", n)
	}
	wantEqual(t, "newest first", all, []*atrium.OperationLog{l3, l2, l1, l0, l4})

	tests := []struct {
		name  string
		f     atrium.OperationLogFilter
		want  []*atrium.OperationLog
		total int
	}{
		{"workspace", atrium.OperationLogFilter{WorkspaceID: &wsA}, []*atrium.OperationLog{l3, l0}, 2},
		{"platform only", atrium.OperationLogFilter{WorkspaceID: ptr("")}, []*atrium.OperationLog{l1, l4}, 2},
		{"actor", atrium.OperationLogFilter{ActorID: "u-1"}, []*atrium.OperationLog{l2, l0}, 2},
		{"action", atrium.OperationLogFilter{Action: "Workspace:CreateMember"}, []*atrium.OperationLog{l2, l0}, 2},
		{"result", atrium.OperationLogFilter{Result: atrium.ResultDenied}, []*atrium.OperationLog{l2}, 1},
		{"combined", atrium.OperationLogFilter{WorkspaceID: &wsA, ActorID: "u-2"}, []*atrium.OperationLog{l3}, 1},
		{"page", atrium.OperationLogFilter{Offset: 1, Limit: 2}, []*atrium.OperationLog{l2, l1}, 5},
		{"offset only", atrium.OperationLogFilter{Offset: 4}, []*atrium.OperationLog{l4}, 5},
		{"none", atrium.OperationLogFilter{ActorID: "u-nobody"}, []*atrium.OperationLog{}, 0},
	}
	for _, tt := range tests {
		ls, n, err := s.FindOperationLogs(ctx, tt.f)
		wantNoErr(t, err)
		wantEqual(t, tt.name, ls, tt.want)
		if n != tt.total {
			t.Fatalf("%s: total = %d, want %d", tt.name, n, tt.total)
		}
	}

	// Same time: the id breaks the tie, descending.
	c.Add(time.Hour)
	x := &atrium.OperationLog{ID: "op-x", Action: "Tie"}
	y := &atrium.OperationLog{ID: "op-y", Action: "Tie"}
	wantNoErr(t, s.AppendOperationLog(ctx, x))
	wantNoErr(t, s.AppendOperationLog(ctx, y))
	ls, _, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{Action: "Tie"})
	wantNoErr(t, err)
	wantEqual(t, "tie order", logIDs(ls), []string{"op-y", "op-x"})
}

// auditStep is one mutating call made with an audit record in its context,
// and the workspace and target its log line must name.
type auditStep struct {
	name   string
	call   func(ctx context.Context) error
	ws     func() string
	target func() string
}

// runAuditSteps makes each call as alice with an audit record in its
// context, one clock second apart, and checks it wrote exactly its one log
// line, in the same transaction, naming workspace and target. It returns the
// line ids, newest first.
func runAuditSteps(t *testing.T, s atrium.Store, c *Clock, alice *atrium.User, steps []auditStep) []string {
	t.Helper()
	var all []string
	for i, st := range steps {
		c.Add(time.Second)
		a := &atrium.Audit{ActorID: alice.ID, ActorName: "alice", Action: "Test:" + st.name, RequestID: fmt.Sprintf("req-%d", i), Status: 200 + i}
		if err := st.call(atrium.WithAudit(ctx, a)); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !a.Recorded {
			t.Fatalf("%s: audit.Recorded = false after success", st.name)
		}
		ls, n, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{Action: a.Action})
		wantNoErr(t, err)
		if n != 1 {
			t.Fatalf("%s: %d log lines, want exactly 1: %s", st.name, n, dump(ls))
		}
		want := &atrium.OperationLog{
			ID: ls[0].ID, WorkspaceID: st.ws(), ActorID: alice.ID, ActorName: "alice", Action: a.Action,
			Target: st.target(), Result: atrium.ResultSucceeded, StatusCode: a.Status, RequestID: a.RequestID,
			Time: stored(c.Now()),
		}
		wantEqual(t, st.name+" log line", ls[0], want)
		all = append([]string{ls[0].ID}, all...)
	}
	return all
}

func testAudit(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	w := mustWorkspace(t, s, "Vision", alice)

	var (
		carol *atrium.User
		tok   *atrium.Token
		w2    *atrium.Workspace
		m     *atrium.Member
	)
	str := func(s *string) func() string { return func() string { return *s } }
	wsID, w2ID, mID, empty := &w.ID, new(string), new(string), new(string)
	carolID, tokID, roleTarget := new(string), new(string), ptr("role/Labeler")
	steps := []auditStep{
		{"CreateUser", func(ctx context.Context) error {
			carol = &atrium.User{Name: "carol"}
			err := s.CreateUser(ctx, carol)
			*carolID = carol.ID
			return err
		}, str(empty), str(carolID)},
		{"UpdateUser", func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, carol.ID, atrium.UserUpdate{DisplayName: ptr("Carol")})
			return err
		}, str(empty), str(carolID)},
		{"CreateToken", func(ctx context.Context) error {
			tok = &atrium.Token{UserID: carol.ID, Hash: "hash-carol"}
			err := s.CreateToken(ctx, tok)
			*tokID = tok.ID
			return err
		}, str(empty), str(tokID)},
		{"RevokeToken", func(ctx context.Context) error {
			_, err := s.RevokeToken(ctx, carol.ID, tok.ID)
			return err
		}, str(empty), str(tokID)},
		{"CreateWorkspace", func(ctx context.Context) error {
			w2 = &atrium.Workspace{Name: "Second", EnvTypes: []string{"prod"}, Creator: bob.ID}
			err := s.CreateWorkspace(ctx, w2)
			*w2ID = w2.ID
			return err
		}, str(w2ID), str(w2ID)},
		{"UpdateWorkspace", func(ctx context.Context) error {
			_, err := s.UpdateWorkspace(ctx, w.ID, atrium.WorkspaceUpdate{Description: ptr("new")})
			return err
		}, str(wsID), str(wsID)},
		{"CreateRole", func(ctx context.Context) error {
			return s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Labeler"})
		}, str(wsID), str(roleTarget)},
		{"UpdateRole", func(ctx context.Context) error {
			_, err := s.UpdateRole(ctx, w.ID, "Labeler", atrium.RoleUpdate{Permissions: []string{"Label:Read"}})
			return err
		}, str(wsID), str(roleTarget)},
		{"AddMembers", func(ctx context.Context) error {
			ms, err := s.AddMembers(ctx, w.ID, []atrium.MemberParams{{UserID: carol.ID, Roles: []string{atrium.RoleWorkspaceGuest}}})
			if err == nil {
				m = ms[0]
				*mID = m.ID
			}
			return err
		}, str(wsID), str(mID)},
		{"AddMemberRole", func(ctx context.Context) error {
			_, err := s.AddMemberRole(ctx, w.ID, m.ID, "Labeler")
			return err
		}, str(wsID), str(mID)},
		{"RemoveMemberRole", func(ctx context.Context) error {
			_, err := s.RemoveMemberRole(ctx, w.ID, m.ID, "Labeler")
			return err
		}, str(wsID), str(mID)},
		{"DeleteRole", func(ctx context.Context) error {
			return s.DeleteRole(ctx, w.ID, "Labeler")
		}, str(wsID), str(roleTarget)},
		{"DeleteMember", func(ctx context.Context) error {
			return s.DeleteMember(ctx, w.ID, m.ID)
		}, str(wsID), str(mID)},
		{"DeleteWorkspace", func(ctx context.Context) error {
			return s.DeleteWorkspace(ctx, w2.ID)
		}, str(w2ID), str(w2ID)},
	}

	all := runAuditSteps(t, s, c, alice, steps)
	ls, _, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{ActorID: alice.ID})
	wantNoErr(t, err)
	wantEqual(t, "all audit lines, newest first", logIDs(ls), all)
}

// testAuditFailedWrite checks that a call that changes nothing logs nothing
// and leaves Recorded false, so the HTTP layer logs the failure itself.
func testAuditFailedWrite(t *testing.T, s atrium.Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	w := mustWorkspace(t, s, "Vision", alice)
	owner := mustOwnerMember(t, s, w)
	wantNoErr(t, s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Labeler"}))
	mustAddMember(t, s, w, bob, "Labeler")

	failing := map[string]func(ctx context.Context) error{
		"CreateUser dup": func(ctx context.Context) error { return s.CreateUser(ctx, &atrium.User{Name: "alice"}) },
		"UpdateUser missing": func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, "u-nosuch", atrium.UserUpdate{DisplayName: ptr("x")})
			return err
		},
		"CreateToken no user": func(ctx context.Context) error {
			return s.CreateToken(ctx, &atrium.Token{UserID: "u-nosuch", Hash: "h"})
		},
		"RevokeToken missing": func(ctx context.Context) error {
			_, err := s.RevokeToken(ctx, alice.ID, "tok-nosuch")
			return err
		},
		"CreateWorkspace dup": func(ctx context.Context) error {
			return s.CreateWorkspace(ctx, &atrium.Workspace{Name: "Vision", EnvTypes: []string{"prod"}, Creator: alice.ID})
		},
		"AddMembers half bad": func(ctx context.Context) error {
			u := &atrium.User{Name: "carol"}
			if err := s.CreateUser(context.Background(), u); err != nil {
				return err
			}
			_, err := s.AddMembers(ctx, w.ID, []atrium.MemberParams{
				{UserID: u.ID, Roles: []string{atrium.RoleWorkspaceGuest}},
				{UserID: "u-nosuch", Roles: []string{atrium.RoleWorkspaceGuest}},
			})
			return err
		},
		"RemoveMemberRole last owner": func(ctx context.Context) error {
			_, err := s.RemoveMemberRole(ctx, w.ID, owner.ID, atrium.RoleWorkspaceOwner)
			return err
		},
		"DeleteMember last owner": func(ctx context.Context) error { return s.DeleteMember(ctx, w.ID, owner.ID) },
		"DeleteRole in use":       func(ctx context.Context) error { return s.DeleteRole(ctx, w.ID, "Labeler") },
		"CreateRole dup": func(ctx context.Context) error {
			return s.CreateRole(ctx, &atrium.Role{WorkspaceID: w.ID, Name: "Labeler"})
		},
		"DeleteWorkspace missing": func(ctx context.Context) error { return s.DeleteWorkspace(ctx, "ws-nosuch") },
	}
	for name, call := range failing {
		a := &atrium.Audit{ActorID: alice.ID, Action: "Fail:" + name, RequestID: "req-fail", Status: 200}
		if err := call(atrium.WithAudit(ctx, a)); err == nil {
			t.Fatalf("%s: succeeded, want an error", name)
		}
		if a.Recorded {
			t.Fatalf("%s: audit.Recorded = true after a failed write", name)
		}
	}
	ls, n, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{})
	wantNoErr(t, err)
	if n != 0 {
		t.Fatalf("failed writes left %d log lines: %s", n, dump(ls))
	}
	// And the half-good AddMembers added nobody.
	_, n, err = s.FindMembers(ctx, atrium.MemberFilter{WorkspaceID: w.ID})
	wantNoErr(t, err)
	if n != 2 {
		t.Fatalf("members = %d, want 2", n)
	}

	// An audit already recorded (by an earlier call of the same request) is
	// not recorded twice.
	a := &atrium.Audit{ActorID: alice.ID, Action: "Twice", Status: 201, Recorded: true}
	wantNoErr(t, s.CreateUser(atrium.WithAudit(ctx, a), &atrium.User{Name: "dave"}))
	_, n, err = s.FindOperationLogs(ctx, atrium.OperationLogFilter{})
	wantNoErr(t, err)
	if n != 0 {
		t.Fatalf("an already recorded audit was logged again (%d lines)", n)
	}
}

// testAuditNotForBookkeeping checks the calls that write no audit line.
func testAuditNotForBookkeeping(t *testing.T, s atrium.Store) {
	a := &atrium.Audit{ActorID: "u-x", Action: "Touch", RequestID: "req-t", Status: 200}
	actx := atrium.WithAudit(ctx, a)
	u := &atrium.User{Name: "admin"}
	tok := &atrium.Token{Hash: "hash-admin"}
	ok, err := s.BootstrapAdmin(actx, u, tok)
	wantNoErr(t, err)
	if !ok {
		t.Fatal("BootstrapAdmin = false on an empty store")
	}
	wantNoErr(t, s.TouchToken(actx, tok.ID, time.Now()))
	// AppendOperationLog writes the line it is given and nothing more.
	wantNoErr(t, s.AppendOperationLog(actx, &atrium.OperationLog{Action: "Explicit", Result: atrium.ResultDenied}))
	ls, n, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{})
	wantNoErr(t, err)
	if n != 1 || ls[0].Action != "Explicit" || a.Recorded {
		t.Fatalf("log lines = %s (Recorded=%v), want only the explicit one", dump(ls), a.Recorded)
	}
}
