// Package alertcel compiles and runs the CEL filters of alert rules: an
// expression over `event` (the CloudEvent as a map(string, dyn)) that must
// yield a bool. The API compiles a rule's expression when it is saved; the
// delivery engine evaluates it per event.
package alertcel

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
)

// Error is a compile error with its position (1-based line and column).
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
	}
	return e.Msg
}

// Program is a compiled expression; safe for concurrent use.
type Program struct {
	prg cel.Program
}

var (
	envOnce sync.Once
	env     *cel.Env
	envErr  error
)

// Env returns the shared environment: one variable, event, a map(string, dyn).
func Env() (*cel.Env, error) {
	envOnce.Do(func() {
		env, envErr = cel.NewEnv(cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)))
	})
	return env, envErr
}

// MaxLength bounds an expression's size.
const MaxLength = 4096

// Compile parses and type-checks expr, which must yield a bool. A compile
// error is an *Error naming the first issue's position.
func Compile(expr string) (*Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, &Error{Msg: "expression is empty"}
	}
	if len(expr) > MaxLength {
		return nil, &Error{Msg: fmt.Sprintf("expression is longer than %d bytes", MaxLength)}
	}
	e, err := Env()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	ast, iss := e.Compile(expr)
	if iss != nil && iss.Err() != nil {
		errs := iss.Errors()
		if len(errs) == 0 {
			return nil, &Error{Msg: iss.Err().Error()}
		}
		first := errs[0]
		loc := first.Location
		out := &Error{Msg: first.Message}
		if loc != nil && loc.Line() > 0 && loc.Column() >= 0 { // -1: CEL knows no column
			out.Line, out.Column = loc.Line(), loc.Column()+1
		}
		return nil, out
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, &Error{Line: 1, Column: 1, Msg: fmt.Sprintf("expression yields %s, want bool", ast.OutputType())}
	}
	prg, err := e.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(1_000_000))
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	return &Program{prg: prg}, nil
}

// Eval runs the program over event; an evaluation error (a missing key, a
// type mismatch) is returned, and callers treat it as no match.
func (p *Program) Eval(event map[string]any) (bool, error) {
	out, _, err := p.prg.Eval(map[string]any{"event": event})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, errors.New("expression did not yield a bool")
	}
	return b, nil
}
