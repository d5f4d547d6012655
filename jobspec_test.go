package atrium_test

import (
	"strings"
	"testing"
	"time"

	"atrium"
)

const goodSpec = `
displayName: bert-finetune
jobType: PyTorchJob
command: echo $RANK $WORLD_SIZE $CUDA_VISIBLE_DEVICES
envs: {LR: "3e-5"}
jobSpecs:
  - type: Master
    podCount: 1
    image: pytorch:2.4-cuda12
    resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}
  - type: Worker
    podCount: 3
    image: pytorch:2.4-cuda12
    resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}
quotaId: quota-public
priority: 5
maxRunningTimeMinutes: 120
`

func TestParseJobSpec(t *testing.T) {
	s, err := atrium.ParseJobSpec([]byte(goodSpec))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Normalize(); err != nil {
		t.Fatal(err)
	}
	if s.MaxRunningTime != atrium.Duration(2*time.Hour) || s.Accessibility != atrium.AccessPrivate || len(s.JobSpecs) != 2 || s.Envs["LR"] != "3e-5" {
		t.Fatalf("normalized %+v", s)
	}
	js, err := atrium.ParseJobSpec([]byte(`{"jobType":"CustomJob","command":"true","jobSpecs":[{"type":"Worker","podCount":2,"image":"x","resources":{"cpu":"500m","memory":"1Gi"}}],"maxRunningTime":"90s"}`))
	if err != nil || js.Normalize() != nil || js.MaxRunningTime != atrium.Duration(90*time.Second) {
		t.Fatalf("json spec %+v %v", js, err)
	}
}

func TestJobSpecErrorsNameTheField(t *testing.T) {
	edit := func(old, new string) string { return strings.Replace(goodSpec, old, new, 1) }
	tests := []struct {
		name, spec, field, rule string
	}{
		{"unknown jobType", edit("jobType: PyTorchJob", "jobType: SparkJob"), "jobType", "must be one of"},
		{"chief in pytorch", edit("type: Master", "type: Chief"), "jobSpecs[0].type", "not a role of a PyTorchJob"},
		{"two masters", edit("podCount: 1", "podCount: 2"), "jobSpecs[0].podCount", "exactly one pod"},
		{"zero pods", edit("podCount: 3", "podCount: 0"), "jobSpecs[1].podCount", "at least 1"},
		{"negative memory", edit("memory: 1Gi, gpu: 1, gpuType: T4}\n  - type: Worker", "memory: -1Gi, gpu: 1, gpuType: T4}\n  - type: Worker"), "jobSpecs[0].resources.memory", "not a memory quantity"},
		{"gpu without type", edit("gpu: 1, gpuType: T4}\n  - type: Worker", "gpu: 1}\n  - type: Worker"), "jobSpecs[0].resources.gpuType", "required"},
		{"no image", edit("    image: pytorch:2.4-cuda12\n    resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}\n  - type: Worker", "    resources: {cpu: 1, memory: 1Gi, gpu: 1, gpuType: T4}\n  - type: Worker"), "jobSpecs[0].image", "required"},
		{"priority 10", edit("priority: 5", "priority: 10"), "priority", "1–9"},
		{"unknown field", edit("priority: 5", "priority: 5\ngpus: 4"), "gpus", "not a known field"},
		{"wrong type", edit("priority: 5", "priority: high"), "priority", "wrong type"},
		{"reserved env", edit(`envs: {LR: "3e-5"}`, `envs: {RANK: "3"}`), "envs.RANK", "set by Atrium"},
		{"bad accessibility", edit("priority: 5", "priority: 5\naccessibility: SHARED"), "accessibility", "PRIVATE or PUBLIC"},
		{"bad duration", edit("maxRunningTimeMinutes: 120", "maxRunningTime: soon"), "spec", "duration"},
		{"mpi without launcher", "jobType: MPIJob\ncommand: x\njobSpecs: [{type: Worker, podCount: 1, image: x, resources: {cpu: 1, memory: 1Gi}}]", "jobSpecs", "Launcher"},
		{"branch as an option", edit("priority: 5", "priority: 5\ncodeSource: {codeSourceId: code-x, mountPath: /code, branch: --upload-pack=touch}"), "codeSource.branch", "not a valid branch"},
		{"commit as an option", edit("priority: 5", "priority: 5\ncodeSource: {codeSourceId: code-x, mountPath: /code, commit: --orphan}"), "codeSource.commit", "hexadecimal"},
		{"image as an option", edit("image: pytorch:2.4-cuda12", "image: --privileged"), "jobSpecs[0].image", "image reference"},
		{"empty", "", "spec", "empty"},
		{"not yaml", "jobType: [", "spec", "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := atrium.ParseJobSpec([]byte(tt.spec))
			if err == nil {
				err = s.Normalize()
			}
			e := atrium.AsError(err)
			if e == nil || e.Code != atrium.EINVALID || e.Field != tt.field || !strings.Contains(e.Message, tt.rule) {
				t.Fatalf("err %v; want field %s with %q", err, tt.field, tt.rule)
			}
		})
	}
}

func TestCheckPolicy(t *testing.T) {
	cfg := atrium.DefaultWorkspaceConfig("ws-1")
	cfg.DefaultPriority[atrium.KindDLC] = 3
	cfg.MaxRunningTime[atrium.KindDLC] = atrium.Duration(time.Hour)
	s := &atrium.JobSpec{}
	prio, run, err := s.CheckPolicy(cfg, atrium.KindDLC, []string{atrium.RoleAlgoDeveloper})
	if err != nil || prio != 3 || run != time.Hour {
		t.Fatalf("defaults: %d %v %v", prio, run, err)
	}
	s.Priority = 7
	_, _, err = s.CheckPolicy(cfg, atrium.KindDLC, []string{atrium.RoleAlgoDeveloper})
	if e := atrium.AsError(err); e == nil || e.Field != "priority" || !strings.Contains(e.Message, "cap of 6 for your role AlgoDeveloper") {
		t.Fatalf("cap: %v", err)
	}
	if prio, _, err := s.CheckPolicy(cfg, atrium.KindDLC, []string{atrium.RoleAlgoDeveloper, atrium.RoleAlgoOperator}); err != nil || prio != 7 {
		t.Fatalf("best role counts: %d %v", prio, err)
	}
	s.Priority, s.MaxRunningTime = 1, atrium.Duration(2*time.Hour)
	if _, _, err := s.CheckPolicy(cfg, atrium.KindDLC, []string{atrium.RoleAlgoDeveloper}); atrium.AsError(err) == nil || atrium.AsError(err).Field != "maxRunningTime" {
		t.Fatalf("runtime cap: %v", err)
	}
}

func TestNormalizeRefusesSQL(t *testing.T) {
	s, err := atrium.ParseJobSpec([]byte("jobType: CustomJob\ncommand: 'true'\nsql: {connectionId: conn-x, sql: 'select 1'}\njobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 1Gi}}]\n"))
	if err == nil {
		err = s.NormalizeFor(atrium.KindDLC)
	}
	if e := atrium.AsError(err); e == nil || e.Field != "sql" {
		t.Fatalf("a DLC spec with sql: %v, want an error naming sql", err)
	}
}
