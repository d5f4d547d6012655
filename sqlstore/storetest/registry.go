package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"atrium"
)

func testRegistries(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	sealed := []byte{1, 2, 3, 0, 255}
	r := &atrium.Registry{Name: "corp", Host: "Registry.Example.com:5000", Username: "puller", Password: sealed,
		Description: "the company registry"}
	wantNoErr(t, s.CreateRegistry(ctx, r))
	if !atrium.HasPrefix(r.ID, atrium.PrefixRegistry) || !r.CreatedAt.Equal(stored(clockStart)) || !r.UpdatedAt.Equal(r.CreatedAt) {
		t.Fatalf("registry = %+v, want ID and timestamps set", r)
	}
	if r.Host != "registry.example.com:5000" {
		t.Fatalf("host = %q, want it in lowercase", r.Host)
	}
	open := &atrium.Registry{Name: "a-mirror", Host: "127.0.0.1:5001", Insecure: true}
	wantNoErr(t, s.CreateRegistry(ctx, open))

	got, err := s.FindRegistryByID(ctx, r.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindRegistryByID", got, r)
	if !bytes.Equal(got.Password, sealed) {
		t.Fatalf("sealed password read back as %v", got.Password)
	}
	got, err = s.FindRegistryByHost(ctx, "REGISTRY.example.com:5000")
	wantNoErr(t, err)
	wantEqual(t, "FindRegistryByHost", got, r)
	got, err = s.FindRegistryByID(ctx, open.ID)
	wantNoErr(t, err)
	if got.Password != nil || !got.Insecure {
		t.Fatalf("registry without password = %+v, want Password nil and Insecure", got)
	}
	all, err := s.FindRegistries(ctx)
	wantNoErr(t, err)
	wantEqual(t, "FindRegistries by name", all, []*atrium.Registry{open, r})

	// One registry per name and per host (whatever its case).
	wantCode(t, s.CreateRegistry(ctx, &atrium.Registry{Name: "corp", Host: "other.example.com"}), atrium.ECONFLICT)
	wantCode(t, s.CreateRegistry(ctx, &atrium.Registry{Name: "other", Host: "registry.EXAMPLE.com:5000"}), atrium.ECONFLICT)
	_, err = s.FindRegistryByID(ctx, "reg-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindRegistryByHost(ctx, "registry.example.com")
	wantCode(t, err, atrium.ENOTFOUND)

	c.Add(time.Hour)
	resealed := []byte("another sealed value")
	upd, err := s.UpdateRegistry(ctx, r.ID, atrium.RegistryUpdate{Host: ptr("Mirror.Example.com"), Password: &resealed, Insecure: ptr(true)})
	wantNoErr(t, err)
	want := *r
	want.Host, want.Password, want.Insecure, want.UpdatedAt = "mirror.example.com", resealed, true, stored(c.Now())
	wantEqual(t, "UpdateRegistry", upd, &want)
	upd, err = s.UpdateRegistry(ctx, r.ID, atrium.RegistryUpdate{Name: ptr("corp2"), Username: ptr(""), Password: ptr([]byte{}), Description: ptr("")})
	wantNoErr(t, err)
	want.Name, want.Username, want.Password, want.Description = "corp2", "", nil, ""
	wantEqual(t, "UpdateRegistry clearing the credentials", upd, &want)
	got, err = s.FindRegistryByID(ctx, r.ID)
	wantNoErr(t, err)
	wantEqual(t, "read back", got, &want)
	_, err = s.UpdateRegistry(ctx, r.ID, atrium.RegistryUpdate{Name: ptr("a-mirror")})
	wantCode(t, err, atrium.ECONFLICT)
	_, err = s.UpdateRegistry(ctx, r.ID, atrium.RegistryUpdate{Host: ptr("127.0.0.1:5001")})
	wantCode(t, err, atrium.ECONFLICT)
	_, err = s.UpdateRegistry(ctx, "reg-nosuch", atrium.RegistryUpdate{Name: ptr("x")})
	wantCode(t, err, atrium.ENOTFOUND)

	// Deleting frees the name and the host.
	wantNoErr(t, s.DeleteRegistry(ctx, r.ID))
	_, err = s.FindRegistryByID(ctx, r.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	wantCode(t, s.DeleteRegistry(ctx, r.ID), atrium.ENOTFOUND)
	wantNoErr(t, s.CreateRegistry(ctx, &atrium.Registry{Name: "corp2", Host: "mirror.example.com"}))
}

// testRegistryAudit: every write logs one platform-wide line naming the
// registry, and nothing of the sealed password.
func testRegistryAudit(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	sealed := []byte("sealed-password-bytes")
	var r *atrium.Registry
	empty, id := new(string), new(string)
	str := func(s *string) func() string { return func() string { return *s } }
	runAuditSteps(t, s, c, alice, []auditStep{
		{"CreateRegistry", func(ctx context.Context) error {
			r = &atrium.Registry{Name: "corp", Host: "registry.example.com", Username: "u", Password: sealed}
			err := s.CreateRegistry(ctx, r)
			*id = r.ID
			return err
		}, str(empty), str(id)},
		{"UpdateRegistry", func(ctx context.Context) error {
			_, err := s.UpdateRegistry(ctx, r.ID, atrium.RegistryUpdate{Password: &sealed})
			return err
		}, str(empty), str(id)},
		{"DeleteRegistry", func(ctx context.Context) error { return s.DeleteRegistry(ctx, r.ID) }, str(empty), str(id)},
	})
	ls, _, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{})
	wantNoErr(t, err)
	if strings.Contains(dump(ls), string(sealed)) {
		t.Fatalf("the operation log holds the sealed password: %s", dump(ls))
	}

	// A failed write logs nothing and leaves Recorded false.
	mustRegistry := &atrium.Registry{Name: "taken", Host: "taken.example.com"}
	wantNoErr(t, s.CreateRegistry(ctx, mustRegistry))
	a := &atrium.Audit{ActorID: alice.ID, ActorName: "alice", Action: "Test:CreateRegistryDup", RequestID: "req-dup", Status: 201}
	wantCode(t, s.CreateRegistry(atrium.WithAudit(ctx, a), &atrium.Registry{Name: "taken", Host: "x.example.com"}), atrium.ECONFLICT)
	if _, n, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{Action: a.Action}); err != nil || n != 0 || a.Recorded {
		t.Fatalf("failed CreateRegistry: %d log lines, Recorded %v, err %v", n, a.Recorded, err)
	}
}
