package resource

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// Fuzz with, one at a time:
//
//	go test -run '^$' -fuzz=FuzzParseCPU -fuzztime=60s ./resource
//	go test -run '^$' -fuzz=FuzzParseMemory -fuzztime=60s ./resource
//	go test -run '^$' -fuzz=FuzzSpec -fuzztime=60s ./resource

// FuzzParseCPU checks that an accepted CPU quantity is a non-negative
// number of millicores that FormatCPU writes back as a quantity parsing to
// the same number, and that a rejected one is quoted in the error.
func FuzzParseCPU(f *testing.F) {
	for _, s := range []string{"4", "0.5", "500m", "1.25", "0", "96", "", "-1", "abc", "1.0001", "4Gi", "1e3", "5mm", "1/2",
		"0x10", "1p40", " 2 ", "9223372036854775807m", "9223372036854775.807", ".5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkQuantity(t, "ParseCPU", s, ParseCPU, FormatCPU, math.MaxInt64) })
}

// FuzzParseMemory is FuzzParseCPU for memory: bytes, at most MaxInt64/4 so
// sums over a few nodes do not overflow.
func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"16Gi", "512Mi", "1.5Gi", "1G", "2k", "1048576", "0", "", "-1Gi", "16GB", "Gi", "0.5", "1e9",
		"99999999Ei", "1Ei", "0x1p3Ki", "3.5Ki", "2305843009213693951", "7Pi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkQuantity(t, "ParseMemory", s, ParseMemory, FormatMemory, math.MaxInt64/4)
	})
}

// checkQuantity checks one parser on s: an error quotes the input; a
// result lies in 0..max and its formatted form parses back to it.
func checkQuantity(t *testing.T, name, s string, parse func(string) (int64, error), format func(int64) string, max int64) {
	t.Helper()
	n, err := parse(s)
	if err != nil {
		if !strings.Contains(err.Error(), quoteTrimmed(s)) {
			t.Fatalf("%s(%q): error %q does not quote the input", name, s, err)
		}
		return
	}
	if n < 0 || n > max {
		t.Fatalf("%s(%q) = %d, out of range", name, s, n)
	}
	text := format(n)
	if back, err := parse(text); err != nil || back != n {
		t.Fatalf("%s(%q) = %d, written as %q, which parses to %d, %v", name, s, n, text, back, err)
	}
}

// FuzzSpec decodes a JSON resource spec as the API does and checks that
// errors name a field under the one given, and that an accepted spec,
// written back by SpecOf and as Vector JSON, reads back to the same vector.
func FuzzSpec(f *testing.F) {
	for _, s := range []string{`{"cpu": 4, "memory": "16Gi", "gpu": 1, "gpuType": "A100"}`, `{"cpu": "500m", "memory": 1048576}`,
		`{"cpu": 0.5, "memory": "1.5Gi"}`, `{"gpu": 2}`, `{"cpu": "x"}`, `{"gpu": -1}`, `{"gpuType": "a b"}`, `{"cpu": 1e3}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Spec
		if json.Unmarshal(b, &s) != nil {
			return
		}
		v, err := s.Vector("f")
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "f.") || fe.Msg == "" {
				t.Fatalf("%q: error %v (%T) does not name a field under f", b, err, err)
			}
			return
		}
		if v.MilliCPU < 0 || v.Memory < 0 || v.GPU < 0 {
			t.Fatalf("%q: negative vector %v", b, v)
		}
		back, err := SpecOf(v, s.GPUType).Vector("f")
		if err != nil || back != v {
			t.Fatalf("%q: %v written as %+v reads back as %v, %v", b, v, SpecOf(v, s.GPUType), back, err)
		}
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%q: marshal %v: %v", b, v, err)
		}
		var v2 Vector
		if err := json.Unmarshal(js, &v2); err != nil || v2 != v {
			t.Fatalf("%q: %v as JSON %s reads back as %v, %v", b, v, js, v2, err)
		}
	})
}

// quoteTrimmed is the input as the parsers quote it in errors.
func quoteTrimmed(s string) string { return fmt.Sprintf("%q", strings.TrimSpace(s)) }
