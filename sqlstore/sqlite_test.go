package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atrium"
	"atrium/sqlstore"
	"atrium/sqlstore/storetest"
)

func openSQLite(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "atrium.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) atrium.Store { return openSQLite(t) })
}

func TestOpenURLForms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, url := range []string{
		filepath.Join(dir, "plain.db"),
		"sqlite://" + filepath.Join(dir, "abs.db"),
		"sqlite:" + filepath.Join(dir, "sub", "nested.db"),
	} {
		db, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		if db.Engine() != "sqlite" {
			t.Fatalf("Open(%q).Engine() = %q", url, db.Engine())
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "sub", "nested.db")); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
	for _, bad := range []string{"mysql://u:secretpw@host/db", "", filepath.Join(dir, "x.db?mode=ro")} {
		if _, err := sqlstore.Open(ctx, bad); err == nil {
			t.Fatalf("Open(%q) succeeded, want an error", bad)
		} else if bad != "" && strings.Contains(err.Error(), "secretpw") {
			t.Fatalf("error leaks the password: %v", err)
		}
	}
}

func TestSQLiteMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "atrium.db")

	// Without auto-migrate, status shows the migration pending.
	db, err := sqlstore.OpenSQLite(ctx, path, sqlstore.WithoutMigrate())
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) == 0 || st[0].Version != 1 || st[0].Name != "00001_init.sql" || st[0].Applied || !st[0].AppliedAt.IsZero() {
		t.Fatalf("status before = %+v", st)
	}
	if err := db.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	st, err = db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st {
		if !m.Applied || m.AppliedAt.IsZero() || time.Since(m.AppliedAt) > time.Hour {
			t.Fatalf("status after = %+v", st)
		}
	}
	// Up again is a no-op.
	if err := db.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Reopening (auto-migrate on) keeps data.
	db, err = sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateUser(ctx, &atrium.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteSettings checks the connection settings crash safety relies on.
func TestSQLiteSettings(t *testing.T) {
	db := openSQLite(t)
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "10000",
	} {
		// Both the writer and the read pool must have them.
		w, r, err := sqlstore.Pragma(context.Background(), db, pragma)
		if err != nil {
			t.Fatal(err)
		}
		if w != want || r != want {
			t.Errorf("PRAGMA %s = %q (writer), %q (reader), want %q", pragma, w, r, want)
		}
	}
}
