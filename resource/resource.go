// Package resource is Atrium's resource model: Kubernetes-style quantities
// ("4", "500m", "16Gi") and resource vectors {cpu, memory, gpu} kept per
// gpuType. Vectors are plain integers (milli-CPU, bytes, whole GPUs) so the
// scheduler adds and compares them without allocation.
package resource

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// FieldError is a bad quantity or vector, naming the input field; the API
// answers it as InvalidParameter.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// InvalidField names the field (atrium.InvalidFielder).
func (e *FieldError) InvalidField() string { return e.Field }

func fieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Vector is an amount of cpu (milli-cores), memory (bytes) and gpu (devices).
type Vector struct {
	MilliCPU int64
	Memory   int64
	GPU      int64
}

// Add returns v + o.
func (v Vector) Add(o Vector) Vector {
	return Vector{v.MilliCPU + o.MilliCPU, v.Memory + o.Memory, v.GPU + o.GPU}
}

// Sub returns v - o (components may go negative).
func (v Vector) Sub(o Vector) Vector {
	return Vector{v.MilliCPU - o.MilliCPU, v.Memory - o.Memory, v.GPU - o.GPU}
}

// Scale returns v * n.
func (v Vector) Scale(n int64) Vector {
	return Vector{v.MilliCPU * n, v.Memory * n, v.GPU * n}
}

// LessEq reports whether every component of v is at most o's.
func (v Vector) LessEq(o Vector) bool {
	return v.MilliCPU <= o.MilliCPU && v.Memory <= o.Memory && v.GPU <= o.GPU
}

// Min returns the component-wise minimum.
func (v Vector) Min(o Vector) Vector {
	return Vector{min(v.MilliCPU, o.MilliCPU), min(v.Memory, o.Memory), min(v.GPU, o.GPU)}
}

// Max returns the component-wise maximum.
func (v Vector) Max(o Vector) Vector {
	return Vector{max(v.MilliCPU, o.MilliCPU), max(v.Memory, o.Memory), max(v.GPU, o.GPU)}
}

// NonNeg clamps negative components to zero.
func (v Vector) NonNeg() Vector { return v.Max(Vector{}) }

// IsZero reports whether all components are zero.
func (v Vector) IsZero() bool { return v == Vector{} }

// String renders v as "cpu=4,memory=16Gi,gpu=1".
func (v Vector) String() string {
	return fmt.Sprintf("cpu=%s,memory=%s,gpu=%d", FormatCPU(v.MilliCPU), FormatMemory(v.Memory), v.GPU)
}

// Spec is the JSON form of a vector with its gpuType:
// {"cpu": "4", "memory": "16Gi", "gpu": 1, "gpuType": "A100"}. cpu and
// memory accept JSON numbers or quantity strings.
type Spec struct {
	CPU     Quantity `json:"cpu"`
	Memory  Quantity `json:"memory"`
	GPU     int64    `json:"gpu,omitempty"`
	GPUType string   `json:"gpuType,omitempty"`
}

// Quantity is a quantity as the user wrote it (string or number).
type Quantity string

// UnmarshalJSON accepts "16Gi", 4 or 0.5.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*q = Quantity(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("quantity must be a string like \"16Gi\" or a number")
	}
	*q = Quantity(n.String())
	return nil
}

// Vector parses s into a Vector, naming field (e.g. "jobSpecs[0].resources")
// in errors.
func (s Spec) Vector(field string) (Vector, error) {
	v, err := s.vector(field)
	if err != nil {
		return v, err
	}
	if err := ValidateGPUType(s.GPUType); err != nil {
		return v, fieldErrorf(field+".gpuType", "%v", err)
	}
	if v.GPU > 0 && s.GPUType == "" {
		return v, fieldErrorf(field+".gpuType", "is required when gpu > 0")
	}
	return v, nil
}

// vector parses the quantities only.
func (s Spec) vector(field string) (Vector, error) {
	var v Vector
	var err error
	if s.CPU != "" {
		if v.MilliCPU, err = ParseCPU(string(s.CPU)); err != nil {
			return v, fieldErrorf(field+".cpu", "%v", err)
		}
	}
	if s.Memory != "" {
		if v.Memory, err = ParseMemory(string(s.Memory)); err != nil {
			return v, fieldErrorf(field+".memory", "%v", err)
		}
	}
	if s.GPU < 0 {
		return v, fieldErrorf(field+".gpu", "must not be negative")
	}
	v.GPU = s.GPU
	return v, nil
}

// SpecOf renders v back into the JSON form.
func SpecOf(v Vector, gpuType string) Spec {
	return Spec{CPU: Quantity(FormatCPU(v.MilliCPU)), Memory: Quantity(FormatMemory(v.Memory)), GPU: v.GPU, GPUType: gpuType}
}

// ValidateGPUType checks a gpuType name ("" means no GPU / CPU-only).
func ValidateGPUType(t string) error {
	if len(t) > 32 {
		return fmt.Errorf("must be at most 32 characters")
	}
	for _, r := range t {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%q may hold only letters, digits, '-', '_' and '.'", t)
		}
	}
	return nil
}

// List is an amount of resources per gpuType ("" for CPU-only capacity).
type List map[string]Vector

// Add returns l + o as a new list.
func (l List) Add(o List) List {
	out := l.Clone()
	for k, v := range o {
		out[k] = out[k].Add(v)
	}
	return out
}

// Clone copies l.
func (l List) Clone() List {
	out := make(List, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}

// LessEq reports whether l fits within o for every gpuType.
func (l List) LessEq(o List) bool {
	for k, v := range l {
		if !v.LessEq(o[k]) {
			return false
		}
	}
	return true
}

// Types returns the gpuTypes of l, sorted.
func (l List) Types() []string {
	out := make([]string, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseCPU parses a CPU quantity into milli-cores: "4", "0.5", "500m".
func ParseCPU(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "m") {
		n, err := strconv.ParseInt(strings.TrimSuffix(s, "m"), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a CPU quantity: use cores (4, 0.5) or millicores (500m)", s)
		}
		return n, nil
	}
	if !isDecimal(s) {
		return 0, fmt.Errorf("%q is not a CPU quantity: use cores (4, 0.5) or millicores (500m)", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("%q is not a CPU quantity: use cores (4, 0.5) or millicores (500m)", s)
	}
	r.Mul(r, big.NewRat(1000, 1))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is finer than a millicore", s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return r.Num().Int64(), nil
}

// isDecimal reports whether s is a plain decimal number ("4", "0.5", ".5").
// big.Rat also reads fractions, exponents and 0x/0b forms ("1p40"), which
// are not quantities, and whose exponents can make it allocate without bound.
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

var memorySuffixes = []struct {
	suffix string
	mult   int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50}, {"Ei", 1 << 60},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18},
}

// ParseMemory parses a memory quantity into bytes: "16Gi", "512Mi", "1.5G", "1048576".
func ParseMemory(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, m := range memorySuffixes {
		if strings.HasSuffix(s, m.suffix) {
			num, mult = strings.TrimSuffix(s, m.suffix), m.mult
			break
		}
	}
	if !isDecimal(num) {
		return 0, fmt.Errorf("%q is not a memory quantity: use bytes or a suffix Ki, Mi, Gi, Ti (or k, M, G, T), e.g. 16Gi", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%q is not a memory quantity: use bytes or a suffix Ki, Mi, Gi, Ti (or k, M, G, T), e.g. 16Gi", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	if !r.Num().IsInt64() || r.Num().Int64() > math.MaxInt64/4 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return r.Num().Int64(), nil
}

// FormatCPU renders milli-cores the way people write them: "4", "500m", "1.5".
func FormatCPU(m int64) string {
	switch {
	case m%1000 == 0:
		return strconv.FormatInt(m/1000, 10)
	case m < 1000:
		return strconv.FormatInt(m, 10) + "m"
	}
	// Integer arithmetic: a float64 loses millicores above 2^53.
	frac := strings.TrimRight(fmt.Sprintf("%03d", m%1000), "0")
	return strconv.FormatInt(m/1000, 10) + "." + frac
}

// FormatMemory renders bytes with the largest exact binary suffix: "16Gi".
func FormatMemory(b int64) string {
	for i := len(memorySuffixes[:6]) - 1; i >= 0; i-- {
		m := memorySuffixes[i]
		if b != 0 && b%m.mult == 0 {
			return strconv.FormatInt(b/m.mult, 10) + m.suffix
		}
	}
	return strconv.FormatInt(b, 10)
}

// vectorJSON is the wire form of a Vector.
type vectorJSON struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
	GPU    int64  `json:"gpu"`
}

// MarshalJSON writes {"cpu": "4", "memory": "16Gi", "gpu": 1}.
func (v Vector) MarshalJSON() ([]byte, error) {
	return json.Marshal(vectorJSON{FormatCPU(v.MilliCPU), FormatMemory(v.Memory), v.GPU})
}

// UnmarshalJSON reads what MarshalJSON writes. API input goes through Spec,
// whose errors name the field; this is for stored and client-side JSON.
func (v *Vector) UnmarshalJSON(b []byte) error {
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	out, err := s.vector("vector") // the gpuType lives beside the vector
	*v = out
	return err
}

// Specs renders l as a list sorted by gpuType, the API's form of a List.
func (l List) Specs() []Spec {
	out := make([]Spec, 0, len(l))
	for _, t := range l.Types() {
		out = append(out, SpecOf(l[t], t))
	}
	return out
}

// MarshalJSON writes l as its Specs.
func (l List) MarshalJSON() ([]byte, error) {
	return json.Marshal(l.Specs())
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *List) UnmarshalJSON(b []byte) error {
	var specs []Spec
	if err := json.Unmarshal(b, &specs); err != nil {
		return err
	}
	out, err := ParseList("list", specs)
	*l = out
	return err
}

// ParseList turns API input (one Spec per gpuType, "" or absent gpuType for
// CPU-only capacity) into a List; errors name field[i].
func ParseList(field string, specs []Spec) (List, error) {
	out := make(List, len(specs))
	for i, s := range specs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if _, dup := out[s.GPUType]; dup {
			return nil, fieldErrorf(f+".gpuType", "%q is listed twice", s.GPUType)
		}
		if err := ValidateGPUType(s.GPUType); err != nil {
			return nil, fieldErrorf(f+".gpuType", "%v", err)
		}
		if s.GPU > 0 && s.GPUType == "" {
			return nil, fieldErrorf(f+".gpuType", "is required when gpu > 0")
		}
		v, err := Spec{CPU: s.CPU, Memory: s.Memory, GPU: s.GPU}.vector(f)
		if err != nil {
			return nil, err
		}
		out[s.GPUType] = v
	}
	return out, nil
}
