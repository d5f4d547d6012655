package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
)

func testCreateUser(t *testing.T, s atrium.Store) {
	u := &atrium.User{
		Name: "alice", DisplayName: "Alice Liddell", Email: "alice@example.com",
		PasswordHash: "$argon2id$x", Disabled: true, PlatformRoles: []string{atrium.RoleResourceAdmin},
		DefaultWorkspaceID: "ws-somewhere",
	}
	wantNoErr(t, s.CreateUser(ctx, u))
	if !atrium.HasPrefix(u.ID, atrium.PrefixUser) {
		t.Fatalf("ID = %q, want prefix %q", u.ID, atrium.PrefixUser)
	}
	if u.CreatedAt.IsZero() || !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Fatalf("timestamps not set: %+v", u)
	}
	byID, err := s.FindUserByID(ctx, u.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindUserByID", byID, u)
	byName, err := s.FindUserByName(ctx, "alice")
	wantNoErr(t, err)
	wantEqual(t, "FindUserByName", byName, u)

	// Empty lists come back empty, not nil, so JSON shows [].
	b := &atrium.User{Name: "bob"}
	wantNoErr(t, s.CreateUser(ctx, b))
	got, err := s.FindUserByID(ctx, b.ID)
	wantNoErr(t, err)
	if got.PlatformRoles == nil || len(got.PlatformRoles) != 0 {
		t.Fatalf("PlatformRoles = %#v, want empty non-nil", got.PlatformRoles)
	}
	wantEqual(t, "user without extras", got, b)
}

func testCreateUserConflict(t *testing.T, s atrium.Store) {
	mustUser(t, s, "alice")
	err := s.CreateUser(ctx, &atrium.User{Name: "alice", PasswordHash: "secret-hash-value"})
	e := wantCode(t, err, atrium.ECONFLICT)
	if strings.Contains(e.Message, "secret-hash-value") {
		t.Fatalf("error message leaks the password hash: %q", e.Message)
	}
	_, n, err := s.FindUsers(ctx, atrium.UserFilter{})
	wantNoErr(t, err)
	if n != 1 {
		t.Fatalf("users = %d, want 1", n)
	}
}

func testFindUserNotFound(t *testing.T, s atrium.Store) {
	_, err := s.FindUserByID(ctx, "u-nosuchuser")
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindUserByName(ctx, "nobody")
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.UpdateUser(ctx, "u-nosuchuser", atrium.UserUpdate{DisplayName: ptr("x")})
	wantCode(t, err, atrium.ENOTFOUND)
}

func userNames(us []*atrium.User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}

func testFindUsers(t *testing.T, s atrium.Store) {
	for _, n := range []string{"dave", "alice", "carol", "bob", "erin"} {
		mustUser(t, s, n)
	}
	special := &atrium.User{Name: "frank", DisplayName: "Frank 100%_Sure"}
	wantNoErr(t, s.CreateUser(ctx, special))

	tests := []struct {
		name  string
		f     atrium.UserFilter
		want  []string
		total int
	}{
		{"all by name", atrium.UserFilter{}, []string{"alice", "bob", "carol", "dave", "erin", "frank"}, 6},
		{"page", atrium.UserFilter{Offset: 1, Limit: 2}, []string{"bob", "carol"}, 6},
		{"offset only", atrium.UserFilter{Offset: 4}, []string{"erin", "frank"}, 6},
		{"past the end", atrium.UserFilter{Offset: 10, Limit: 5}, []string{}, 6},
		{"name", atrium.UserFilter{Name: ptr("carol")}, []string{"carol"}, 1},
		{"id", atrium.UserFilter{ID: ptr(special.ID)}, []string{"frank"}, 1},
		{"like name, case-insensitive", atrium.UserFilter{NameLike: "AR"}, []string{"carol"}, 1},
		{"like display name", atrium.UserFilter{NameLike: "user b"}, []string{"bob"}, 1},
		{"like escapes %", atrium.UserFilter{NameLike: "100%"}, []string{"frank"}, 1},
		{"like % is literal", atrium.UserFilter{NameLike: "%"}, []string{"frank"}, 1},
		{"like _ is literal", atrium.UserFilter{NameLike: "_"}, []string{"frank"}, 1},
		{"like with page", atrium.UserFilter{NameLike: "e", Limit: 2}, []string{"alice", "bob"}, 6},
		{"no match", atrium.UserFilter{NameLike: "zzz"}, []string{}, 0},
	}
	for _, tt := range tests {
		us, n, err := s.FindUsers(ctx, tt.f)
		wantNoErr(t, err)
		wantEqual(t, tt.name, userNames(us), tt.want)
		if n != tt.total {
			t.Fatalf("%s: total = %d, want %d", tt.name, n, tt.total)
		}
	}
}

func testUpdateUser(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	u := mustUser(t, s, "alice")
	c.Add(time.Hour)
	got, err := s.UpdateUser(ctx, u.ID, atrium.UserUpdate{
		DisplayName: ptr("Alice L."), Email: ptr("al@example.org"), PasswordHash: ptr("new-hash"),
		Disabled: ptr(true), DefaultWorkspaceID: ptr("ws-abc"),
	})
	wantNoErr(t, err)
	want := *u
	want.DisplayName, want.Email, want.PasswordHash = "Alice L.", "al@example.org", "new-hash"
	want.Disabled, want.DefaultWorkspaceID = true, "ws-abc"
	want.UpdatedAt = stored(clockStart.Add(time.Hour))
	wantEqual(t, "UpdateUser result", got, &want)
	read, err := s.FindUserByID(ctx, u.ID)
	wantNoErr(t, err)
	wantEqual(t, "UpdateUser read back", read, &want)

	// nil fields stay as they are.
	got, err = s.UpdateUser(ctx, u.ID, atrium.UserUpdate{Disabled: ptr(false)})
	wantNoErr(t, err)
	want.Disabled = false
	wantEqual(t, "partial update", got, &want)
}

func testBootstrapAdmin(t *testing.T, s atrium.Store) {
	audit := &atrium.Audit{ActorID: "u-x", Action: "Platform:Bootstrap", RequestID: "req-1", Status: 201}
	actx := atrium.WithAudit(ctx, audit)

	u := &atrium.User{Name: "admin", PlatformRoles: []string{atrium.RoleResourceAdmin}}
	tok := &atrium.Token{Name: "bootstrap", Hash: "hash-bootstrap"}
	ok, err := s.BootstrapAdmin(actx, u, tok)
	wantNoErr(t, err)
	if !ok {
		t.Fatal("first BootstrapAdmin = false, want true")
	}
	if tok.UserID != u.ID || tok.ID == "" {
		t.Fatalf("token not tied to the admin: %+v", tok)
	}
	gotTok, gotUser, err := s.FindTokenByHash(ctx, "hash-bootstrap")
	wantNoErr(t, err)
	wantEqual(t, "admin", gotUser, u)
	wantEqual(t, "admin token", gotTok, tok)

	ok, err = s.BootstrapAdmin(actx, &atrium.User{Name: "admin2"}, &atrium.Token{Hash: "hash-2"})
	wantNoErr(t, err)
	if ok {
		t.Fatal("second BootstrapAdmin = true, want false")
	}
	_, err = s.FindUserByName(ctx, "admin2")
	wantCode(t, err, atrium.ENOTFOUND)
	_, _, err = s.FindTokenByHash(ctx, "hash-2")
	wantCode(t, err, atrium.ENOTFOUND)

	logs, _, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{})
	wantNoErr(t, err)
	if len(logs) != 0 || audit.Recorded {
		t.Fatalf("BootstrapAdmin wrote operation logs %v (Recorded=%v), want none", dump(logs), audit.Recorded)
	}
}

func testBootstrapAdminConcurrent(t *testing.T, s atrium.Store) {
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	errs := []error{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.BootstrapAdmin(ctx,
				&atrium.User{Name: fmt.Sprintf("admin%d", i)},
				&atrium.Token{Hash: fmt.Sprintf("hash-%d", i)})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				created++
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("BootstrapAdmin errors: %v", errs)
	}
	if created != 1 {
		t.Fatalf("%d BootstrapAdmin calls created an admin, want exactly 1", created)
	}
	_, total, err := s.FindUsers(ctx, atrium.UserFilter{})
	wantNoErr(t, err)
	if total != 1 {
		t.Fatalf("users = %d, want 1", total)
	}
}

func testTokens(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")

	var toks []*atrium.Token
	for i := range 3 {
		tok := &atrium.Token{UserID: alice.ID, Name: fmt.Sprintf("t%d", i), Hash: fmt.Sprintf("hash-a%d", i)}
		wantNoErr(t, s.CreateToken(ctx, tok))
		if !atrium.HasPrefix(tok.ID, atrium.PrefixToken) || !tok.CreatedAt.Equal(stored(c.Now())) {
			t.Fatalf("token = %+v, want ID and CreatedAt set", tok)
		}
		toks = append(toks, tok)
		c.Add(time.Second)
	}
	wantNoErr(t, s.CreateToken(ctx, &atrium.Token{UserID: bob.ID, Name: "b", Hash: "hash-b"}))

	got, err := s.FindTokens(ctx, alice.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindTokens newest first", got, []*atrium.Token{toks[2], toks[1], toks[0]})
	none, err := s.FindTokens(ctx, "u-nobody")
	wantNoErr(t, err)
	if len(none) != 0 {
		t.Fatalf("FindTokens(unknown) = %v", dump(none))
	}

	tok, u, err := s.FindTokenByHash(ctx, "hash-a1")
	wantNoErr(t, err)
	wantEqual(t, "FindTokenByHash token", tok, toks[1])
	wantEqual(t, "FindTokenByHash user", u, alice)

	at := clockStart.Add(time.Hour + 5*time.Nanosecond)
	wantNoErr(t, s.TouchToken(ctx, toks[1].ID, at))
	tok, _, err = s.FindTokenByHash(ctx, "hash-a1")
	wantNoErr(t, err)
	if tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(stored(at)) {
		t.Fatalf("LastUsedAt = %v, want %v", tok.LastUsedAt, stored(at))
	}
}

func testTokenErrors(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")
	tok := &atrium.Token{UserID: alice.ID, Name: "t", Hash: "hash-secret-value"}
	wantNoErr(t, s.CreateToken(ctx, tok))

	e := wantCode(t, s.CreateToken(ctx, &atrium.Token{UserID: bob.ID, Hash: "hash-secret-value"}), atrium.ECONFLICT)
	if strings.Contains(e.Message, "hash-secret-value") {
		t.Fatalf("error leaks the token hash: %q", e.Message)
	}
	wantCode(t, s.CreateToken(ctx, &atrium.Token{UserID: "u-nobody", Hash: "h2"}), atrium.ENOTFOUND)

	_, _, err := s.FindTokenByHash(ctx, "no-such-hash")
	e = wantCode(t, err, atrium.ENOTFOUND)
	if strings.Contains(e.Message, "no-such-hash") {
		t.Fatalf("error echoes the hash: %q", e.Message)
	}
	wantCode(t, s.TouchToken(ctx, "tok-nosuch", time.Now()), atrium.ENOTFOUND)

	// A user can revoke only their own tokens.
	_, err = s.RevokeToken(ctx, bob.ID, tok.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.RevokeToken(ctx, alice.ID, "tok-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)
	got, _, err := s.FindTokenByHash(ctx, "hash-secret-value")
	wantNoErr(t, err)
	if got.RevokedAt != nil {
		t.Fatal("token revoked by a failed RevokeToken")
	}
}

func testTokenRevokeExpiry(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	exp := clockStart.Add(24*time.Hour + 777*time.Nanosecond)
	tok := &atrium.Token{UserID: alice.ID, Name: "expiring", Hash: "hash-e", ExpiresAt: &exp}
	wantNoErr(t, s.CreateToken(ctx, tok))
	plain := &atrium.Token{UserID: alice.ID, Name: "plain", Hash: "hash-p"}
	wantNoErr(t, s.CreateToken(ctx, plain))

	got, _, err := s.FindTokenByHash(ctx, "hash-e")
	wantNoErr(t, err)
	if got.ExpiresAt == nil || !got.ExpiresAt.Equal(stored(exp)) || got.RevokedAt != nil || got.LastUsedAt != nil {
		t.Fatalf("token = %s, want ExpiresAt %v and no RevokedAt/LastUsedAt", dump(got), stored(exp))
	}
	if !got.Active(clockStart) || got.Active(exp.Add(time.Second)) {
		t.Fatal("Active does not follow ExpiresAt")
	}
	gp, _, err := s.FindTokenByHash(ctx, "hash-p")
	wantNoErr(t, err)
	if gp.ExpiresAt != nil || gp.RevokedAt != nil || gp.LastUsedAt != nil {
		t.Fatalf("plain token = %s, want nil times", dump(gp))
	}

	c.Add(time.Minute)
	revoked, err := s.RevokeToken(ctx, alice.ID, tok.ID)
	wantNoErr(t, err)
	if revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(stored(c.Now())) {
		t.Fatalf("RevokedAt = %v, want %v", revoked.RevokedAt, stored(c.Now()))
	}
	got, _, err = s.FindTokenByHash(ctx, "hash-e")
	wantNoErr(t, err)
	wantEqual(t, "revoked token read back", got, revoked)
	if got.Active(clockStart) {
		t.Fatal("revoked token is active")
	}

	// Revoking again keeps the first revocation time.
	c.Add(time.Minute)
	again, err := s.RevokeToken(ctx, alice.ID, tok.ID)
	wantNoErr(t, err)
	wantEqual(t, "revoked twice", again, revoked)
}
