package sqlstore_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	"atrium"
	"atrium/sqlstore"
	"atrium/sqlstore/storetest"
)

// postgresURL returns ATRIUM_TEST_POSTGRES or skips the test.
func postgresURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("ATRIUM_TEST_POSTGRES")
	if u == "" {
		t.Skip("ATRIUM_TEST_POSTGRES not set")
	}
	return u
}

// freshSchema creates an empty schema for one test, dropped when it ends, and
// returns a url whose connections use it, so tests run in parallel on one
// database without seeing each other's rows.
func freshSchema(t *testing.T) string {
	t.Helper()
	base := postgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := "test_" + strings.TrimPrefix(atrium.NewID("x-"), "x-")
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown url parameters as runtime parameters
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgres(t *testing.T, opts ...sqlstore.Option) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), freshSchema(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPostgresConformance(t *testing.T) {
	postgresURL(t)
	storetest.Run(t, func(t *testing.T) atrium.Store { return openPostgres(t) })
}

func TestPostgresMigrations(t *testing.T) {
	ctx := context.Background()
	url := freshSchema(t)
	db, err := sqlstore.OpenPostgres(ctx, url, sqlstore.WithoutMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Engine() != "postgres" {
		t.Fatalf("Engine() = %q", db.Engine())
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) == 0 || st[0].Version != 1 || st[0].Name != "00001_init.sql" || st[0].Applied {
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
		if !m.Applied || m.AppliedAt.IsZero() {
			t.Fatalf("status after = %+v", st)
		}
	}
	// A second store opening the same schema finds nothing to do.
	db2, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
}

func TestPostgresBadPassword(t *testing.T) {
	u, err := url.Parse(postgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "wrong-secret-pw")
	_, err = sqlstore.Open(context.Background(), u.String())
	if err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), "wrong-secret-pw") {
		t.Fatalf("error leaks the password: %v", err)
	}
}
