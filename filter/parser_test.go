package filter_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"atrium"
	"atrium/filter"
)

func TestParseValid(t *testing.T) {
	t.Parallel()
	many := func(n int, term, sep string) string {
		return strings.TrimSuffix(strings.Repeat(term+sep, n), sep)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"comparison", `a = 1`, `a = 1`},
		{"issue example", `frameworkType = "PyTorch" AND (labels.team = "nlp" OR approvalStatus = "Approved")`,
			`frameworkType = "PyTorch" AND (labels.team = "nlp" OR approvalStatus = "Approved")`},
		{"precedence NOT AND OR", `a=1 and b="x" or not c<=2.5`, `(a = 1 AND b = "x") OR NOT c <= 2.5`},
		{"operators", `a != 1 AND b < 2 AND c > 3 AND d <= 4 AND e >= 5`, `a != 1 AND b < 2 AND c > 3 AND d <= 4 AND e >= 5`},
		{"IN mixed values", `x in (1, "a", true)`, `x IN (1, "a", true)`},
		{"NOT IN any case", `x NoT In ("a")`, `x NOT IN ("a")`},
		{"NOT LIKE", `name not like "a%"`, `name NOT LIKE "a%"`},
		{"escapes", `s = "q\"uote\\"`, `s = "q\"uote\\"`},
		{"negative decimal", `n >= -3.25`, `n >= -3.25`},
		{"bool keywords any case", `a = TRUE OR a = False`, `a = true OR a = false`},
		{"label key characters", `labels.app.kubernetes.io/name-x_y != "v"`, `labels.app.kubernetes.io/name-x_y != "v"`},
		{"label key that is a keyword", `labels.and = "v"`, `labels.and = "v"`},
		{"redundant parentheses", `((a = 1))`, `a = 1`},
		{"double NOT", `NOT NOT a = 1`, `NOT NOT a = 1`},
		{"NOT of a group", `NOT (a = 1 OR b = 2)`, `NOT (a = 1 OR b = 2)`},
		{"nested AND keeps its shape", `a = 1 AND (b = 2 AND c = 3)`, `a = 1 AND (b = 2 AND c = 3)`},
		{"whitespace", "\ta\n=\r\n1 ", `a = 1`},
		{"no spaces", `(a=1)AND(b!="x")`, `a = 1 AND b != "x"`},
		{"unicode string", `a = "héllo, 世界"`, `a = "héllo, 世界"`},
		{"empty string", `a = ""`, `a = ""`},
		{"newline inside a string", "a = \"x\ny\"", "a = \"x\ny\""},
		{"64 comparisons", many(64, "a = 1", " OR "), many(64, "a = 1", " OR ")},
		{"100 IN values", "a IN (" + many(100, "1", ", ") + ")", "a IN (" + many(100, "1", ", ") + ")"},
		{"depth 32", strings.Repeat("(", 32) + "a = 1" + strings.Repeat(")", 32), "a = 1"},
		{"4096 bytes", `a = "` + strings.Repeat("x", 4096-6) + `"`, `a = "` + strings.Repeat("x", 4096-6) + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := filter.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := e.String(); got != tc.want {
				t.Fatalf("Parse(%q).String() = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseTree(t *testing.T) {
	t.Parallel()
	e, err := filter.Parse(`a = 1 OR NOT labels.x IN ("p", "q")`)
	if err != nil {
		t.Fatal(err)
	}
	or, ok := e.(*filter.Or)
	if !ok || len(or.Terms) != 2 {
		t.Fatalf("got %#v, want an Or of two terms", e)
	}
	c := or.Terms[0].(*filter.Comparison)
	if c.Field != "a" || c.Op != filter.Eq || c.Pos != 0 || c.OpPos != 2 ||
		len(c.Values) != 1 || c.Values[0] != (filter.Value{Pos: 4, Kind: filter.NumberValue, Str: "1"}) {
		t.Errorf("first term = %#v", c)
	}
	c = or.Terms[1].(*filter.Not).X.(*filter.Comparison)
	if c.Field != "labels.x" || c.Op != filter.In || c.Pos != 13 || len(c.Values) != 2 ||
		c.Values[1] != (filter.Value{Pos: 31, Kind: filter.StringValue, Str: "q"}) {
		t.Errorf("second term = %#v", c)
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	repeat := func(n int, term, sep string) string {
		return strings.TrimSuffix(strings.Repeat(term+sep, n), sep)
	}
	for _, tc := range []struct {
		name, in string
		pos      int
		msg      string // a substring of the message
	}{
		{"empty", ``, 0, "empty filter"},
		{"blank", `   `, 3, "empty filter"},
		{"missing value", `name =`, 6, `expected a value after "="`},
		{"keyword instead of value", `a = AND`, 4, `expected a value after "="`},
		{"double equals", `a == 1`, 3, `expected a value after "="`},
		{"two comparisons without AND", `a = 1 b = 2`, 6, `expected AND, OR or the end of the filter, got "b"`},
		{"unmatched close", `a = 1)`, 5, `unmatched ")"`},
		{"unclosed paren", `(a = 1`, 6, `expected ")" to close the "(" at position 0, got end of filter`},
		{"empty parens", `()`, 1, `expected a field name, got ")"`},
		{"bang", `a ! 1`, 2, `unexpected "!"`},
		{"unterminated string", `a = "abc`, 4, "unterminated string"},
		{"unknown escape", `a = "a\n"`, 6, "unknown escape"},
		{"escape at end", `a = "a\`, 6, "unknown escape"},
		{"trailing decimal point", `a = 1.`, 6, "expected digits after the decimal point"},
		{"two decimal points", `a = 1.2.3`, 7, `unexpected '.' in a number`},
		{"letters after a number", `a = 12abc`, 6, `unexpected 'a' in a number`},
		{"lone minus", `a = -`, 4, `expected digits after "-"`},
		{"exponent", `a = 1e5`, 5, `unexpected 'e' in a number`},
		{"integer out of range", `a = 99999999999999999999`, 4, "number out of range"},
		{"LIKE with a number", `a LIKE 5`, 7, "LIKE needs a string pattern, got a number"},
		{"NOT LIKE with a bool", `a not like true`, 11, "NOT LIKE needs a string pattern, got a bool"},
		{"IN without list", `a IN 1`, 5, `expected "(" after "IN"`},
		{"empty IN list", `a IN ()`, 6, `expected a value after "("`},
		{"trailing comma", `a IN (1,)`, 8, `expected a value after ","`},
		{"missing comma", `a IN (1 2)`, 8, `expected "," or ")" in the IN list, got "2"`},
		{"unclosed IN list", `a IN (1`, 7, `expected "," or ")" in the IN list, got end of filter`},
		{"NOT then operator", `a NOT = 1`, 6, `expected IN or LIKE after "NOT", got "="`},
		{"field alone", `a`, 1, `expected an operator after "a", got end of filter`},
		{"value as field", `1 = 1`, 0, `expected a field name, got "1"`},
		{"no field", `= 1`, 0, `expected a field name, got "="`},
		{"keyword as field", `AND a = 1`, 0, `expected a field name, got "AND"`},
		{"string as field", `"a" = 1`, 0, `expected a field name, got a string`},
		{"dangling AND", `a = 1 AND`, 9, `expected a field name, got end of filter`},
		{"empty label key", `labels. = 1`, 7, `expected a label key after "labels."`},
		{"dotted field", `spec.x = 1`, 4, `unexpected character '.'`},
		{"bad character", `a = # `, 4, `unexpected character '#'`},
		{"single quotes", `a = 'x'`, 4, `unexpected character '\''`},
		{"NUL in string", "a = \"x\x00\"", 6, "NUL byte in a string"},
		{"invalid UTF-8 in string", "a = \"\xff\"", 5, "invalid UTF-8 in a string"},
		{"invalid UTF-8", "\xff", 0, "invalid UTF-8"},
		{"too long", strings.Repeat(" ", 4097), 4096, "filter is longer than 4096 bytes"},
		{"too deep", strings.Repeat("(", 33) + "a = 1" + strings.Repeat(")", 33), 32, "filter nests deeper than 32 levels"},
		{"too many NOTs", strings.Repeat("NOT ", 33) + "a = 1", 128, "filter nests deeper than 32 levels"},
		{"too many comparisons", repeat(65, "a = 1", " OR "), 64 * 9, "filter has more than 64 comparisons"},
		{"IN list too long", "a IN (" + repeat(101, "1", ", ") + ")", 6 + 100*3, "IN list has more than 100 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := filter.Parse(tc.in)
			var se *filter.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, %v; want a *SyntaxError", tc.in, e, err)
			}
			if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
				t.Fatalf("Parse(%q): position %d: %s\nwant position %d: …%s…", tc.in, se.Pos, se.Msg, tc.pos, tc.msg)
			}
		})
	}
}

func TestSyntaxErrorIsInvalidFilter(t *testing.T) {
	t.Parallel()
	_, err := filter.Parse(`approvalStatus = `)
	if got, want := fmt.Sprint(err), `filter: position 17: expected a value after "="`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	ae := atrium.AsError(err)
	if ae == nil || ae.Code != atrium.EINVALID || ae.Field != "filter" {
		t.Errorf("atrium.AsError = %+v, want EINVALID naming the field filter", ae)
	}
}
