package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokLabel // labels.<key>
	tokString
	tokNumber
	tokAnd
	tokOr
	tokNot
	tokIn
	tokLike
	tokTrue
	tokFalse
	tokLParen
	tokRParen
	tokComma
	tokEq
	tokNe
	tokLt
	tokGt
	tokLe
	tokGe
)

// keywords are matched case-insensitively.
var keywords = map[string]tokKind{
	"and": tokAnd, "or": tokOr, "not": tokNot, "in": tokIn,
	"like": tokLike, "true": tokTrue, "false": tokFalse,
}

// token is one lexical token; text is the decoded string for tokString and
// the source text otherwise.
type token struct {
	kind tokKind
	pos  int
	text string
}

// describe names a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of filter"
	case tokString:
		return "a string"
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// labelPrefix starts a label field.
const labelPrefix = "labels."

// lexer splits a filter into tokens on demand, so an error is reported at
// the first problem from the left whether it is lexical or grammatical.
type lexer struct {
	s   string
	pos int
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// isLabelKeyByte reports whether c may appear in a label key.
func isLabelKeyByte(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '.' || c == '-' || c == '/'
}

// next returns the next token.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.s) && strings.IndexByte(" \t\r\n", l.s[l.pos]) >= 0 {
		l.pos++
	}
	start := l.pos
	if start == len(l.s) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.s[start]
	one := func(k tokKind) (token, error) {
		l.pos++
		return token{kind: k, pos: start, text: l.s[start:l.pos]}, nil
	}
	two := func(k1 tokKind, second byte, k2 tokKind) (token, error) {
		if start+1 < len(l.s) && l.s[start+1] == second {
			l.pos += 2
			return token{kind: k2, pos: start, text: l.s[start:l.pos]}, nil
		}
		return one(k1)
	}
	switch {
	case c == '(':
		return one(tokLParen)
	case c == ')':
		return one(tokRParen)
	case c == ',':
		return one(tokComma)
	case c == '=':
		return one(tokEq)
	case c == '<':
		return two(tokLt, '=', tokLe)
	case c == '>':
		return two(tokGt, '=', tokGe)
	case c == '!':
		if start+1 < len(l.s) && l.s[start+1] == '=' {
			l.pos += 2
			return token{kind: tokNe, pos: start, text: "!="}, nil
		}
		return token{}, errorf(start, `unexpected "!" (did you mean "!="?)`)
	case c == '"':
		return l.str()
	case isDigit(c) || c == '-':
		return l.number()
	case isLetter(c):
		return l.word()
	}
	r, _ := utf8.DecodeRuneInString(l.s[start:])
	if r == utf8.RuneError {
		return token{}, errorf(start, "invalid UTF-8")
	}
	return token{}, errorf(start, "unexpected character %q", r)
}

// word lexes a keyword, an identifier or labels.<key>.
func (l *lexer) word() (token, error) {
	start := l.pos
	for l.pos < len(l.s) && (isLetter(l.s[l.pos]) || isDigit(l.s[l.pos])) {
		l.pos++
	}
	text := l.s[start:l.pos]
	if text == "labels" && l.pos < len(l.s) && l.s[l.pos] == '.' {
		l.pos++
		keyStart := l.pos
		for l.pos < len(l.s) && isLabelKeyByte(l.s[l.pos]) {
			l.pos++
		}
		if l.pos == keyStart {
			return token{}, errorf(keyStart, `expected a label key after "labels."`)
		}
		return token{kind: tokLabel, pos: start, text: l.s[start:l.pos]}, nil
	}
	if k, ok := keywords[strings.ToLower(text)]; ok {
		return token{kind: k, pos: start, text: text}, nil
	}
	return token{kind: tokIdent, pos: start, text: text}, nil
}

// number lexes -?digits(.digits)?; the parser converts it.
func (l *lexer) number() (token, error) {
	start := l.pos
	if l.s[l.pos] == '-' {
		l.pos++
	}
	digits := func() bool {
		from := l.pos
		for l.pos < len(l.s) && isDigit(l.s[l.pos]) {
			l.pos++
		}
		return l.pos > from
	}
	if !digits() {
		return token{}, errorf(start, `expected digits after "-"`)
	}
	if l.pos < len(l.s) && l.s[l.pos] == '.' {
		l.pos++
		if !digits() {
			return token{}, errorf(l.pos, "expected digits after the decimal point")
		}
	}
	if l.pos < len(l.s) && (isLetter(l.s[l.pos]) || l.s[l.pos] == '.') {
		return token{}, errorf(l.pos, "unexpected %q in a number", l.s[l.pos])
	}
	return token{kind: tokNumber, pos: start, text: l.s[start:l.pos]}, nil
}

// str lexes a double-quoted string with \" and \\ escapes.
func (l *lexer) str() (token, error) {
	start := l.pos
	l.pos++ // opening quote
	var b strings.Builder
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		switch {
		case c == '"':
			l.pos++
			return token{kind: tokString, pos: start, text: b.String()}, nil
		case c == '\\':
			if l.pos+1 < len(l.s) && (l.s[l.pos+1] == '"' || l.s[l.pos+1] == '\\') {
				b.WriteByte(l.s[l.pos+1])
				l.pos += 2
				continue
			}
			return token{}, errorf(l.pos, `unknown escape in a string (only \" and \\ are allowed)`)
		case c == 0:
			// PostgreSQL text cannot hold NUL.
			return token{}, errorf(l.pos, "NUL byte in a string")
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			l.pos++
		default:
			r, n := utf8.DecodeRuneInString(l.s[l.pos:])
			if r == utf8.RuneError && n <= 1 {
				// PostgreSQL would reject it; SQLite would not.
				return token{}, errorf(l.pos, "invalid UTF-8 in a string")
			}
			b.WriteString(l.s[l.pos : l.pos+n])
			l.pos += n
		}
	}
	return token{}, errorf(start, "unterminated string")
}
