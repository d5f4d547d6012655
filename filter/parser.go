package filter

import (
	"math"
	"strconv"
	"strings"
)

// Parse parses a filter. Callers treat an absent or empty filter parameter as
// "no filter" and do not call Parse; Parse reports it as an error. Every
// error is a *SyntaxError.
func Parse(s string) (Expr, error) {
	if len(s) > MaxLength {
		return nil, errorf(MaxLength, "filter is longer than %d bytes", MaxLength)
	}
	p := &parser{lx: lexer{s: s}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, errorf(p.tok.pos, "empty filter")
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tokEOF:
		return e, nil
	case tokRParen:
		return nil, errorf(p.tok.pos, `unmatched ")"`)
	}
	return nil, errorf(p.tok.pos, "expected AND, OR or the end of the filter, got %s", p.tok.describe())
}

// parser is a recursive-descent parser with one token of lookahead:
//
//	or         = and { OR and }
//	and        = unary { AND unary }
//	unary      = NOT unary | "(" or ")" | comparison
//	comparison = field ( op value | [NOT] LIKE string | [NOT] IN "(" value { "," value } ")" )
type parser struct {
	lx          lexer
	tok         token
	depth       int
	comparisons int
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) or() (Expr, error) {
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	terms := []Expr{x}
	for p.tok.kind == tokOr {
		if err := p.advance(); err != nil {
			return nil, err
		}
		y, err := p.and()
		if err != nil {
			return nil, err
		}
		terms = append(terms, y)
	}
	if len(terms) == 1 {
		return x, nil
	}
	return &Or{Terms: terms}, nil
}

func (p *parser) and() (Expr, error) {
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	terms := []Expr{x}
	for p.tok.kind == tokAnd {
		if err := p.advance(); err != nil {
			return nil, err
		}
		y, err := p.unary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, y)
	}
	if len(terms) == 1 {
		return x, nil
	}
	return &And{Terms: terms}, nil
}

// enter counts one level of nesting at pos.
func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return errorf(pos, "filter nests deeper than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) unary() (Expr, error) {
	switch p.tok.kind {
	case tokNot:
		if err := p.enter(p.tok.pos); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		p.depth--
		return &Not{X: x}, nil
	case tokLParen:
		open := p.tok.pos
		if err := p.enter(open); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, errorf(p.tok.pos, `expected ")" to close the "(" at position %d, got %s`, open, p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		p.depth--
		return x, nil
	}
	return p.comparison()
}

// tokOps maps the symbol tokens to their operators.
var tokOps = map[tokKind]Op{tokEq: Eq, tokNe: Ne, tokLt: Lt, tokGt: Gt, tokLe: Le, tokGe: Ge}

func (p *parser) comparison() (Expr, error) {
	if p.tok.kind != tokIdent && p.tok.kind != tokLabel {
		return nil, errorf(p.tok.pos, "expected a field name, got %s", p.tok.describe())
	}
	c := &Comparison{Pos: p.tok.pos, Field: p.tok.text}
	p.comparisons++
	if p.comparisons > MaxComparisons {
		return nil, errorf(c.Pos, "filter has more than %d comparisons", MaxComparisons)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	c.OpPos = p.tok.pos
	switch p.tok.kind {
	case tokEq, tokNe, tokLt, tokGt, tokLe, tokGe:
		c.Op = tokOps[p.tok.kind]
	case tokLike:
		c.Op = Like
	case tokIn:
		c.Op = In
	case tokNot:
		if err := p.advance(); err != nil {
			return nil, err
		}
		switch p.tok.kind {
		case tokIn:
			c.Op = NotIn
		case tokLike:
			c.Op = NotLike
		default:
			return nil, errorf(p.tok.pos, `expected IN or LIKE after "NOT", got %s`, p.tok.describe())
		}
	default:
		return nil, errorf(p.tok.pos, "expected an operator after %q, got %s", c.Field, p.tok.describe())
	}
	opText := p.tok.text
	if c.Op == NotIn || c.Op == NotLike {
		opText = c.Op.String()
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if c.Op == In || c.Op == NotIn {
		return c, p.list(c, opText)
	}
	v, err := p.value(opText)
	if err != nil {
		return nil, err
	}
	if (c.Op == Like || c.Op == NotLike) && v.Kind != StringValue {
		return nil, errorf(v.Pos, "%s needs a string pattern, got a %s", strings.ToUpper(opText), v.Kind)
	}
	c.Values = []Value{v}
	return c, nil
}

// list parses the parenthesized value list of IN.
func (p *parser) list(c *Comparison, opText string) error {
	if p.tok.kind != tokLParen {
		return errorf(p.tok.pos, `expected "(" after %q, got %s`, opText, p.tok.describe())
	}
	for {
		prev := p.tok.text
		if err := p.advance(); err != nil {
			return err
		}
		if len(c.Values) == MaxInValues {
			return errorf(p.tok.pos, "IN list has more than %d values", MaxInValues)
		}
		v, err := p.value(prev)
		if err != nil {
			return err
		}
		c.Values = append(c.Values, v)
		switch p.tok.kind {
		case tokComma:
			continue
		case tokRParen:
			return p.advance()
		}
		return errorf(p.tok.pos, `expected "," or ")" in the IN list, got %s`, p.tok.describe())
	}
}

// value parses a literal; after names what precedes it for the error message.
func (p *parser) value(after string) (Value, error) {
	t := p.tok
	v := Value{Pos: t.pos}
	switch t.kind {
	case tokString:
		v.Kind, v.Str = StringValue, t.text
	case tokTrue, tokFalse:
		v.Kind, v.Bool = BoolValue, t.kind == tokTrue
	case tokNumber:
		v.Kind, v.Str = NumberValue, t.text
		if _, err := number(t.text); err != nil {
			return Value{}, errorf(t.pos, "%v", err)
		}
	default:
		return Value{}, errorf(t.pos, "expected a value after %q", after)
	}
	return v, p.advance()
}

// number converts a number literal to int64 or float64.
func number(s string) (any, error) {
	if !strings.Contains(s, ".") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errNumberRange
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, errNumberRange
	}
	return f, nil
}

type numberRangeError struct{}

func (numberRangeError) Error() string { return "number out of range" }

var errNumberRange error = numberRangeError{}
