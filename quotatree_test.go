package atrium_test

import (
	"testing"

	"atrium"
	"atrium/resource"
)

func TestValidateQuotaTree(t *testing.T) {
	gi := int64(1 << 30)
	groups := []*atrium.ResourceGroup{{ID: "rg-a", Name: "a", Backend: atrium.BackendLocal}}
	nodes := []*atrium.Node{
		{Name: "n1", GroupID: "rg-a", GPUType: "A100", Capacity: resource.Vector{MilliCPU: 64000, Memory: 512 * gi, GPU: 8}, State: atrium.NodeReady},
		{Name: "n2", GroupID: "rg-a", GPUType: "", Capacity: resource.Vector{MilliCPU: 32000, Memory: 128 * gi}, State: atrium.NodeReady},
	}
	a100 := func(cpu, gpu int64) resource.List {
		return resource.List{"A100": {MilliCPU: cpu * 1000, Memory: cpu * 8 * gi, GPU: gpu}}
	}
	quota := func(id, parent string, min, max resource.List) *atrium.Quota {
		q := &atrium.Quota{ID: id, Name: id[len("quota-"):], ParentID: parent, Min: min, Max: max, QueueStrategy: atrium.RoundRobin}
		if parent == "" {
			q.ResourceGroups = []string{"rg-a"}
		}
		return q
	}
	root := quota("quota-root", "", a100(32, 8), a100(64, 8))
	teamA := quota("quota-team-a", "quota-root", a100(8, 4), a100(32, 8))
	existing := []*atrium.Quota{root, teamA}

	tests := []struct {
		name  string
		q     *atrium.Quota
		field string // "" means valid
	}{
		{"valid child", quota("quota-team-b", "quota-root", a100(8, 2), a100(16, 4)), ""},
		{"valid root over cpu-only nodes", func() *atrium.Quota {
			return quota("quota-cpu", "", resource.List{"": {MilliCPU: 1000}}, resource.List{"": {MilliCPU: 32000}})
		}(), ""},
		{"min above max", quota("quota-xx", "quota-root", a100(16, 2), a100(8, 4)), "min"},
		{"child max above parent max", quota("quota-xx", "quota-root", a100(1, 1), a100(128, 8)), "max"},
		{"children min above parent min", quota("quota-xx", "quota-root", a100(30, 4), a100(32, 8)), "min"},
		{"unknown gpuType", quota("quota-xx", "quota-root", nil, resource.List{"H100": {GPU: 1}}), "max"},
		{"unknown parent", quota("quota-xx", "quota-nope", nil, nil), "parentId"},
		{"cycle", func() *atrium.Quota {
			r := quota("quota-root", "quota-team-a", a100(32, 8), a100(64, 8))
			r.ResourceGroups = nil
			return r
		}(), "parentId"},
		{"root without groups", func() *atrium.Quota { q := quota("quota-xx", "", nil, nil); q.ResourceGroups = nil; return q }(), "resourceGroupIds"},
		{"child with groups", func() *atrium.Quota {
			q := quota("quota-xx", "quota-root", nil, nil)
			q.ResourceGroups = []string{"rg-a"}
			return q
		}(), "resourceGroupIds"},
		{"unknown group", func() *atrium.Quota {
			q := quota("quota-xx", "", nil, nil)
			q.ResourceGroups = []string{"rg-b"}
			return q
		}(), "resourceGroupIds[0]"},
		{"root guarantee beyond capacity", quota("quota-xx", "", a100(128, 8), nil), "min"},
		{"two roots over-guarantee shared groups", func() *atrium.Quota {
			return quota("quota-yy", "", a100(40, 2), nil) // root already guarantees 32 of 64 cpus
		}(), "min"},
		{"second root within shared capacity", quota("quota-yy", "", a100(32, 0), nil), ""},
		{"parent max shrunk below child", quota("quota-root", "", a100(16, 8), a100(16, 8)), "max"},
		{"lending more than min", func() *atrium.Quota {
			q := quota("quota-xx", "quota-root", a100(4, 2), a100(8, 4))
			q.LendingLimit = a100(4, 4)
			return q
		}(), "lendingLimit"},
		{"preemption could cycle", func() *atrium.Quota {
			q := quota("quota-xx", "quota-root", nil, nil)
			q.PreemptorPriority, q.PreemptedPriority = 5, 5
			return q
		}(), "preemptedPriority"},
		{"bad strategy", func() *atrium.Quota {
			q := quota("quota-xx", "quota-root", nil, nil)
			q.QueueStrategy = "Lottery"
			return q
		}(), "queueStrategy"},
		{"bad name", func() *atrium.Quota { q := quota("quota-xx", "quota-root", nil, nil); q.Name = "Team A"; return q }(), "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := atrium.ValidateQuotaTree(tt.q, existing, groups, nodes)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			e := atrium.AsError(err)
			if e == nil || e.Code != atrium.EINVALID || e.Field != tt.field {
				t.Fatalf("err %v, want EINVALID on field %s", err, tt.field)
			}
		})
	}
}
