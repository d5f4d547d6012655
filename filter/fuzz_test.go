package filter_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"atrium/filter"
)

// The seed corpora are testdata/fuzz/FuzzParse and testdata/fuzz/FuzzCompile
// plus the engine cases. Fuzz with
//
//	go test -run '^$' -fuzz=FuzzParse -fuzztime=60s ./filter
//	go test -run '^$' -fuzz=FuzzCompile -fuzztime=60s ./filter

// FuzzParse checks that Parse never panics, that its errors are
// *SyntaxErrors with a position inside the input, and that a parsed filter
// renders as text that parses to the same filter.
func FuzzParse(f *testing.F) {
	for _, tc := range engineCases {
		f.Add(tc.filter)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := filter.Parse(s)
		if err != nil {
			checkSyntaxError(t, s, err)
			return
		}
		text := e.String()
		if len(text) > filter.MaxLength {
			return // the canonical spacing made it longer than allowed
		}
		e2, err := filter.Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) renders as %q, which does not parse: %v", s, text, err)
		}
		if text2 := e2.String(); text2 != text {
			t.Fatalf("Parse(%q) renders as %q, which renders as %q", s, text, text2)
		}
	})
}

// FuzzCompile checks that whatever parses either fails to compile with a
// *SyntaxError or compiles to SQL with one argument per placeholder and no
// value in the text, which SQLite runs and, when ATRIUM_TEST_POSTGRES is
// set, PostgreSQL runs with the same result on the items table.
func FuzzCompile(f *testing.F) {
	for _, tc := range engineCases {
		f.Add(tc.filter)
	}
	engines := setupEngines(f)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := filter.Parse(s)
		if err != nil {
			return
		}
		where, args, err := filter.Compile(e, engines[0].fields, engines[0].labels)
		if err != nil {
			checkSyntaxError(t, s, err)
			return
		}
		if n := strings.Count(where, "?"); n != len(args) {
			t.Fatalf("Compile(%q) = %q with %d placeholders and %d args", s, where, n, len(args))
		}
		if strings.Contains(where, `"`) || strings.Count(where, "'") != 2*strings.Count(where, `ESCAPE '\'`) {
			t.Fatalf("Compile(%q) = %q: a quote in the SQL besides ESCAPE '\\'", s, where)
		}
		var want []int
		for i, eng := range engines {
			got, err := eng.query(e)
			if err != nil {
				t.Fatalf("%s: %q: %v", eng.name, s, err)
			}
			if i == 0 {
				want = got
			} else if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: %s matches ids %v, %s matches %v", s, engines[0].name, want, eng.name, got)
			}
		}
	})
}

func checkSyntaxError(t *testing.T, s string, err error) {
	t.Helper()
	var se *filter.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("%q: error %v (%T) is not a *SyntaxError", s, err, err)
	}
	if se.Pos < 0 || se.Pos > len(s) || se.Msg == "" {
		t.Fatalf("%q: error %q: position outside the input or no message", s, err)
	}
}
