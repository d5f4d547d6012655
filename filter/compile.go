package filter

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Type is the type of a filterable field; it decides which operators and
// values a comparison may use.
type Type int

// The field types.
const (
	String Type = iota + 1 // string values; every operator
	Number                 // number values; no LIKE
	Bool                   // true/false; only =, !=, IN, NOT IN
	Time                   // RFC 3339 strings; no LIKE
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	case Time:
		return "time"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Field maps a public field name to SQL.
//
// Column is a trusted SQL expression holding no '?' (a column name, or e.g.
// json_extract(spec, '$.frameworkType')). For <, >, <= and >= on text to give
// the same answer on both engines, text columns on PostgreSQL should carry
// COLLATE "C" (byte order, as SQLite compares).
//
// A Time value is bound as fixed-width UTC text with microseconds
// (2006-01-02T15:04:05.000000Z, finer digits dropped): it compares as text
// with timestamps stored that way in SQLite, and PostgreSQL reads it as a
// TIMESTAMPTZ. A Number value is bound as int64 or float64 inside
// CAST(? AS NUMERIC), so a decimal compares with an integer column on
// PostgreSQL too. A Bool value is bound as a Go bool.
type Field struct {
	Column string
	Type   Type
}

// LabelSQL returns an SQL expression that yields the value of the label key
// as text, or NULL when the asset has no such label, with the arguments its
// '?' placeholders take; for labels kept as JSON text, SQLite's
// json_extract(labels, ?) with '$."key"' or PostgreSQL's
// (labels::jsonb ->> ?) with the key. Label values compare as strings.
type LabelSQL func(key string) (sqlExpr string, args []any)

// timeLayout matches sqlstore's SQLite timestamps and sorts as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// Compile turns e into an SQL condition with '?' placeholders and their
// arguments, in order. fields are the filterable fields by public name;
// labels compiles labels.<key> (nil when the list has no labels). Values are
// always bound as arguments. LIKE compiles to
// lower(col) LIKE lower(?) ESCAPE '\' — case-insensitive (on SQLite for ASCII
// letters only) with \ escaping %, _ and \ on both engines.
//
// The condition is parenthesized, so it can be ANDed into a WHERE clause. It
// is true for the rows that match; for the others it is false or NULL, so do
// not negate it in SQL (negate the filter instead). An unknown field, a value
// of the wrong type or an operator the field's type does not take is a
// *SyntaxError at the offending position.
func Compile(e Expr, fields map[string]Field, labels LabelSQL) (where string, args []any, err error) {
	if e == nil {
		return "", nil, errors.New("filter: Compile of a nil expression")
	}
	c := &compiler{fields: fields, labels: labels}
	if err := c.expr(e, false); err != nil {
		return "", nil, err
	}
	where = c.b.String()
	x := e
	for n, ok := x.(*Not); ok; n, ok = x.(*Not) {
		x = n.X
	}
	if _, ok := x.(*Comparison); ok { // And and Or come parenthesized
		where = "(" + where + ")"
	}
	return where, c.args, nil
}

type compiler struct {
	fields map[string]Field
	labels LabelSQL
	b      strings.Builder
	args   []any
}

// expr writes e, or its negation when neg is set. Negations are pushed down
// to the comparisons (De Morgan), where a negated comparison is written
// NOT COALESCE(c, FALSE): a NULL comparison counts as false and its
// negation as true, so NOT e matches exactly the rows e does not.
func (c *compiler) expr(e Expr, neg bool) error {
	switch e := e.(type) {
	case *And:
		return c.group(e.Terms, neg, " AND ", " OR ")
	case *Or:
		return c.group(e.Terms, neg, " OR ", " AND ")
	case *Not:
		if e == nil {
			return errors.New("filter: nil *Not")
		}
		return c.expr(e.X, !neg)
	case *Comparison:
		if e == nil {
			return errors.New("filter: nil *Comparison")
		}
		return c.comparison(e, neg)
	}
	return fmt.Errorf("filter: cannot compile %T", e)
}

func (c *compiler) group(terms []Expr, neg bool, sep, negSep string) error {
	if len(terms) == 0 {
		return errors.New("filter: empty AND or OR")
	}
	if neg {
		sep = negSep
	}
	c.b.WriteByte('(')
	for i, t := range terms {
		if i > 0 {
			c.b.WriteString(sep)
		}
		if err := c.expr(t, neg); err != nil {
			return err
		}
	}
	c.b.WriteByte(')')
	return nil
}

// column resolves a field name to its SQL expression, arguments and type.
func (c *compiler) column(e *Comparison) (string, []any, Type, error) {
	if key, ok := strings.CutPrefix(e.Field, labelPrefix); ok && c.labels != nil {
		col, args := c.labels(key)
		return col, args, String, nil
	}
	f, ok := c.fields[e.Field]
	if !ok || strings.HasPrefix(e.Field, labelPrefix) {
		known := slices.Sorted(maps.Keys(c.fields))
		if c.labels != nil {
			known = append(known, labelPrefix+"<key>")
		}
		return "", nil, 0, errorf(e.Pos, "unknown field %q (known fields: %s)", e.Field, strings.Join(known, ", "))
	}
	if f.Column == "" {
		return "", nil, 0, fmt.Errorf("filter: field %q has no column", e.Field)
	}
	return f.Column, nil, f.Type, nil
}

func (c *compiler) comparison(e *Comparison, neg bool) error {
	col, colArgs, typ, err := c.column(e)
	if err != nil {
		return err
	}
	op := e.Op
	switch op { // write != as NOT =, and so on
	case Ne:
		op, neg = Eq, !neg
	case NotLike:
		op, neg = Like, !neg
	case NotIn:
		op, neg = In, !neg
	}
	switch {
	case op == Like && typ != String:
		return errorf(e.OpPos, "%s does not apply to %s field %q", e.Op, typ, e.Field)
	case (op == Lt || op == Gt || op == Le || op == Ge) && typ == Bool:
		return errorf(e.OpPos, "%q does not apply to bool field %q", e.Op.String(), e.Field)
	case op < Eq || op > NotIn:
		return fmt.Errorf("filter: unknown operator %v", e.Op)
	}
	if n := len(e.Values); n == 0 || n > 1 && op != In {
		return fmt.Errorf("filter: %s with %d values", e.Op, n)
	}
	// The values first: an error must leave nothing half-written.
	vals := make([]any, len(e.Values))
	for i, v := range e.Values {
		if vals[i], err = arg(v, typ, e.Field, op == Like); err != nil {
			return err
		}
	}
	ph := "?"
	if typ == Number {
		ph = "CAST(? AS NUMERIC)"
	}

	if neg {
		c.b.WriteString("NOT COALESCE(")
	}
	c.args = append(c.args, colArgs...)
	switch op {
	case Like:
		c.b.WriteString("lower(" + col + ") LIKE lower(?) ESCAPE '\\'")
	case In:
		c.b.WriteString(col + " IN (")
		for i := range vals {
			if i > 0 {
				c.b.WriteString(", ")
			}
			c.b.WriteString(ph)
		}
		c.b.WriteByte(')')
	default:
		c.b.WriteString(col + " " + op.String() + " " + ph)
	}
	c.args = append(c.args, vals...)
	if neg {
		c.b.WriteString(", FALSE)")
	}
	return nil
}

// arg checks a value against the field's type and converts it to the driver
// argument.
func arg(v Value, typ Type, field string, like bool) (any, error) {
	want := map[Type]ValueKind{String: StringValue, Number: NumberValue, Bool: BoolValue, Time: StringValue}[typ]
	if v.Kind != want {
		what := typ.String()
		if typ == Time {
			what = "time (an RFC 3339 string)"
		}
		return nil, errorf(v.Pos, "field %q takes a %s, got a %s", field, what, v.Kind)
	}
	switch typ {
	case Number:
		n, err := number(v.Str)
		if err != nil {
			return nil, errorf(v.Pos, "%v", err)
		}
		return n, nil
	case Bool:
		return v.Bool, nil
	case Time:
		t, err := time.Parse(time.RFC3339Nano, v.Str)
		if err != nil {
			return nil, errorf(v.Pos, "field %q takes an RFC 3339 time such as \"2025-01-31T12:00:00Z\", got %s", field, v)
		}
		t = t.UTC().Truncate(time.Microsecond)
		if t.Year() < 1 || t.Year() > 9999 {
			return nil, errorf(v.Pos, "time %s is out of range", v)
		}
		return t.Format(timeLayout), nil
	}
	if like {
		if i := badEscape(v.Str); i >= 0 {
			return nil, errorf(v.Pos, `LIKE pattern %s: "\" must be followed by %%, _ or "\" (write "\\%%" for a literal %%)`, v)
		}
	}
	return v.Str, nil
}

// badEscape returns the index of the first backslash in a LIKE pattern that
// does not escape %, _ or \ (PostgreSQL rejects a trailing one, SQLite does
// not), or -1.
func badEscape(p string) int {
	for i := 0; i < len(p); i++ {
		if p[i] != '\\' {
			continue
		}
		if i+1 == len(p) || !strings.ContainsRune(`%_\`, rune(p[i+1])) {
			return i
		}
		i++
	}
	return -1
}
