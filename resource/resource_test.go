package resource

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseCPU(t *testing.T) {
	for in, want := range map[string]int64{"4": 4000, "0.5": 500, "500m": 500, "1.25": 1250, "0": 0, "96": 96000} {
		got, err := ParseCPU(in)
		if err != nil || got != want {
			t.Errorf("ParseCPU(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "abc", "1.0001", "4Gi", "1e3", "5mm", "1/2"} {
		if _, err := ParseCPU(in); err == nil {
			t.Errorf("ParseCPU(%q) accepted", in)
		}
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{"16Gi": 16 << 30, "512Mi": 512 << 20, "1.5Gi": 3 << 29, "1G": 1e9, "2k": 2000, "1048576": 1 << 20, "0": 0} {
		got, err := ParseMemory(in)
		if err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1Gi", "16GB", "Gi", "0.5", "1e9", "99999999Ei"} {
		if _, err := ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) accepted", in)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, m := range []int64{0, 1, 500, 1000, 1500, 4000, 123456} {
		got, err := ParseCPU(FormatCPU(m))
		if err != nil || got != m {
			t.Errorf("cpu %d → %q → %d %v", m, FormatCPU(m), got, err)
		}
	}
	for _, b := range []int64{0, 1, 1000, 1 << 10, 3 << 29, 16 << 30, 1<<40 + 1} {
		got, err := ParseMemory(FormatMemory(b))
		if err != nil || got != b {
			t.Errorf("memory %d → %q → %d %v", b, FormatMemory(b), got, err)
		}
	}
	if FormatMemory(16<<30) != "16Gi" || FormatCPU(500) != "500m" || FormatCPU(1500) != "1.5" {
		t.Error("unexpected formatting")
	}
}

func TestSpecErrorsNameTheField(t *testing.T) {
	tests := []struct{ json, field string }{
		{`{"cpu": "lots"}`, "res.cpu"},
		{`{"cpu": 2, "memory": "16GB"}`, "res.memory"},
		{`{"gpu": -1}`, "res.gpu"},
		{`{"gpu": 2}`, "res.gpuType"},
		{`{"gpu": 1, "gpuType": "A100 80G"}`, "res.gpuType"},
	}
	for _, tt := range tests {
		var s Spec
		if err := json.Unmarshal([]byte(tt.json), &s); err != nil {
			t.Fatalf("%s: %v", tt.json, err)
		}
		_, err := s.Vector("res")
		if e, ok := err.(*FieldError); !ok || e.Field != tt.field {
			t.Errorf("%s: err %v, want field %s", tt.json, err, tt.field)
		}
	}
	var s Spec
	if err := json.Unmarshal([]byte(`{"cpu": 0.5, "memory": "1Gi", "gpu": 1, "gpuType": "T4"}`), &s); err != nil {
		t.Fatal(err)
	}
	v, err := s.Vector("res")
	if err != nil || v != (Vector{500, 1 << 30, 1}) {
		t.Fatalf("%+v %v", v, err)
	}
	if b, _ := json.Marshal(SpecOf(v, "T4")); !strings.Contains(string(b), `"memory":"1Gi"`) {
		t.Fatalf("SpecOf: %s", b)
	}
}

func TestVectorAndList(t *testing.T) {
	a, b := Vector{1000, 10, 1}, Vector{500, 20, 0}
	if a.Add(b) != (Vector{1500, 30, 1}) || a.Sub(b) != (Vector{500, -10, 1}) || a.Sub(b).NonNeg() != (Vector{500, 0, 1}) {
		t.Fatal("arithmetic")
	}
	if !b.Min(a).LessEq(a) || a.LessEq(b) || !(Vector{}).IsZero() {
		t.Fatal("comparison")
	}
	l := List{"A100": {8000, 64 << 30, 8}, "": {4000, 1 << 30, 0}}
	if !(List{"A100": {1000, 1, 1}}).LessEq(l) || (List{"T4": {0, 0, 1}}).LessEq(l) {
		t.Fatal("list LessEq")
	}
	if got := l.Add(List{"T4": {1, 1, 1}}).Types(); strings.Join(got, ",") != ",A100,T4" {
		t.Fatalf("types %v", got)
	}
}

func TestListJSON(t *testing.T) {
	l := List{"A100": {8000, 64 << 30, 8}, "": {4000, 1 << 30, 0}}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `[{"cpu":"4","memory":"1Gi"},{"cpu":"8","memory":"64Gi","gpu":8,"gpuType":"A100"}]` {
		t.Fatalf("json %s", b)
	}
	var back List
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back["A100"] != l["A100"] || back[""] != l[""] {
		t.Fatalf("round trip %v %v", back, err)
	}
	vb, _ := json.Marshal(Vector{500, 1 << 20, 2})
	var v Vector
	if string(vb) != `{"cpu":"500m","memory":"1Mi","gpu":2}` || json.Unmarshal(vb, &v) != nil || v != (Vector{500, 1 << 20, 2}) {
		t.Fatalf("vector json %s %v", vb, v)
	}
	for _, tt := range []struct {
		specs []Spec
		field string
	}{
		{[]Spec{{GPUType: "T4", GPU: 1}, {GPUType: "T4"}}, "min[1].gpuType"},
		{[]Spec{{GPU: 2}}, "min[0].gpuType"},
		{[]Spec{{CPU: "x"}}, "min[0].cpu"},
	} {
		_, err := ParseList("min", tt.specs)
		if e, ok := err.(*FieldError); !ok || e.Field != tt.field {
			t.Errorf("%+v: %v, want field %s", tt.specs, err, tt.field)
		}
	}
}
