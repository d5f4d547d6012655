package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"atrium"
)

// FuzzDecodeJSON feeds request bodies to decodeJSON for three request types
// (nested resource specs, maps, pointers) and checks: no panic; every error
// is InvalidParameter naming "body", a field of the type or a key of the
// input; an accepted body, written back as JSON, decodes to a value written
// the same way.
//
//	go test -run '^$' -fuzz=FuzzDecodeJSON -fuzztime=60s ./httpapi
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"q","resourceGroupIds":["rg-a"],"max":[{"cpu":4,"memory":"16Gi","gpu":1,"gpuType":"A100"}],"queueStrategy":"StrictFIFO"}`,
		`{"capacity":{"cpu":"500m","memory":1048576},"labels":{"zone":"a"},"state":"Ready"}`,
		`{"defaultPriority":{"DLC":3},"maxRunningTime":{"DLC":"2h"},"requireSeparateApprover":true}`,
		`{"name": 1}`, `{"max": [{"cpu": {}}]}`, `{"bogus": 1}`, `{"": 1}`, `{"labels": {"a": 1}}`,
		`{} {}`, `{`, ``, `null`, `[]`, `"x"`, `{"defaultPriority":{"a.b":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	targets := []func() any{
		func() any { return new(QuotaRequest) },
		func() any { return new(PutNodeRequest) },
		func() any { return new(UpdateWorkspaceConfigRequest) },
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, newV := range targets {
			v := newV()
			err := decodeJSON(httptest.NewRequest("POST", "/", bytes.NewReader(b)), v)
			if err != nil {
				checkDecodeError(t, b, reflect.TypeOf(v), err)
				continue
			}
			js, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T from %q: marshal: %v", v, b, err)
			}
			// Compared as JSON: omitempty writes [] and null alike.
			v2 := newV()
			if err := decodeJSON(httptest.NewRequest("POST", "/", bytes.NewReader(js)), v2); err != nil {
				t.Fatalf("%T from %q written as %s does not decode: %v", v, b, js, err)
			}
			if js2, _ := json.Marshal(v2); !bytes.Equal(js, js2) {
				t.Fatalf("%T from %q written as %s reads back as %s", v, b, js, js2)
			}
		}
	})
}

func checkDecodeError(t *testing.T, in []byte, typ reflect.Type, err error) {
	t.Helper()
	e := atrium.AsError(err)
	if e == nil || e.Code != atrium.EINVALID || e.Field == "" || !strings.HasPrefix(e.Message, e.Field+": ") {
		t.Fatalf("%v from %q: error %v (%T) does not name a field", typ, in, err, err)
	}
	if e.Field == "body" {
		return
	}
	names := map[string]bool{}
	jsonNames(typ, names, map[reflect.Type]bool{})
	var doc any
	if json.NewDecoder(bytes.NewReader(in)).Decode(&doc) == nil {
		keysOf(doc, names)
	}
	if names[e.Field] {
		return
	}
	for _, seg := range strings.Split(e.Field, ".") {
		if !names[seg] {
			t.Fatalf("%v from %q: error names %q, neither a field of the type nor a key of the input", typ, in, e.Field)
		}
	}
}

// jsonNames collects the JSON names of the fields of t and of the types it holds.
func jsonNames(t reflect.Type, out map[string]bool, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		out[name], out[sf.Name] = true, true
		jsonNames(sf.Type, out, seen)
	}
}

func keysOf(v any, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			out[k] = true
			keysOf(x, out)
		}
	case []any:
		for _, x := range v {
			keysOf(x, out)
		}
	}
}
