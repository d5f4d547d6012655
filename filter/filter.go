// Package filter implements the small expression language that Atrium's list
// endpoints take as filter=, and compiles it to parameterized SQL that runs
// the same on SQLite and PostgreSQL.
//
// # Language
//
//	frameworkType = "PyTorch" AND (labels.team = "nlp" OR approvalStatus = "Approved")
//
// A comparison is a field, an operator and a value: =, !=, <, >, <=, >=,
// LIKE and NOT LIKE (SQL patterns with % and _, matched case-insensitively —
// for ASCII letters only on SQLite, whose lower() folds no others; write \\%
// inside the quotes for a literal %), and IN / NOT IN with a
// parenthesized list of up to 100 values. Comparisons combine with NOT, AND
// and OR (in that order of precedence) and parentheses. Keywords are
// case-insensitive; field names are not. A field is an identifier (name,
// frameworkType) or labels.<key>, the key made of letters, digits and
// . _ - /. A value is a double-quoted string (escapes \" and \\ only), an
// integer or decimal (-12, 3.5) or true/false. Times are strings in RFC 3339.
// Only LIKE ignores case: = and the ordering operators compare strings
// exactly, in byte order (see Field for PostgreSQL's collation).
//
// A filter is at most 4 KiB, nests at most 32 levels (parentheses and NOTs)
// and holds at most 64 comparisons. Every error is a *SyntaxError with the
// byte offset of the problem.
//
// # Missing values
//
// A comparison with a missing label or a NULL column is false, and its
// negation is true: labels.team = "nlp" does not match an asset without a
// team label, while labels.team != "nlp", labels.team NOT IN (…) and
// NOT labels.team = "nlp" do (as a Kubernetes label selector would). So NOT e
// always matches exactly the rows e does not, and NOT labels.team LIKE "%"
// finds the assets that have no team label.
package filter

import (
	"fmt"
	"strings"
)

// Limits on a filter's size, checked by Parse.
const (
	MaxLength      = 4096 // bytes
	MaxDepth       = 32   // nested parentheses and NOTs
	MaxComparisons = 64
	MaxInValues    = 100
)

// SyntaxError is a filter that cannot be parsed or compiled. Pos is the
// 0-based byte offset of the problem in the filter text.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("filter: position %d: %s", e.Pos, e.Msg) }

// InvalidField names the request parameter at fault, so Atrium reports the
// error as invalid input (400) about "filter".
func (e *SyntaxError) InvalidField() string { return "filter" }

func errorf(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Expr is a parsed filter: *And, *Or, *Not or *Comparison. String renders it
// back as filter text that parses to the same expression.
type Expr interface {
	String() string
	expr()
}

// And matches when every term matches.
type And struct{ Terms []Expr }

// Or matches when any term matches.
type Or struct{ Terms []Expr }

// Not matches when X does not.
type Not struct{ X Expr }

// Comparison compares a field with a value, or with a list for IN.
type Comparison struct {
	Pos    int    // offset of the field name
	Field  string // "name" or "labels.<key>"
	Op     Op
	OpPos  int
	Values []Value // one, or the IN list
}

// Op is a comparison operator.
type Op int

// The comparison operators.
const (
	Eq Op = iota + 1
	Ne
	Lt
	Gt
	Le
	Ge
	Like
	NotLike
	In
	NotIn
)

var opNames = map[Op]string{
	Eq: "=", Ne: "!=", Lt: "<", Gt: ">", Le: "<=", Ge: ">=",
	Like: "LIKE", NotLike: "NOT LIKE", In: "IN", NotIn: "NOT IN",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// ValueKind is the kind of a literal value.
type ValueKind int

// The kinds of literal values.
const (
	StringValue ValueKind = iota + 1
	NumberValue
	BoolValue
)

func (k ValueKind) String() string {
	switch k {
	case StringValue:
		return "string"
	case NumberValue:
		return "number"
	case BoolValue:
		return "bool"
	}
	return fmt.Sprintf("ValueKind(%d)", int(k))
}

// Value is a literal.
type Value struct {
	Pos  int
	Kind ValueKind
	Str  string // the decoded string, or the number as written
	Bool bool
}

func (v Value) String() string {
	switch v.Kind {
	case StringValue:
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
		return `"` + r.Replace(v.Str) + `"`
	case BoolValue:
		if v.Bool {
			return "true"
		}
		return "false"
	}
	return v.Str
}

func (*And) expr()        {}
func (*Or) expr()         {}
func (*Not) expr()        {}
func (*Comparison) expr() {}

func (e *And) String() string { return join(e.Terms, " AND ") }
func (e *Or) String() string  { return join(e.Terms, " OR ") }
func (e *Not) String() string { return "NOT " + group(e.X) }

func (e *Comparison) String() string {
	if e.Op == In || e.Op == NotIn {
		vs := make([]string, len(e.Values))
		for i, v := range e.Values {
			vs[i] = v.String()
		}
		return e.Field + " " + e.Op.String() + " (" + strings.Join(vs, ", ") + ")"
	}
	if len(e.Values) == 0 {
		return e.Field + " " + e.Op.String() + " ?"
	}
	return e.Field + " " + e.Op.String() + " " + e.Values[0].String()
}

func join(terms []Expr, sep string) string {
	s := make([]string, len(terms))
	for i, t := range terms {
		s[i] = group(t)
	}
	return strings.Join(s, sep)
}

// group parenthesizes AND and OR terms so the text keeps the tree's shape.
func group(e Expr) string {
	switch e.(type) {
	case *And, *Or:
		return "(" + e.String() + ")"
	case nil:
		return "<nil>"
	}
	return e.String()
}
