package atrium

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"atrium/resource"
)

// PipelineSpec is a pipeline version's DAG: typed parameters (run
// arguments override their defaults) and nodes wired output → input.
type PipelineSpec struct {
	Parameters []PipelineParam    `json:"parameters,omitempty"`
	Nodes      []PipelineNodeSpec `json:"nodes"`
}

// PipelineParam is a pipeline parameter.
type PipelineParam struct {
	Name string `json:"name"`
	// Type: string, int, float or bool.
	Type        string `json:"type"`
	Default     any    `json:"default,omitempty"`
	Description string `json:"description,omitempty"`
}

// PipelineNodeSpec is one node: exactly one of Job (an inline job spec, as
// for POST …/jobs), Algorithm (an algorithm version) or SQL (a SQL job).
type PipelineNodeSpec struct {
	Name      string        `json:"name"`
	Job       *JobSpec      `json:"job,omitempty"`
	Algorithm *AlgorithmRef `json:"algorithm,omitempty"`
	SQL       *PipelineSQL  `json:"sql,omitempty"`
	// Params are the node's parameter values: a literal, or "${NAME}" for
	// pipeline parameter NAME. Algorithm nodes fill the algorithm's
	// params; every node sees them as ATRIUM_PARAM_<name>.
	Params map[string]any `json:"params,omitempty"`
	// Inputs are wired from another node's output ("from: node.port") or
	// defaulted (a path); the node reads the path in ATRIUM_INPUT_<name>.
	Inputs []PipelinePort `json:"inputs,omitempty"`
	// Outputs are paths the node writes, in ATRIUM_OUTPUT_<name>;
	// algorithm nodes take theirs from the algorithm version.
	Outputs   []PipelinePort `json:"outputs,omitempty"`
	DependsOn []string       `json:"dependsOn,omitempty"`
	// Optional: the node's failure does not fail the run.
	Optional bool `json:"optional,omitempty"`
}

// PipelinePort is an input or output of a node.
type PipelinePort struct {
	Name    string `json:"name"`
	Type    string `json:"type,omitempty"`
	From    string `json:"from,omitempty"`
	Default string `json:"default,omitempty"`
}

// AlgorithmRef names an algorithm version and how to run it.
type AlgorithmRef struct {
	AlgorithmID    string        `json:"algorithmId"`
	Version        string        `json:"version"`
	Resources      resource.Spec `json:"resources,omitempty"`
	QuotaID        string        `json:"quotaId,omitempty"`
	Priority       int           `json:"priority,omitempty"`
	MaxRunningTime Duration      `json:"maxRunningTime,omitempty"`
}

// PipelineSQL is a SQL node: a script against a connection.
type PipelineSQL struct {
	ConnectionID string   `json:"connectionId"`
	Script       string   `json:"sql"`
	Timeout      Duration `json:"timeout,omitempty"`
}

// PipelineComponent is an algorithm version's component spec as pipelines
// use it; it reads the JSON of the version's spec.
type PipelineComponent struct {
	Image           string           `json:"image"`
	CommandTemplate string           `json:"commandTemplate"`
	Params          []ComponentParam `json:"params"`
	Inputs          []PipelinePort   `json:"inputs"`
	Outputs         []PipelinePort   `json:"outputs"`
}

// ComponentParam is a declared parameter of a component (an algorithm
// version's hyper-parameter).
type ComponentParam struct {
	Name string `json:"name"`
	// Type: one of ParamTypes.
	Type     string `json:"type"`
	Default  any    `json:"default,omitempty"`
	Required bool   `json:"required,omitempty"`
}

// ParsePipelineSpec reads a pipeline document in YAML or JSON into v,
// rejecting unknown fields with their name.
func ParsePipelineSpec(b []byte, v any) error { return decodeSpec(b, v, "a pipeline") }

// ParamTypes are the types a pipeline or algorithm parameter may have.
var ParamTypes = []string{"string", "int", "float", "bool"}

var (
	nodeNameRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)
	portNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	paramRefRE   = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	maxNodes     = 200
	maxSQLScript = 1 << 20
)

func nodeField(name, rest string) string { return "nodes[" + name + "]" + rest }

// ValueFits reports whether v (as decoded from JSON) is a value of type typ.
func ValueFits(typ string, v any) bool {
	switch typ {
	case "string":
		_, ok := v.(string)
		return ok
	case "bool":
		_, ok := v.(bool)
		return ok
	case "int":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case "float":
		_, ok := v.(float64)
		return ok
	}
	return false
}

// typeFits: a parameter of type from may fill a slot of type to.
func typeFits(from, to string) bool { return from == to || (from == "int" && to == "float") }

// Validate checks the DAG: names, exactly one body per node, acyclic,
// every input wired to an existing output of the same type or defaulted,
// params type-checked against the pipeline parameters and, for algorithm
// nodes, the component (components by node name). Errors name node and port.
func (s *PipelineSpec) Validate(components map[string]*PipelineComponent) error {
	params := map[string]string{}
	for i, p := range s.Parameters {
		f := fmt.Sprintf("parameters[%d]", i)
		if !portNameRE.MatchString(p.Name) {
			return FieldErrorf(f+".name", "must be an identifier (letters, digits, _)")
		}
		if _, dup := params[p.Name]; dup {
			return FieldErrorf(f+".name", "%q is declared twice", p.Name)
		}
		if !slices.Contains(ParamTypes, p.Type) {
			return FieldErrorf(f+".type", "must be one of %s", strings.Join(ParamTypes, ", "))
		}
		if p.Default != nil && !ValueFits(p.Type, p.Default) {
			return FieldErrorf(f+".default", "must be a %s", p.Type)
		}
		params[p.Name] = p.Type
	}
	if len(s.Nodes) == 0 {
		return FieldErrorf("nodes", "must list at least one node")
	}
	if len(s.Nodes) > maxNodes {
		return FieldErrorf("nodes", "must list at most %d nodes", maxNodes)
	}
	outputs := map[string]map[string]string{} // node → port → type
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if !nodeNameRE.MatchString(n.Name) {
			return FieldErrorf(fmt.Sprintf("nodes[%d].name", i), "must start with a letter and hold only letters, digits, _ and - (at most 63)")
		}
		if _, dup := outputs[n.Name]; dup {
			return FieldErrorf(fmt.Sprintf("nodes[%d].name", i), "node %q is declared twice", n.Name)
		}
		outs, err := n.outputPorts(components[n.Name])
		if err != nil {
			return err
		}
		outputs[n.Name] = outs
	}
	for i := range s.Nodes {
		if err := s.Nodes[i].validate(params, outputs, components[s.Nodes[i].Name]); err != nil {
			return err
		}
	}
	_, err := s.Order()
	return err
}

// outputPorts checks the node's body and returns its output ports' types.
func (n *PipelineNodeSpec) outputPorts(c *PipelineComponent) (map[string]string, error) {
	bodies := 0
	for _, set := range []bool{n.Job != nil, n.Algorithm != nil, n.SQL != nil} {
		if set {
			bodies++
		}
	}
	if bodies != 1 {
		return nil, FieldErrorf(nodeField(n.Name, ""), "node %s must have exactly one of job, algorithm or sql", n.Name)
	}
	outs := map[string]string{}
	ports := n.Outputs
	if n.Algorithm != nil {
		if c == nil {
			return nil, FieldErrorf(nodeField(n.Name, ".algorithm"), "node %s: algorithm %s version %q not found", n.Name, n.Algorithm.AlgorithmID, n.Algorithm.Version)
		}
		if len(n.Outputs) > 0 {
			return nil, FieldErrorf(nodeField(n.Name, ".outputs"), "node %s: an algorithm node's outputs come from the algorithm version", n.Name)
		}
		ports = c.Outputs
	}
	if n.SQL != nil && len(n.Outputs) > 0 {
		return nil, FieldErrorf(nodeField(n.Name, ".outputs"), "node %s: a SQL node has no outputs (use dependsOn to order nodes after it)", n.Name)
	}
	for _, p := range ports {
		f := nodeField(n.Name, ".outputs["+p.Name+"]")
		if !portNameRE.MatchString(p.Name) {
			return nil, FieldErrorf(f, "node %s: output %q must be an identifier (letters, digits, _)", n.Name, p.Name)
		}
		if _, dup := outs[p.Name]; dup {
			return nil, FieldErrorf(f, "node %s: output %s is declared twice", n.Name, p.Name)
		}
		if p.Type == "" || len(p.Type) > 64 {
			return nil, FieldErrorf(f+".type", "node %s: output %s needs a type (e.g. file, dataset, model), at most 64 characters", n.Name, p.Name)
		}
		if p.From != "" || p.Default != "" {
			return nil, FieldErrorf(f, "node %s: output %s takes neither from nor default", n.Name, p.Name)
		}
		outs[p.Name] = p.Type
	}
	return outs, nil
}

func (n *PipelineNodeSpec) validate(params map[string]string, outputs map[string]map[string]string, c *PipelineComponent) error {
	if n.SQL != nil {
		switch {
		case n.SQL.ConnectionID == "":
			return FieldErrorf(nodeField(n.Name, ".sql.connectionId"), "node %s: is required", n.Name)
		case strings.TrimSpace(n.SQL.Script) == "":
			return FieldErrorf(nodeField(n.Name, ".sql.sql"), "node %s: is required", n.Name)
		case len(n.SQL.Script) > maxSQLScript:
			return FieldErrorf(nodeField(n.Name, ".sql.sql"), "node %s: must be at most %d bytes", n.Name, maxSQLScript)
		case n.SQL.Timeout < 0 || time.Duration(n.SQL.Timeout) > 24*time.Hour:
			return FieldErrorf(nodeField(n.Name, ".sql.timeout"), "node %s: must be at most 24h", n.Name)
		}
	}
	if n.Job != nil {
		probe := *n.Job // Normalize fills defaults; the saved spec stays as written
		if err := probe.Normalize(); err != nil {
			e := AsError(err)
			return FieldErrorf(nodeField(n.Name, ".job."+e.Field), "node %s: %s", n.Name, strings.TrimPrefix(e.Message, e.Field+": "))
		}
		for k := range n.Job.Envs {
			if strings.HasPrefix(k, "ATRIUM_") {
				return FieldErrorf(nodeField(n.Name, ".job.envs."+k), "node %s: ATRIUM_* variables are set by Atrium (params, inputs, outputs)", n.Name)
			}
		}
	}
	if err := n.validateParams(params, c); err != nil {
		return err
	}
	declared := map[string]string{} // input → type
	if n.Algorithm != nil {
		for _, p := range c.Inputs {
			declared[p.Name] = p.Type
		}
	}
	given := map[string]bool{}
	for _, in := range n.Inputs {
		f := nodeField(n.Name, ".inputs["+in.Name+"]")
		if !portNameRE.MatchString(in.Name) {
			return FieldErrorf(f, "node %s: input %q must be an identifier (letters, digits, _)", n.Name, in.Name)
		}
		if given[in.Name] {
			return FieldErrorf(f, "node %s: input %s is given twice", n.Name, in.Name)
		}
		given[in.Name] = true
		typ := in.Type
		if n.Algorithm != nil {
			want, ok := declared[in.Name]
			if !ok {
				return FieldErrorf(f, "node %s: the algorithm has no input %s", n.Name, in.Name)
			}
			if typ != "" && typ != want {
				return FieldErrorf(f+".type", "node %s: input %s is of type %s in the algorithm, not %s", n.Name, in.Name, want, typ)
			}
			typ = want
		} else if n.SQL != nil {
			return FieldErrorf(f, "node %s: a SQL node has no inputs (use dependsOn to order it after other nodes)", n.Name)
		}
		if typ == "" {
			return FieldErrorf(f+".type", "node %s: input %s needs a type (e.g. file)", n.Name, in.Name)
		}
		switch {
		case in.From != "" && in.Default != "":
			return FieldErrorf(f, "node %s: input %s is wired (from) and defaulted; give one", n.Name, in.Name)
		case in.From == "" && in.Default == "":
			return FieldErrorf(f, "node %s: input %s is neither wired (from: node.output) nor defaulted", n.Name, in.Name)
		case in.From != "":
			src, port, _ := strings.Cut(in.From, ".")
			outs, ok := outputs[src]
			if !ok || src == n.Name {
				return FieldErrorf(f+".from", "node %s: input %s is wired to %q, which is not another node of this pipeline", n.Name, in.Name, in.From)
			}
			st, ok := outs[port]
			if !ok {
				return FieldErrorf(f+".from", "node %s: input %s is wired to %s, but node %s has no output %q", n.Name, in.Name, in.From, src, port)
			}
			if st != typ {
				return FieldErrorf(f+".from", "node %s: input %s of type %s is wired to %s of type %s", n.Name, in.Name, typ, in.From, st)
			}
		}
	}
	for name := range declared {
		if !given[name] {
			return FieldErrorf(nodeField(n.Name, ".inputs["+name+"]"), "node %s: input %s is neither wired (from: node.output) nor defaulted", n.Name, name)
		}
	}
	for _, d := range n.DependsOn {
		if _, ok := outputs[d]; !ok || d == n.Name {
			return FieldErrorf(nodeField(n.Name, ".dependsOn"), "node %s: %q is not another node of this pipeline", n.Name, d)
		}
	}
	return nil
}

func (n *PipelineNodeSpec) validateParams(params map[string]string, c *PipelineComponent) error {
	decl := map[string]ComponentParam{}
	if c != nil {
		for _, p := range c.Params {
			decl[p.Name] = p
		}
	}
	for name, v := range n.Params {
		f := nodeField(n.Name, ".params."+name)
		if !portNameRE.MatchString(name) {
			return FieldErrorf(f, "node %s: param %q must be an identifier (letters, digits, _)", n.Name, name)
		}
		typ := ""
		if s, ok := v.(string); ok && paramRefRE.MatchString(s) {
			ref := paramRefRE.FindStringSubmatch(s)[1]
			pt, ok := params[ref]
			if !ok {
				return FieldErrorf(f, "node %s: param %s refers to ${%s}, which is not a pipeline parameter", n.Name, name, ref)
			}
			typ = pt
		} else {
			switch v.(type) {
			case string, bool, float64:
			default:
				return FieldErrorf(f, "node %s: param %s must be a string, number or bool", n.Name, name)
			}
		}
		if c == nil {
			continue
		}
		d, ok := decl[name]
		switch {
		case !ok:
			return FieldErrorf(f, "node %s: the algorithm has no param %s", n.Name, name)
		case typ != "" && !typeFits(typ, d.Type):
			return FieldErrorf(f, "node %s: param %s is a %s, but ${…} gives a %s", n.Name, name, d.Type, typ)
		case typ == "" && !ValueFits(d.Type, v):
			return FieldErrorf(f, "node %s: param %s must be a %s", n.Name, name, d.Type)
		}
	}
	for _, d := range decl {
		if _, ok := n.Params[d.Name]; !ok && d.Default == nil && d.Required {
			return FieldErrorf(nodeField(n.Name, ".params."+d.Name), "node %s: param %s is required by the algorithm", n.Name, d.Name)
		}
	}
	return nil
}

// Upstream returns the nodes n waits for: wired inputs and dependsOn.
func (n *PipelineNodeSpec) Upstream() []string {
	var out []string
	for _, in := range n.Inputs {
		if src, _, ok := strings.Cut(in.From, "."); ok && !slices.Contains(out, src) {
			out = append(out, src)
		}
	}
	for _, d := range n.DependsOn {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// Order returns the node names in a topological order (declaration order
// among ready nodes); EINVALID naming a node on a cycle.
func (s *PipelineSpec) Order() ([]string, error) {
	indeg, down := map[string]int{}, map[string][]string{}
	for _, n := range s.Nodes {
		indeg[n.Name] += 0
		for _, u := range n.Upstream() {
			indeg[n.Name]++
			down[u] = append(down[u], n.Name)
		}
	}
	var out []string
	done := map[string]bool{}
	for len(out) < len(s.Nodes) {
		progressed := false
		for _, n := range s.Nodes {
			if !done[n.Name] && indeg[n.Name] == 0 {
				done[n.Name], progressed = true, true
				out = append(out, n.Name)
				for _, d := range down[n.Name] {
					indeg[d]--
				}
			}
		}
		if !progressed {
			for _, n := range s.Nodes {
				if !done[n.Name] {
					return nil, FieldErrorf(nodeField(n.Name, ""), "node %s is on a cycle: the pipeline must be acyclic", n.Name)
				}
			}
		}
	}
	return out, nil
}

// Downstream returns the names of the nodes that depend, directly or not,
// on any of names.
func (s *PipelineSpec) Downstream(names []string) map[string]bool {
	out := map[string]bool{}
	order, _ := s.Order()
	for _, name := range order {
		n := s.node(name)
		for _, u := range n.Upstream() {
			if out[u] || slices.Contains(names, u) {
				out[name] = true
			}
		}
	}
	return out
}

func (s *PipelineSpec) node(name string) *PipelineNodeSpec {
	for i := range s.Nodes {
		if s.Nodes[i].Name == name {
			return &s.Nodes[i]
		}
	}
	return nil
}

// Node returns the node spec named name, or nil.
func (s *PipelineSpec) Node(name string) *PipelineNodeSpec { return s.node(name) }

// Arguments checks run arguments against the parameters and returns every
// parameter's value: the argument, else the default. EINVALID names the
// argument (unknown, wrong type) or the parameter without a value.
func (s *PipelineSpec) Arguments(args map[string]any) (map[string]any, error) {
	out := map[string]any{}
	types := map[string]string{}
	for _, p := range s.Parameters {
		types[p.Name] = p.Type
		if p.Default != nil {
			out[p.Name] = p.Default
		}
	}
	for k, v := range args {
		t, ok := types[k]
		if !ok {
			return nil, FieldErrorf("arguments."+k, "is not a parameter of this pipeline")
		}
		if !ValueFits(t, v) {
			return nil, FieldErrorf("arguments."+k, "must be a %s", t)
		}
		out[k] = v
	}
	for _, p := range s.Parameters {
		if _, ok := out[p.Name]; !ok {
			return nil, FieldErrorf("arguments."+p.Name, "is required: parameter %s has no default", p.Name)
		}
	}
	return out, nil
}
