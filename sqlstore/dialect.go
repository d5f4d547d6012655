package sqlstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds what differs between the engines; queries are written once
// with '?' placeholders.
type dialect struct {
	name  string
	goose goose.Dialect
	// numbered placeholders ($1, $2, …) instead of '?'
	numbered bool
	// forUpdate locks the selected rows until commit. SQLite needs none: its
	// write transactions already exclude each other (BEGIN IMMEDIATE).
	forUpdate string
	// forShare share-locks the selected rows until commit (PostgreSQL).
	forShare string
	// collate makes ORDER BY compare bytes, as SQLite does, so both engines
	// sort the same whatever the PostgreSQL database's locale.
	collate string
	// lockUsers serializes BootstrapAdmin's "is the users table empty?" check
	// against concurrent inserts. Empty for SQLite (BEGIN IMMEDIATE does it).
	lockUsers string
	// lockQuotas serializes writes that read the whole quota tree (or the
	// groups it draws on) before changing it. Empty for SQLite.
	lockQuotas string
	// lockEvents serializes outbox writers until commit, so events become
	// visible in seq order and a reader paging by AfterSeq never skips one
	// that commits late. Empty for SQLite (writers are serialized).
	lockEvents string
	// timeText stores timestamps as fixed-width RFC 3339 text (SQLite has no
	// time type); otherwise time.Time goes to the driver (TIMESTAMPTZ).
	timeText bool
	// uniqueViolation reports whether err is a unique-constraint violation.
	uniqueViolation func(error) bool
}

var sqliteDialect = &dialect{
	name:     "sqlite",
	goose:    goose.DialectSQLite3,
	timeText: true,
	uniqueViolation: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) &&
			(e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
}

var postgresDialect = &dialect{
	name:       "postgres",
	goose:      goose.DialectPostgres,
	numbered:   true,
	forUpdate:  " FOR UPDATE",
	forShare:   " FOR SHARE",
	collate:    ` COLLATE "C"`,
	lockUsers:  "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE",
	lockQuotas: "LOCK TABLE quotas IN SHARE ROW EXCLUSIVE MODE",
	lockEvents: "LOCK TABLE events IN EXCLUSIVE MODE",
	uniqueViolation: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505"
	},
}

// rebind turns '?' placeholders into $1, $2, … for PostgreSQL. Queries in
// this package never hold a literal '?'.
func (d *dialect) rebind(q string) string {
	if !d.numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// limitOffset renders a LIMIT/OFFSET clause; limit 0 means no limit. The
// numbers are ints, so rendering them inline is safe.
func (d *dialect) limitOffset(limit, offset int) string {
	limit, offset = max(limit, 0), max(offset, 0)
	switch {
	case limit > 0 && offset > 0:
		return fmt.Sprintf(" LIMIT %d OFFSET %d", limit, offset)
	case limit > 0:
		return fmt.Sprintf(" LIMIT %d", limit)
	case offset > 0 && !d.numbered:
		return fmt.Sprintf(" LIMIT -1 OFFSET %d", offset) // SQLite needs a LIMIT before OFFSET
	case offset > 0:
		return fmt.Sprintf(" OFFSET %d", offset)
	}
	return ""
}

// sqliteTimeLayout has a fixed width so stored timestamps sort as text.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// timeArg converts a timestamp into the driver argument for this engine.
func (d *dialect) timeArg(t time.Time) any {
	t = normTime(t)
	if d.timeText {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// timePtrArg is timeArg for nullable columns.
func (d *dialect) timePtrArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.timeArg(*t)
}

// timeCol scans a timestamp column whichever way the driver returns it.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	t, err := scanTime(src)
	if err != nil {
		return err
	}
	if t == nil {
		return errors.New("unexpected NULL timestamp")
	}
	*c.t = *t
	return nil
}

// nullTimeCol scans a nullable timestamp column.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	t, err := scanTime(src)
	if err != nil {
		return err
	}
	*c.t = t
	return nil
}

func scanTime(src any) (*time.Time, error) {
	var t time.Time
	switch v := src.(type) {
	case nil:
		return nil, nil
	case time.Time:
		t = v
	case string:
		p, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("parse timestamp %q: %w", v, err)
		}
		t = p
	case []byte:
		p, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			return nil, fmt.Errorf("parse timestamp %q: %w", v, err)
		}
		t = p
	default:
		return nil, fmt.Errorf("cannot scan %T into a timestamp", src)
	}
	t = normTime(t)
	return &t, nil
}

// listArg encodes a string list as JSON text; nil becomes [].
func listArg(v []string) string {
	if v == nil {
		return "[]"
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

// textBytes is the text a column scanned as (drivers give string or []byte);
// null reports SQL NULL.
func textBytes(src any, into string) (b []byte, null bool, err error) {
	switch v := src.(type) {
	case string:
		return []byte(v), false, nil
	case []byte:
		return v, false, nil
	case nil:
		return nil, true, nil
	}
	return nil, false, fmt.Errorf("cannot scan %T into %s", src, into)
}

// listCol scans JSON text into a string list, never nil.
type listCol struct{ v *[]string }

func (c listCol) Scan(src any) error {
	b, null, err := textBytes(src, "a list")
	if err != nil {
		return err
	} else if null {
		*c.v = []string{}
		return nil
	}
	out := []string{}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("decode list: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	*c.v = out
	return nil
}

// likeArg makes a LIKE pattern matching s anywhere; use with
// "lower(col) LIKE lower(?) ESCAPE '\'".
func likeArg(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// placeholders returns "?, ?, …" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
