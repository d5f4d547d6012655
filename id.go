package atrium

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// ID prefixes; every id Atrium hands out is a prefixed string.
const (
	PrefixUser      = "u-"
	PrefixToken     = "tok-"
	PrefixWorkspace = "ws-"
	PrefixMember    = "mem-"
	PrefixOpLog     = "op-"
	PrefixRequest   = "req-"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix followed by 16 random lowercase base32 characters
// (80 bits), enough to never collide and short enough to type.
func NewID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return prefix + idEncoding.EncodeToString(b)
}

// HasPrefix reports whether id carries the given prefix and a body.
func HasPrefix(id, prefix string) bool {
	return strings.HasPrefix(id, prefix) && len(id) > len(prefix)
}
