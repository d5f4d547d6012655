package atrium

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// NodeParams returns a node's parameter values as strings: its params with
// ${NAME} resolved from the run's arguments, plus the component's defaults.
func (r *PipelineRun) NodeParams(n *PipelineNodeSpec) (map[string]string, error) {
	types := map[string]string{}
	out := map[string]string{}
	if c := r.Components[n.Name]; c != nil {
		for _, p := range c.Params {
			types[p.Name] = p.Type
			if p.Default != nil {
				out[p.Name] = formatParam(p.Type, p.Default)
			}
		}
	}
	for name, v := range n.Params {
		if s, ok := v.(string); ok && paramRefRE.MatchString(s) {
			ref := paramRefRE.FindStringSubmatch(s)[1]
			arg, ok := r.Arguments[ref]
			if !ok {
				return nil, FieldErrorf("arguments."+ref, "is required by node %s", n.Name)
			}
			v = arg
		}
		out[name] = formatParam(types[name], v)
	}
	return out, nil
}

// formatParam renders a value the way commands see it; ints without a
// decimal point.
func formatParam(typ string, v any) string {
	switch x := v.(type) {
	case float64:
		if typ == "int" || x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// NodeOutputPath is where node writes output port under the run directory.
func NodeOutputPath(runDir, node, port string) string { return filepath.Join(runDir, node, port) }

// NodeJobSpec builds the job spec of a job or algorithm node: the inline
// spec or the component (image, rendered command template, one Worker
// pod), plus ATRIUM_PARAM_*, ATRIUM_INPUT_*, ATRIUM_OUTPUT_* and
// ATRIUM_RUN_DIR envs, inputs and outputs being paths under runDir.
func (r *PipelineRun) NodeJobSpec(name, runDir string) (*JobSpec, error) {
	n := r.Spec.node(name)
	if n == nil || n.SQL != nil {
		return nil, fmt.Errorf("pipeline: node %q is not a job node", name)
	}
	vals, err := r.NodeParams(n)
	if err != nil {
		return nil, err
	}
	var spec JobSpec
	outs := n.Outputs
	if n.Job != nil {
		spec = *n.Job
		// The job's policy fills in its roles (gpuType); the run's spec stays.
		spec.JobSpecs = slices.Clone(n.Job.JobSpecs)
		spec.Envs = map[string]string{}
		for k, v := range n.Job.Envs {
			spec.Envs[k] = v
		}
	} else {
		c := r.Components[name]
		if c == nil {
			return nil, FieldErrorf(nodeField(name, ".algorithm"), "node %s: algorithm version not resolved", name)
		}
		t, err := template.New(name).Option("missingkey=error").Parse(c.CommandTemplate)
		if err != nil {
			return nil, FieldErrorf(nodeField(name, ".algorithm"), "node %s: command template: %v", name, err)
		}
		var cmd strings.Builder
		if err := t.Execute(&cmd, vals); err != nil {
			return nil, FieldErrorf(nodeField(name, ".params"), "node %s: command template: %v", name, err)
		}
		a := n.Algorithm
		res := a.Resources
		if res.CPU == "" && res.Memory == "" {
			res.CPU, res.Memory = "1", "1Gi" // a small CPU pod unless the node says more
		}
		spec = JobSpec{JobType: "CustomJob", Command: cmd.String(), Envs: map[string]string{},
			JobSpecs: []RoleSpec{{Type: "Worker", PodCount: 1, Image: c.Image, Resources: res}},
			QuotaID:  a.QuotaID, Priority: a.Priority, MaxRunningTime: a.MaxRunningTime}
		outs = c.Outputs
	}
	spec.DisplayName = truncate(r.DisplayName+"/"+name, 128)
	spec.Description = NodeJobDescription(r, name)
	spec.Accessibility = r.Accessibility
	for k, v := range vals {
		spec.Envs["ATRIUM_PARAM_"+k] = v
	}
	for _, in := range n.Inputs {
		path := in.Default
		if src, port, ok := strings.Cut(in.From, "."); ok {
			path = NodeOutputPath(runDir, src, port)
		}
		spec.Envs["ATRIUM_INPUT_"+in.Name] = path
	}
	for _, o := range outs {
		spec.Envs["ATRIUM_OUTPUT_"+o.Name] = NodeOutputPath(runDir, name, o.Name)
	}
	spec.Envs["ATRIUM_RUN_DIR"] = runDir
	spec.Envs["ATRIUM_PIPELINE_RUN_ID"] = r.ID
	spec.Envs["ATRIUM_PIPELINE_NODE"] = name
	return &spec, nil
}

// NodeJobDescription says in a node's job which run and node it is.
func NodeJobDescription(r *PipelineRun, node string) string {
	return "node " + node + " of pipeline run " + r.ID + " (" + r.PipelineID + " v" + strconv.Itoa(r.PipelineVersion) + ")"
}

// NodeOutputs returns the output paths of a node that succeeded.
func (r *PipelineRun) NodeOutputs(name, runDir string) map[string]string {
	n := r.Spec.node(name)
	if n == nil {
		return nil
	}
	outs := n.Outputs
	if c := r.Components[name]; n.Algorithm != nil && c != nil {
		outs = c.Outputs
	}
	if len(outs) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, o := range outs {
		m[o.Name] = NodeOutputPath(runDir, name, o.Name)
	}
	return m
}

// NodeSQLScript is a SQL node's script with {{.param}} replaced by its
// params' values.
func (r *PipelineRun) NodeSQLScript(name string) (string, error) {
	n := r.Spec.node(name)
	vals, err := r.NodeParams(n)
	if err != nil {
		return "", err
	}
	t, err := template.New(name).Option("missingkey=error").Parse(n.SQL.Script)
	if err != nil {
		return "", FieldErrorf(nodeField(name, ".sql.sql"), "node %s: template: %v", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, vals); err != nil {
		return "", FieldErrorf(nodeField(name, ".sql.sql"), "node %s: template: %v", name, err)
	}
	return b.String(), nil
}

// RerunNodes resets for a rerun every node that did not succeed and every
// node downstream of one, keeping the others (and their outputs), and
// returns the reset names in order. The run's status is the caller's.
func (r *PipelineRun) RerunNodes() []string {
	var failed []string
	for _, n := range r.Nodes {
		if n.Status != NodeSucceeded {
			failed = append(failed, n.Name)
		}
	}
	down := r.Spec.Downstream(failed)
	var reset []string
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if n.Status == NodeSucceeded && !down[n.Name] {
			continue
		}
		if n.JobID != "" {
			n.PreviousJobIDs = append(n.PreviousJobIDs, n.JobID)
		}
		n.Status, n.ReasonMessage, n.JobID, n.JobKind = NodePending, "", "", ""
		n.StartedAt, n.FinishedAt, n.Outputs = nil, nil, nil
		reset = append(reset, n.Name)
	}
	return reset
}

// NewPipelineNodes returns the Pending nodes of spec, in declaration order.
func NewPipelineNodes(spec *PipelineSpec) []PipelineNode {
	out := make([]PipelineNode, len(spec.Nodes))
	for i, n := range spec.Nodes {
		out[i] = PipelineNode{Name: n.Name, Status: NodePending, Optional: n.Optional}
	}
	return out
}

// NewSQLJob builds a Queuing SQL job (what POST …/sql-jobs and SQL nodes
// submit); spec.SQL names the connection, script and timeout.
func NewSQLJob(ws, creator, creatorName string, spec JobSpec, now time.Time) *Job {
	return &Job{WorkspaceID: ws, Kind: KindSQL, DisplayName: spec.DisplayName, Description: spec.Description,
		JobType: "SQL", Creator: creator, CreatorName: creatorName, Priority: 1, Accessibility: spec.Accessibility,
		MaxRunningTime: spec.MaxRunningTime, Spec: spec,
		Status: JobQueuing, ReasonCode: ReasonSubmitted, ReasonMessage: "waiting for the SQL runner",
		StatusHistory: []StatusChange{
			{Status: JobCreating, ReasonCode: ReasonSubmitted, ReasonMessage: "submitted by " + creatorName, Time: now},
			{Status: JobQueuing, ReasonCode: ReasonSubmitted, ReasonMessage: "queued for connection " + spec.SQL.ConnectionID, Time: now},
		},
		Pods: []Pod{}, SubmittedAt: now}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
