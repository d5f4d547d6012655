package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds the numbered SQL files, one directory per engine.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// MigrationStatus is the state of one schema migration.
type MigrationStatus struct {
	Version   int64
	Name      string // file name, e.g. "00001_init.sql"
	Applied   bool
	AppliedAt time.Time // zero unless Applied
}

// provider builds a goose provider over the embedded migrations of db's engine.
func (db *DB) provider(ctx context.Context) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations/"+db.d.name)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if db.d.name == "postgres" {
		// Several servers may start at once: an advisory lock lets one migrate.
		// The lock id is per database and schema, so separate schemas (such as
		// parallel tests) do not wait for each other.
		var scope string
		if err := db.write.QueryRowContext(ctx, "SELECT current_database() || '.' || coalesce(current_schema(), '')").Scan(&scope); err != nil {
			return nil, fmt.Errorf("migrations: read current schema: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte("atrium-migrate:" + scope))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 300), // wait up to 5 minutes for another migrator
		)
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(db.d.goose, db.write, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// MigrateUp applies all pending migrations.
func (db *DB) MigrateUp(ctx context.Context) error {
	p, err := db.provider(ctx)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// MigrationStatus lists every known migration, oldest first, and whether it
// has been applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	p, err := db.provider(ctx)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, s := range st {
		m := MigrationStatus{
			Version: s.Source.Version,
			Name:    path.Base(strings.ReplaceAll(s.Source.Path, `\`, "/")),
			Applied: s.State == goose.StateApplied,
		}
		if m.Applied {
			m.AppliedAt = s.AppliedAt.UTC()
		}
		out = append(out, m)
	}
	return out, nil
}
