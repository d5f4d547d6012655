// Package sqlstore implements atrium.Store on SQLite (modernc.org/sqlite, pure
// Go) and PostgreSQL (pgx through its database/sql driver).
//
// There is one implementation over database/sql; a small dialect value holds
// what differs between the engines (placeholders, unique-violation codes, row
// locks, time encoding, collation). Every exported method runs in its own
// transaction and hands it to unexported helpers, so multi-step writes and
// their operation-log line commit or fail together. Schema migrations are
// embedded per engine and run with goose.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"atrium"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// DB is an open Atrium database; it implements atrium.Store.
type DB struct {
	// write runs every read-write transaction. On SQLite it holds a single
	// connection so writers queue in Go instead of contending for the file
	// lock; on PostgreSQL it is the one pool.
	write *sql.DB
	// read runs read-only transactions. On SQLite it is a separate pool of
	// query_only connections that WAL lets read while a write is in progress;
	// on PostgreSQL it is the same pool as write.
	read *sql.DB
	d    *dialect
	now  atomic.Pointer[func() time.Time]
	// queries counts statements run, so tests can catch N+1 query patterns.
	queries atomic.Int64
	// writeStmts and readStmts cache prepared statements (SQLite only).
	writeStmts, readStmts *stmtCache
}

// Queries returns how many SQL statements the store has run since it was
// opened (not counting migrations).
func (db *DB) Queries() int64 { return db.queries.Load() }

var _ atrium.Store = (*DB)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	now       func() time.Time
	noMigrate bool
	noSync    bool
}

// WithoutSync makes SQLite skip fsync at commit (synchronous=OFF): a
// process crash still loses nothing, a power cut may. Only for tests whose
// subject is not durability; the server never uses it.
func WithoutSync() Option {
	return func(o *options) { o.noSync = true }
}

// WithNow sets the clock used for every timestamp the store assigns; tests
// use it to control time. The default is time.Now.
func WithNow(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithoutMigrate opens the database without applying pending migrations, for
// `atrium migrate status` and for callers that migrate explicitly.
func WithoutMigrate() Option {
	return func(o *options) { o.noMigrate = true }
}

// Open opens the database named by url and applies pending migrations.
// "postgres://…" and "postgresql://…" select PostgreSQL; "sqlite:///abs/path",
// "sqlite:rel/path" or a plain file path select SQLite.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return OpenPostgres(ctx, url, opts...)
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		return OpenSQLite(ctx, path, opts...)
	case strings.Contains(url, "://"):
		// Print only the scheme: the rest may hold a password.
		scheme, _, _ := strings.Cut(url, "://")
		return nil, fmt.Errorf("sqlstore: unsupported database url scheme %q (want postgres://, postgresql://, sqlite:// or a file path)", scheme)
	default:
		return OpenSQLite(ctx, url, opts...)
	}
}

// sqliteParams are the connection settings every SQLite connection gets:
// a 10 s busy timeout (other processes may hold the lock), enforced foreign
// keys, and synchronous=FULL so a commit survives power loss, not only a
// process crash.
const sqliteParams = "_busy_timeout=10000&_foreign_keys=on&_synchronous=FULL"

// OpenSQLite opens (creating if needed) the SQLite database file at path and
// applies pending migrations.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := buildOptions(opts)
	if path == "" || path == ":memory:" {
		return nil, errors.New("sqlstore: sqlite needs a database file path")
	}
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		// The driver would read these as URI syntax, not as part of the name.
		return nil, fmt.Errorf("sqlstore: sqlite path %q may not contain '?' or '#' or start with file:", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: create database directory: %w", err)
		}
	}
	// Created here 0600 rather than by SQLite (0644): SQLite gives the
	// -wal, -shm and -journal files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
	}
	f.Close()

	// The writer switches the file to WAL (a persistent setting) and takes
	// the write lock at BEGIN (_txlock=immediate), so a transaction never
	// fails half-way with SQLITE_BUSY when upgrading a read lock.
	params := sqliteParams
	if o.noSync {
		params = strings.Replace(params, "_synchronous=FULL", "_synchronous=OFF", 1)
	}
	write, err := sql.Open("sqlite", path+"?"+params+"&_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
	}

	read, err := sql.Open("sqlite", path+"?"+params+"&_query_only=on")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	db := &DB{write: write, read: read, d: sqliteDialect, writeStmts: newStmtCache(write), readStmts: newStmtCache(read)}
	return db.init(ctx, o)
}

// OpenPostgres connects to the PostgreSQL database at url and applies pending
// migrations. Runtime parameters such as search_path may be given in the url's
// query string.
func OpenPostgres(ctx context.Context, url string, opts ...Option) (*DB, error) {
	o := buildOptions(opts)
	pool, err := sql.Open("pgx", url)
	if err != nil {
		// pgx's parse errors redact the password.
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	pool.SetMaxOpenConns(16)
	pool.SetMaxIdleConns(4)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqlstore: connect to postgres: %w", err)
	}
	db := &DB{write: pool, read: pool, d: postgresDialect}
	return db.init(ctx, o)
}

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func (db *DB) init(ctx context.Context, o options) (*DB, error) {
	db.SetNow(o.now)
	if !o.noMigrate {
		if err := db.MigrateUp(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// SetNow replaces the clock (nil restores time.Now); the conformance suite
// uses it to control time.
func (db *DB) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	db.now.Store(&now)
}

// Now returns the store's current time as stored: UTC, truncated to
// microseconds, the precision both engines keep.
func (db *DB) Now() time.Time {
	return normTime((*db.now.Load())())
}

// Engine names the database engine: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.d.name }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", db.d.name, err)
	}
	if db.read != db.write {
		if err := db.read.PingContext(ctx); err != nil {
			return fmt.Errorf("ping %s: %w", db.d.name, err)
		}
	}
	return nil
}

// Close releases the database.
func (db *DB) Close() error {
	db.writeStmts.close()
	db.readStmts.close()
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// txn is one transaction of a store call. It carries the call's time so every
// timestamp one call writes is the same.
type txn struct {
	tx      *sql.Tx
	d       *dialect
	now     time.Time
	queries *atomic.Int64
	stmts   *stmtCache
	// audit is the context's audit record once this transaction has written
	// its log line; Commit marks it Recorded.
	audit *atrium.Audit
}

// begin starts a read-write transaction, or a read-only one on the read pool.
func (db *DB) begin(ctx context.Context, write bool) (*txn, error) {
	pool, opts, stmts := db.read, &sql.TxOptions{ReadOnly: true}, db.readStmts
	if write {
		pool, opts, stmts = db.write, nil, db.writeStmts
	}
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	t := &txn{tx: tx, d: db.d, now: db.Now(), queries: &db.queries, stmts: stmts}
	if write {
		if err := fenceTx(ctx, t); err != nil {
			t.Rollback()
			return nil, err
		}
	}
	return t, nil
}

// Commit commits and, if the transaction wrote an audit line, marks the
// context's audit record as recorded.
func (tx *txn) Commit() error {
	if err := tx.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if tx.audit != nil {
		tx.audit.Recorded = true
	}
	return nil
}

// Rollback aborts the transaction; after Commit it is a no-op, so callers defer it.
func (tx *txn) Rollback() { _ = tx.tx.Rollback() }

func (tx *txn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx.queries.Add(1)
	q := tx.d.rebind(query)
	if st := tx.stmts.get(q); st != nil {
		return tx.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, q, args...)
}

func (tx *txn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	tx.queries.Add(1)
	q := tx.d.rebind(query)
	if st := tx.stmts.get(q); st != nil {
		return tx.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, q, args...)
}

func (tx *txn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	tx.queries.Add(1)
	q := tx.d.rebind(query)
	if st := tx.stmts.get(q); st != nil {
		return tx.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, q, args...)
}

// count runs a SELECT count(*) query.
func (tx *txn) count(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	if err := tx.queryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// recordAudit writes the operation-log line for the call in progress, if the
// context carries an audit record that is not yet recorded. It runs in the
// same transaction as the change so neither exists without the other.
func (tx *txn) recordAudit(ctx context.Context, workspaceID, target string) error {
	a := atrium.AuditFrom(ctx)
	if a == nil || a.Recorded || tx.audit != nil {
		return nil
	}
	l := &atrium.OperationLog{
		WorkspaceID: workspaceID,
		ActorID:     a.ActorID,
		ActorName:   a.ActorName,
		Action:      a.Action,
		Target:      target,
		Result:      atrium.ResultSucceeded,
		StatusCode:  a.Status,
		RequestID:   a.RequestID,
	}
	if err := appendOperationLog(ctx, tx, l); err != nil {
		return err
	}
	tx.audit = a
	return nil
}

// normTime is how every timestamp is stored: UTC, microsecond precision.
func normTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}
