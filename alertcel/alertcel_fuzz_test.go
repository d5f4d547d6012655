package alertcel_test

import (
	"errors"
	"strings"
	"testing"

	"atrium/alertcel"
)

// FuzzCompile checks rule validation: Compile never panics; a rejected
// expression gets an *Error whose position, when given, lies inside the
// expression; an accepted one evaluates to a bool or an error (never a
// panic) on sample events, and its negation compiles too and evaluates to
// the opposite.
//
//	go test -run '^$' -fuzz=FuzzCompile -fuzztime=60s ./alertcel
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`event.type == "dlc.job.status.changed" && event.data.to in ["Failed", "Stopped"]`,
		`event.type.startsWith("dlc.")`,
		`has(event.data) && event.data.exitCode > 0`,
		`size(event.subject) < 10 || event.source.matches("^/workspaces/")`,
		`event.data.to == "Failed" // a comment`,
		`event.data.all(k, k != "x")`,
		"event.type == \n  'a'",
		`1 + 1`, `event.type ==`, `"unterminated`, `)`, `event.data.exists(x, `, ``, `   `,
	} {
		f.Add(s)
	}
	events := []map[string]any{
		{"type": "dlc.job.status.changed", "source": "/workspaces/ws-1", "subject": "job-1",
			"data": map[string]any{"to": "Failed", "from": "Running", "exitCode": int64(3)}},
		{"type": "x", "data": map[string]any{}},
		{},
	}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := alertcel.Compile(expr)
		if err != nil {
			var e *alertcel.Error
			if !errors.As(err, &e) || e.Msg == "" {
				t.Fatalf("Compile(%q): error %v (%T) is not an *alertcel.Error with a message", expr, err, err)
			}
			lines := strings.Split(expr, "\n")
			if e.Line < 0 || e.Line > len(lines) || (e.Line > 0 && (e.Column < 1 || e.Column > len([]rune(lines[e.Line-1]))+1)) {
				t.Fatalf("Compile(%q): error at %d:%d, outside the expression", expr, e.Line, e.Column)
			}
			return
		}
		// A newline before the closing parenthesis ends a trailing // comment.
		neg, err := alertcel.Compile("!(" + expr + "\n)")
		if err != nil && len(expr)+4 <= alertcel.MaxLength {
			t.Fatalf("Compile(%q) succeeds, its negation fails: %v", expr, err)
		}
		for _, ev := range events {
			got, err := p.Eval(ev)
			if err != nil || neg == nil {
				continue
			}
			if ng, err := neg.Eval(ev); err == nil && ng == got {
				t.Fatalf("%q and its negation both yield %v on %v", expr, got, ev)
			}
		}
	})
}
