package filter_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"atrium/filter"
)

// testFields is a field map with one field of every type.
var testFields = map[string]filter.Field{
	"name":    {Column: "name", Type: filter.String},
	"size":    {Column: "size", Type: filter.Number},
	"ok":      {Column: "ok", Type: filter.Bool},
	"created": {Column: "created_at", Type: filter.Time},
}

func testLabels(key string) (string, []any) { return "lbl(?)", []any{key} }

func TestCompile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, where string
		args            []any
	}{
		{"equal", `name = "x"`, `(name = ?)`, []any{"x"}},
		{"not equal counts NULL as different", `name != "x"`, `(NOT COALESCE(name = ?, FALSE))`, []any{"x"}},
		{"number", `size > 1.5`, `(size > CAST(? AS NUMERIC))`, []any{1.5}},
		{"integer", `size <= -2`, `(size <= CAST(? AS NUMERIC))`, []any{int64(-2)}},
		{"IN numbers", `size IN (1, 2)`, `(size IN (CAST(? AS NUMERIC), CAST(? AS NUMERIC)))`, []any{int64(1), int64(2)}},
		{"NOT IN", `name NOT IN ("a", "b")`, `(NOT COALESCE(name IN (?, ?), FALSE))`, []any{"a", "b"}},
		{"LIKE", `name LIKE "a%"`, `(lower(name) LIKE lower(?) ESCAPE '\')`, []any{"a%"}},
		{"NOT LIKE", `name NOT LIKE "a\\%"`, `(NOT COALESCE(lower(name) LIKE lower(?) ESCAPE '\', FALSE))`, []any{`a\%`}},
		{"bool", `ok = true`, `(ok = ?)`, []any{true}},
		{"time normalized to UTC microseconds", `created >= "2024-01-01T01:00:00.1234567+01:00"`,
			`(created_at >= ?)`, []any{"2024-01-01T00:00:00.123456Z"}},
		{"label", `labels.team = "nlp"`, `(lbl(?) = ?)`, []any{"team", "nlp"}},
		{"label LIKE", `labels.a/b LIKE "x"`, `(lower(lbl(?)) LIKE lower(?) ESCAPE '\')`, []any{"a/b", "x"}},
		{"AND OR", `name = "a" OR (size = 1 AND ok = false)`,
			`(name = ? OR (size = CAST(? AS NUMERIC) AND ok = ?))`, []any{"a", int64(1), false}},
		{"De Morgan", `NOT (name = "a" AND size < 3)`,
			`(NOT COALESCE(name = ?, FALSE) OR NOT COALESCE(size < CAST(? AS NUMERIC), FALSE))`, []any{"a", int64(3)}},
		{"NOT of not equal", `NOT name != "a"`, `(name = ?)`, []any{"a"}},
		{"double NOT", `NOT NOT ok = true`, `(ok = ?)`, []any{true}},
		{"NOT NOT IN", `NOT labels.t NOT IN ("a")`, `(lbl(?) IN (?))`, []any{"t", "a"}},
		{"issue example", `name = "PyTorch" AND (labels.team = "nlp" OR ok = true)`,
			`(name = ? AND (lbl(?) = ? OR ok = ?))`, []any{"PyTorch", "team", "nlp", true}},
		{"values never in the SQL", `name = "x' OR '1'='1" OR name = "\"; DROP TABLE t; --"`,
			`(name = ? OR name = ?)`, []any{"x' OR '1'='1", `"; DROP TABLE t; --`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := filter.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			where, args, err := filter.Compile(e, testFields, testLabels)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tc.in, err)
			}
			if where != tc.where || !reflect.DeepEqual(args, tc.args) {
				t.Fatalf("Compile(%q) =\n  %s %#v\nwant\n  %s %#v", tc.in, where, args, tc.where, tc.args)
			}
		})
	}
}

func TestCompileInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		noLabels bool
		pos      int
		msg      string
	}{
		{"unknown field", `size = 1 OR nme = "x"`, false, 12, `unknown field "nme" (known fields: created, name, ok, size, labels.<key>)`},
		{"labels not supported", `labels.x = "y"`, true, 0, `unknown field "labels.x" (known fields: created, name, ok, size)`},
		{"number field, string value", `size = "x"`, false, 7, `field "size" takes a number, got a string`},
		{"string field, number value", `name IN ("a", 1)`, false, 14, `field "name" takes a string, got a number`},
		{"label, bool value", `labels.x = true`, false, 11, `field "labels.x" takes a string, got a bool`},
		{"bool field, string value", `ok != "true"`, false, 6, `field "ok" takes a bool, got a string`},
		{"time field, number value", `created > 5`, false, 10, `field "created" takes a time (an RFC 3339 string), got a number`},
		{"less than on a bool", `ok < true`, false, 3, `"<" does not apply to bool field "ok"`},
		{"LIKE on a number", `size LIKE "1%"`, false, 5, `LIKE does not apply to number field "size"`},
		{"NOT LIKE on a time", `created NOT LIKE "2024%"`, false, 8, `NOT LIKE does not apply to time field "created"`},
		{"not a time", `created = "yesterday"`, false, 10, `field "created" takes an RFC 3339 time`},
		{"date only", `created = "2024-01-01"`, false, 10, `field "created" takes an RFC 3339 time`},
		{"time out of range", `created < "0001-01-01T00:00:00+01:00"`, false, 10, `out of range`},
		{"trailing backslash in LIKE", `name LIKE "a\\"`, false, 10, `LIKE pattern "a\\": "\" must be followed by %, _ or "\"`},
		{"backslash before a letter in LIKE", `name LIKE "\\a%"`, false, 10, `must be followed by`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := filter.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			labels := filter.LabelSQL(testLabels)
			if tc.noLabels {
				labels = nil
			}
			where, args, err := filter.Compile(e, testFields, labels)
			var se *filter.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) = %q, %v, %v; want a *SyntaxError", tc.in, where, args, err)
			}
			if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
				t.Fatalf("Compile(%q): position %d: %s\nwant position %d: …%s…", tc.in, se.Pos, se.Msg, tc.pos, tc.msg)
			}
		})
	}
}

func TestCompileBadInput(t *testing.T) {
	t.Parallel()
	for _, e := range []filter.Expr{
		nil,
		&filter.And{},
		&filter.Comparison{Field: "name", Op: filter.Eq},
		&filter.Comparison{Field: "name", Op: filter.Op(99), Values: []filter.Value{{Kind: filter.StringValue}}},
		&filter.Comparison{Field: "name", Op: filter.Eq, Values: make([]filter.Value, 2)},
	} {
		if where, _, err := filter.Compile(e, testFields, testLabels); err == nil {
			t.Errorf("Compile(%#v) = %q, want an error", e, where)
		}
	}
}
