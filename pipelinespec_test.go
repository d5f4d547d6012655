package atrium_test

import (
	"reflect"
	"strings"
	"testing"

	"atrium"
	"atrium/resource"
)

func diamondSpec() atrium.PipelineSpec {
	job := func() *atrium.JobSpec {
		return &atrium.JobSpec{JobType: "CustomJob", Command: "true", JobSpecs: []atrium.RoleSpec{{Type: "Worker", PodCount: 1, Image: "busybox",
			Resources: resource.Spec{CPU: "1", Memory: "1Gi"}}}}
	}
	file := func(name, from string) atrium.PipelinePort {
		return atrium.PipelinePort{Name: name, Type: "file", From: from}
	}
	return atrium.PipelineSpec{
		Parameters: []atrium.PipelineParam{{Name: "rows", Type: "int", Default: float64(3)}, {Name: "lr", Type: "float"}},
		Nodes: []atrium.PipelineNodeSpec{
			{Name: "D", Job: job(), Inputs: []atrium.PipelinePort{file("b", "B.out"), file("c", "C.out")}},
			{Name: "B", Job: job(), Inputs: []atrium.PipelinePort{file("data", "A.data")}, Outputs: []atrium.PipelinePort{file("out", "")}},
			{Name: "C", Algorithm: &atrium.AlgorithmRef{AlgorithmID: "algo-x", Version: "0.1.0"}, Params: map[string]any{"lr": "${lr}", "epochs": float64(2)},
				Inputs: []atrium.PipelinePort{{Name: "data", From: "A.data"}}},
			{Name: "A", Job: job(), Params: map[string]any{"rows": "${rows}"}, Outputs: []atrium.PipelinePort{file("data", "")}},
		},
	}
}

func component() map[string]*atrium.PipelineComponent {
	return map[string]*atrium.PipelineComponent{"C": {Image: "trainer:1", CommandTemplate: "train --lr {{.lr}} --epochs {{.epochs}} --tag {{.tag}}",
		Params:  []atrium.ComponentParam{{Name: "lr", Type: "float"}, {Name: "epochs", Type: "int"}, {Name: "tag", Type: "string", Default: "v"}},
		Inputs:  []atrium.PipelinePort{{Name: "data", Type: "file"}},
		Outputs: []atrium.PipelinePort{{Name: "out", Type: "file"}}}}
}

func TestPipelineSpecOrderAndDownstream(t *testing.T) {
	s := diamondSpec()
	if err := s.Validate(component()); err != nil {
		t.Fatal(err)
	}
	order, err := s.Order()
	if err != nil || strings.Join(order, "") != "ABCD" {
		t.Fatalf("order %v %v", order, err)
	}
	if got := s.Downstream([]string{"C"}); !reflect.DeepEqual(got, map[string]bool{"D": true}) {
		t.Fatalf("downstream of C: %v", got)
	}
	if got := s.Downstream([]string{"A"}); len(got) != 3 {
		t.Fatalf("downstream of A: %v", got)
	}
}

// Validation errors name the node and port (or parameter) and the rule.
func TestPipelineSpecValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent)
		field string
	}{
		{"algorithm param type", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) {
			s.Nodes[2].Params["epochs"] = "two"
		}, "nodes[C].params.epochs"},
		{"reference of a narrower slot", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) {
			s.Nodes[2].Params["epochs"] = "${lr}"
		}, "nodes[C].params.epochs"},
		{"required algorithm param", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) {
			c["C"].Params[1].Required = true
			delete(s.Nodes[2].Params, "epochs")
		}, "nodes[C].params.epochs"},
		{"unknown algorithm param", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) { s.Nodes[2].Params["x"] = "1" }, "nodes[C].params.x"},
		{"algorithm input missing", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) { s.Nodes[2].Inputs = nil }, "nodes[C].inputs[data]"},
		{"algorithm input type", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) {
			s.Nodes[2].Inputs[0].Type = "model"
		}, "nodes[C].inputs[data].type"},
		{"algorithm output declared by node", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) {
			s.Nodes[2].Outputs = []atrium.PipelinePort{{Name: "x", Type: "file"}}
		}, "nodes[C].outputs"},
		{"wired and defaulted", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) {
			s.Nodes[1].Inputs[0].Default = "/x"
		}, "nodes[B].inputs[data]"},
		{"self dependency", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) {
			s.Nodes[1].DependsOn = []string{"B"}
		}, "nodes[B].dependsOn"},
		{"bad node name", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) { s.Nodes[3].Name = "a b" }, "nodes[3].name"},
		{"parameter type", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) { s.Parameters[0].Type = "double" }, "parameters[0].type"},
		{"reserved env", func(s *atrium.PipelineSpec, c map[string]*atrium.PipelineComponent) {
			s.Nodes[1].Job.Envs = map[string]string{"ATRIUM_INPUT_data": "/etc/passwd"}
		}, "nodes[B].job.envs.ATRIUM_INPUT_data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := diamondSpec(), component()
			tt.edit(&s, c)
			e := atrium.AsError(s.Validate(c))
			if e == nil || e.Code != atrium.EINVALID || e.Field != tt.field {
				t.Fatalf("got %v, want EINVALID naming %s", e, tt.field)
			}
		})
	}
}

func TestPipelineArgumentsAndNodeJobs(t *testing.T) {
	s := diamondSpec()
	if _, err := s.Arguments(nil); atrium.AsError(err) == nil || atrium.AsError(err).Field != "arguments.lr" {
		t.Fatalf("lr has no default: %v", err)
	}
	args, err := s.Arguments(map[string]any{"lr": float64(3)}) // an int fills a float
	if err != nil || args["rows"] != float64(3) {
		t.Fatalf("arguments %v %v", args, err)
	}
	r := &atrium.PipelineRun{ID: "run-x", DisplayName: "d", Accessibility: atrium.AccessPublic, Spec: s, Components: component(), Arguments: args}
	js, err := r.NodeJobSpec("C", "/runs/run-x")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ATRIUM_PARAM_lr": "3", "ATRIUM_PARAM_epochs": "2", "ATRIUM_PARAM_tag": "v",
		"ATRIUM_INPUT_data": "/runs/run-x/A/data", "ATRIUM_OUTPUT_out": "/runs/run-x/C/out", "ATRIUM_RUN_DIR": "/runs/run-x",
		"ATRIUM_PIPELINE_RUN_ID": "run-x", "ATRIUM_PIPELINE_NODE": "C"}
	if !reflect.DeepEqual(js.Envs, want) || js.Command != "train --lr 3 --epochs 2 --tag v" || js.JobSpecs[0].Image != "trainer:1" ||
		js.DisplayName != "d/C" || js.Accessibility != atrium.AccessPublic {
		t.Fatalf("node job spec %+v", js)
	}
	if err := js.Normalize(); err != nil {
		t.Fatalf("an algorithm node's job does not normalize: %v", err)
	}
}

func TestPipelineRerunNodes(t *testing.T) {
	s := diamondSpec()
	r := &atrium.PipelineRun{Spec: s, Nodes: atrium.NewPipelineNodes(&s)}
	for i, st := range []string{atrium.NodeSkipped, atrium.NodeSucceeded, atrium.NodeFailed, atrium.NodeSucceeded} { // D B C A
		r.Nodes[i].Status, r.Nodes[i].JobID = st, "job-"+r.Nodes[i].Name
	}
	r.Nodes[0].JobID = ""
	reset := r.RerunNodes()
	if strings.Join(reset, ",") != "D,C" {
		t.Fatalf("reset %v", reset)
	}
	if c := r.Node("C"); c.Status != atrium.NodePending || c.JobID != "" || !reflect.DeepEqual(c.PreviousJobIDs, []string{"job-C"}) {
		t.Fatalf("C %+v", c)
	}
	if b := r.Node("B"); b.Status != atrium.NodeSucceeded || b.JobID != "job-B" {
		t.Fatalf("B %+v", b)
	}
}
