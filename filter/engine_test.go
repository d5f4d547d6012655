package filter_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"atrium/filter"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// engine is one database holding the items table, with the SQL that
// differs between engines.
type engine struct {
	name   string
	db     *sql.DB
	table  string
	fields map[string]filter.Field
	labels filter.LabelSQL
	rebind func(string) string
}

// item is one row of the test table.
type item struct {
	id        int
	name      string
	framework string
	size      int
	score     float64
	approved  bool
	created   string // RFC 3339
	note      *string
	labels    string // JSON
}

func ptr(s string) *string { return &s }

var items = []item{
	{1, "ResNet-50", "PyTorch", 100, 0.5, true, "2024-01-01T00:00:00Z", ptr("a"), `{"team":"nlp","env":"prod"}`},
	{2, "bert-base", "PyTorch", 250, 1.5, false, "2024-02-01T00:00:00Z", nil, `{"team":"cv"}`},
	{3, "GPT_tiny", "TensorFlow", 5, 2.25, true, "2024-03-01T12:30:00.5Z", ptr("b"), `{}`},
	{4, "llama 100%", "JAX", 1000, 0.1, false, "2024-04-01T00:00:00Z", ptr("c"), `{"team":"nlp","app.kubernetes.io/name":"llm"}`},
	{5, "Zeta", "pytorch", 0, -1, true, "2023-12-31T23:59:59.999999Z", nil, `{"env":"dev"}`},
	{6, "alpha_beta", "TensorFlow", 42, 3, false, "2024-01-15T08:00:00Z", ptr("d"), `{"team":"NLP"}`},
}

// engineCases are filters over items with the ids they match, in order.
var engineCases = []struct {
	filter string
	ids    []int
}{
	{`framework = "PyTorch"`, []int{1, 2}},
	{`framework != "PyTorch"`, []int{3, 4, 5, 6}},
	{`framework LIKE "pytorch"`, []int{1, 2, 5}},
	{`framework not like "%FLOW"`, []int{1, 2, 4, 5}},
	{`name LIKE "%100\\%"`, []int{4}},
	{`name LIKE "%\\_%"`, []int{3, 6}},
	{`name LIKE "_eta"`, []int{5}},
	{`name < "a"`, []int{1, 3, 5}}, // byte order: upper case first
	{`name >= "b" AND name < "m"`, []int{2, 4}},
	{`size > 50`, []int{1, 2, 4}},
	{`size <= 42 AND score >= 0`, []int{3, 6}},
	{`size = 100.0 OR size < 4.5`, []int{1, 5}},
	{`score < 1.5`, []int{1, 4, 5}},
	{`score IN (0.1, 3, -1)`, []int{4, 5, 6}},
	{`id IN (1, 3, 99)`, []int{1, 3}},
	{`approved = true`, []int{1, 3, 5}},
	{`approved != TRUE`, []int{2, 4, 6}},
	{`approved NOT IN (false)`, []int{1, 3, 5}},
	{`created >= "2024-02-01T00:00:00Z"`, []int{2, 3, 4}},
	{`created < "2024-01-01T01:00:00+01:00"`, []int{5}},
	{`created > "2024-03-01T12:30:00.4Z"`, []int{3, 4}},
	{`created <= "2023-12-31T23:59:59.999999Z"`, []int{5}},
	{`note != "a"`, []int{2, 3, 4, 5, 6}},
	{`note IN ("a", "b")`, []int{1, 3}},
	{`NOT (note < "c")`, []int{2, 4, 5, 6}},
	{`labels.team = "nlp"`, []int{1, 4}},
	{`labels.team != "nlp"`, []int{2, 3, 5, 6}},
	{`NOT labels.team LIKE "%"`, []int{3, 5}},
	{`labels.team LIKE "NLP"`, []int{1, 4, 6}},
	{`labels.team > "d"`, []int{1, 4}},
	{`labels.app.kubernetes.io/name = "llm"`, []int{4}},
	{`labels.team IN ("nlp", "cv")`, []int{1, 2, 4}},
	{`labels.team NOT IN ("nlp", "cv")`, []int{3, 5, 6}},
	{`labels.env = "prod" or labels.env = "dev"`, []int{1, 5}},
	{`framework = "PyTorch" AND (labels.team = "nlp" OR approved = true)`, []int{1}},
	{`NOT (framework = "PyTorch" OR size > 100)`, []int{3, 5, 6}},
	{`NOT NOT (size = 0)`, []int{5}},
	{`NOT (labels.team = "nlp" AND note = "c")`, []int{1, 2, 3, 5, 6}},
	{`name = "x' OR '1'='1" OR name = "\"; DROP TABLE items; --"`, nil},
}

func TestEngines(t *testing.T) {
	t.Parallel()
	engines := setupEngines(t)
	for _, tc := range engineCases {
		e, err := filter.Parse(tc.filter)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.filter, err)
		}
		for _, eng := range engines {
			got, err := eng.query(e)
			if err != nil {
				t.Errorf("%s: %s: %v", eng.name, tc.filter, err)
				continue
			}
			if !reflect.DeepEqual(got, tc.ids) {
				t.Errorf("%s: %s\n got ids %v\nwant ids %v", eng.name, tc.filter, got, tc.ids)
			}
		}
	}
}

// setupEngines returns SQLite and, when ATRIUM_TEST_POSTGRES holds a URL,
// PostgreSQL, each with the items table.
func setupEngines(t testing.TB) []*engine {
	engines := []*engine{setupSQLite(t)}
	if url := os.Getenv("ATRIUM_TEST_POSTGRES"); url != "" {
		engines = append(engines, setupPostgres(t, url))
	} else {
		t.Log("ATRIUM_TEST_POSTGRES not set: SQLite only")
	}
	return engines
}

// query returns the ids of the items e matches, in order.
func (eng *engine) query(e filter.Expr) ([]int, error) {
	where, args, err := filter.Compile(e, eng.fields, eng.labels)
	if err != nil {
		return nil, err
	}
	q := eng.rebind("SELECT id FROM " + eng.table + " WHERE id > ? AND " + where + " ORDER BY id")
	rows, err := eng.db.QueryContext(context.Background(), q, append([]any{0}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// fields maps the public names to columns; collate goes after text columns.
func fields(collate string) map[string]filter.Field {
	return map[string]filter.Field{
		"id":        {Column: "id", Type: filter.Number},
		"name":      {Column: "name" + collate, Type: filter.String},
		"framework": {Column: "framework" + collate, Type: filter.String},
		"size":      {Column: "size", Type: filter.Number},
		"score":     {Column: "score", Type: filter.Number},
		"approved":  {Column: "approved", Type: filter.Bool},
		"created":   {Column: "created_at", Type: filter.Time},
		"note":      {Column: "note" + collate, Type: filter.String},
	}
}

func setupSQLite(t testing.TB) *engine {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "filter.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eng := &engine{
		name:   "sqlite",
		db:     db,
		table:  "items",
		fields: fields(""),
		labels: func(key string) (string, []any) {
			return "json_extract(labels, ?)", []any{`$."` + key + `"`}
		},
		rebind: func(q string) string { return q },
	}
	// Timestamps as sqlstore keeps them in SQLite: fixed-width UTC text.
	eng.load(t, "created_at TEXT NOT NULL", func(rfc string) any {
		tm, err := time.Parse(time.RFC3339Nano, rfc)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC().Format("2006-01-02T15:04:05.000000Z")
	})
	return eng
}

func setupPostgres(t testing.TB, url string) *engine {
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	schema := fmt.Sprintf("filter_test_%d_%s", os.Getpid(), strconv.FormatInt(time.Now().UnixNano(), 36))
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Error(err)
		}
	})
	eng := &engine{
		name:   "postgres",
		db:     db,
		table:  schema + ".items",
		fields: fields(` COLLATE "C"`),
		labels: func(key string) (string, []any) {
			return `((labels::jsonb ->> ?) COLLATE "C")`, []any{key}
		},
		rebind: rebindNumbered,
	}
	eng.load(t, "created_at TIMESTAMPTZ NOT NULL", func(rfc string) any {
		tm, err := time.Parse(time.RFC3339Nano, rfc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	})
	return eng
}

// load creates the items table with the engine's timestamp column and
// inserts items.
func (eng *engine) load(t testing.TB, createdCol string, timeArg func(string) any) {
	t.Helper()
	_, err := eng.db.Exec(`CREATE TABLE ` + eng.table + ` (
		id INTEGER PRIMARY KEY, name TEXT NOT NULL, framework TEXT NOT NULL,
		size INTEGER NOT NULL, score DOUBLE PRECISION NOT NULL, approved BOOLEAN NOT NULL,
		` + createdCol + `, note TEXT, labels TEXT NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		_, err := eng.db.Exec(eng.rebind(`INSERT INTO `+eng.table+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			it.id, it.name, it.framework, it.size, it.score, it.approved, timeArg(it.created), it.note, it.labels)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// rebindNumbered turns '?' into $1, $2, … as sqlstore does for PostgreSQL.
func rebindNumbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
