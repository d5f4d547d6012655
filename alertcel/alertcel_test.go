package alertcel_test

import (
	"errors"
	"strings"
	"testing"

	"atrium/alertcel"
)

func TestCompileEval(t *testing.T) {
	p, err := alertcel.Compile(`event.type == "dlc.job.status.changed" && event.data.to in ["Failed", "Stopped"]`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to   string
		want bool
	}{{"Failed", true}, {"Running", false}} {
		got, err := p.Eval(map[string]any{"type": "dlc.job.status.changed", "data": map[string]any{"to": tc.to}})
		if err != nil || got != tc.want {
			t.Fatalf("Eval(%s) = %v, %v", tc.to, got, err)
		}
	}
	// A missing key is an evaluation error, not a panic.
	if _, err := p.Eval(map[string]any{"type": "dlc.job.status.changed"}); err == nil {
		t.Fatal("Eval without data succeeded")
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		expr, want string
		line, col  int
	}{
		{`event.type ==`, "Syntax error", 1, 14},
		{"event.type == \"a\" &&\n  event.data.to ==== 1", "Syntax error", 2, 19},
		{`event.type`, "want bool", 1, 1},
		{`evnt.type == "x"`, "undeclared reference", 1, 1},
		{`size(event) + 1`, "want bool", 1, 1},
		{` `, "empty", 0, 0},
	} {
		_, err := alertcel.Compile(tc.expr)
		var ce *alertcel.Error
		if !errors.As(err, &ce) {
			t.Fatalf("Compile(%q) = %v, want an *alertcel.Error", tc.expr, err)
		}
		if !strings.Contains(ce.Msg, tc.want) || ce.Line != tc.line || ce.Column != tc.col {
			t.Errorf("Compile(%q) = %d:%d %q, want %d:%d %q", tc.expr, ce.Line, ce.Column, ce.Msg, tc.line, tc.col, tc.want)
		}
	}
}
