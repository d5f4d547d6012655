package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"atrium"
	"atrium/resource"
)

// computeFixture is a ResourceAdmin, a workspace with an admin and a
// developer, and a resource group rg-gpu with two A100 nodes and one
// CPU-only node, built through the API.
type computeFixture struct {
	*fixture
	ra, lead, dev string
	ws            *atrium.Workspace
	wsPath        string
}

func newComputeFixture(t *testing.T) *computeFixture {
	t.Helper()
	f := setup(t)
	cf := &computeFixture{fixture: f}
	_, cf.ra = f.user(t, "root", atrium.RoleResourceAdmin)
	lead, leadTok := f.user(t, "lead")
	dev, devTok := f.user(t, "dev")
	cf.lead, cf.dev = leadTok, devTok
	cf.ws = &atrium.Workspace{}
	cf.must(t, cf.ra, "POST", "/api/v1/workspaces", map[string]any{"name": "vision", "envTypes": []string{"prod"}}, 201).decode(t, cf.ws)
	cf.wsPath = "/api/v1/workspaces/" + cf.ws.ID
	cf.must(t, cf.ra, "POST", cf.wsPath+"/members", map[string]any{"members": []map[string]any{
		{"userId": lead.ID, "roles": []string{"WorkspaceAdmin"}}, {"userId": dev.ID, "roles": []string{"AlgoDeveloper"}}}}, 201)

	cf.must(t, cf.ra, "POST", "/api/v1/resource-groups", map[string]any{"name": "gpu", "backend": "local", "description": "GPU pool"}, 201)
	for _, n := range []struct {
		name string
		spec map[string]any
	}{
		{"a100-1", map[string]any{"cpu": 64, "memory": "512Gi", "gpu": 8, "gpuType": "A100"}},
		{"a100-2", map[string]any{"cpu": "64", "memory": "512Gi", "gpu": 8, "gpuType": "A100"}},
		{"cpu-1", map[string]any{"cpu": "32", "memory": "128Gi"}},
	} {
		cf.must(t, cf.ra, "PUT", "/api/v1/resource-groups/rg-gpu/nodes/"+n.name, map[string]any{"capacity": n.spec, "labels": map[string]string{"rack": "r1"}}, 200)
	}
	return cf
}

// must sends a request and fails unless the status is want.
func (cf *computeFixture) must(t *testing.T, token, method, path string, body any, want int) response {
	t.Helper()
	r := cf.do(t, token, method, path, body)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

func a100(cpu, memory string, gpu int) map[string]any {
	return map[string]any{"gpuType": "A100", "cpu": cpu, "memory": memory, "gpu": gpu}
}

func usageOf(t *testing.T, v *QuotaView, gpuType string) QuotaUsage {
	t.Helper()
	for _, u := range v.Usage {
		if u.GPUType == gpuType {
			return u
		}
	}
	t.Fatalf("quota %s has no usage for gpuType %q: %+v", v.ID, gpuType, v.Usage)
	return QuotaUsage{}
}

func TestResourceGroupsAndNodes(t *testing.T) {
	cf := newComputeFixture(t)
	var g ResourceGroupView
	cf.must(t, cf.ra, "GET", "/api/v1/resource-groups/rg-gpu", nil, 200).decode(t, &g)
	if g.ID != "rg-gpu" || g.Backend != "local" || g.NodeCount != 3 || len(g.Nodes) != 3 || g.Description != "GPU pool" {
		t.Fatalf("group = %+v", g)
	}
	want := []resource.Spec{{CPU: "32", Memory: "128Gi"}, {CPU: "128", Memory: "1Ti", GPU: 16, GPUType: "A100"}}
	if b, _ := json.Marshal(g.Capacity); string(b) != mustJSON(want) {
		t.Errorf("capacity = %s, want %s", b, mustJSON(want))
	}
	if g.Nodes[0].Name != "a100-1" || g.Nodes[0].Capacity.GPUType != "A100" || g.Nodes[0].Labels["rack"] != "r1" || g.Nodes[0].State != "Ready" {
		t.Errorf("node = %+v", g.Nodes[0])
	}

	// Draining a node takes it out of the ready capacity, not the total.
	cf.must(t, cf.ra, "PUT", "/api/v1/resource-groups/rg-gpu/nodes/a100-2", map[string]any{"capacity": a100("64", "512Gi", 8), "state": "Draining"}, 200)
	cf.must(t, cf.ra, "GET", "/api/v1/resource-groups/rg-gpu", nil, 200).decode(t, &g)
	if mustJSON(g.Capacity) != mustJSON(want) || mustJSON(g.ReadyCapacity) != mustJSON([]resource.Spec{{CPU: "32", Memory: "128Gi"}, {CPU: "64", Memory: "512Gi", GPU: 8, GPUType: "A100"}}) {
		t.Errorf("capacity %s, ready %s", mustJSON(g.Capacity), mustJSON(g.ReadyCapacity))
	}

	var nodes List[*NodeView]
	cf.must(t, cf.ra, "GET", "/api/v1/resource-groups/rg-gpu/nodes", nil, 200).decode(t, &nodes)
	if nodes.TotalCount != 3 || nodes.Items[1].State != "Draining" {
		t.Fatalf("nodes = %s", mustJSON(nodes))
	}

	// The list shows capacity but not the nodes.
	cf.must(t, cf.ra, "POST", "/api/v1/resource-groups", map[string]any{"name": "hpc", "backend": "slurm", "partition": "gpu"}, 201)
	var groups List[*ResourceGroupView]
	cf.must(t, cf.ra, "GET", "/api/v1/resource-groups", nil, 200).decode(t, &groups)
	if groups.TotalCount != 2 || groups.Items[0].ID != "rg-gpu" || groups.Items[0].Nodes != nil || groups.Items[1].Partition != "gpu" {
		t.Fatalf("groups = %s", mustJSON(groups))
	}
	cf.must(t, cf.ra, "PUT", "/api/v1/resource-groups/rg-hpc", map[string]any{"description": "the cluster", "partition": "a100"}, 200).decode(t, &g)
	if g.Description != "the cluster" || g.Partition != "a100" || g.Name != "hpc" {
		t.Fatalf("updated = %+v", g)
	}
	// Names and node names are unique.
	cf.must(t, cf.ra, "POST", "/api/v1/resource-groups", map[string]any{"name": "hpc", "backend": "slurm"}, 409)
	cf.must(t, cf.ra, "PUT", "/api/v1/resource-groups/rg-hpc/nodes/a100-1", map[string]any{"capacity": a100("64", "512Gi", 8)}, 409)
	cf.must(t, cf.ra, "PUT", "/api/v1/resource-groups/rg-nosuch/nodes/n1", map[string]any{"capacity": a100("64", "512Gi", 8)}, 404)

	cf.must(t, cf.ra, "DELETE", "/api/v1/resource-groups/rg-gpu/nodes/cpu-1", nil, 204)
	cf.must(t, cf.ra, "DELETE", "/api/v1/resource-groups/rg-gpu/nodes/cpu-1", nil, 404)
	cf.must(t, cf.ra, "DELETE", "/api/v1/resource-groups/rg-hpc", nil, 204)
	cf.must(t, cf.ra, "GET", "/api/v1/resource-groups/rg-hpc", nil, 404)

	// A group a quota draws on cannot go.
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "team", "resourceGroupIds": []string{"rg-gpu"}}, 201)
	cf.must(t, cf.ra, "DELETE", "/api/v1/resource-groups/rg-gpu", nil, 409)

	// Every change is in the platform operation log.
	var logs List[*atrium.OperationLog]
	cf.must(t, cf.ra, "GET", "/api/v1/operation-logs?action=ResourceGroup:UpdateResourceGroup", nil, 200).decode(t, &logs)
	if logs.TotalCount < 5 {
		t.Errorf("node changes in the log: %d", logs.TotalCount)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestQuotaTreeAndUsage(t *testing.T) {
	cf := newComputeFixture(t)
	// A root over the group: min half the A100s, max all of them.
	var root QuotaView
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{
		"name": "research", "description": "all research", "resourceGroupIds": []string{"rg-gpu"},
		"min": []any{a100("64", "512Gi", 8), map[string]any{"cpu": 16, "memory": "64Gi"}},
		"max": []any{a100("128", "1Ti", 16)}, "preemptorPriority": 7, "preemptedPriority": 3, "minRuntime": "10m",
	}, 201).decode(t, &root)
	if root.ID != "quota-research" || root.QueueStrategy != "RoundRobin" || root.MinRuntime != "10m0s" || root.PreemptorPriority != 7 {
		t.Fatalf("root = %s", mustJSON(root))
	}
	// Two children splitting the guarantee, one borrowing up to the whole max.
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "nlp", "parentId": "quota-research",
		"min": []any{a100("32", "256Gi", 4)}, "max": []any{a100("128", "1Ti", 16)}, "queueStrategy": "Intelligent",
		"lendingLimit": []any{a100("16", "128Gi", 2)}, "offeredTo": []string{cf.ws.ID}}, 201)
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "cv", "parentId": "quota-research",
		"min": []any{a100("32", "256Gi", 4)}, "max": []any{a100("64", "512Gi", 8)}}, 201)
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "nlp-intern", "parentId": "quota-nlp",
		"max": []any{a100("8", "64Gi", 1)}}, 201)

	// Usage of an idle cluster: min and max as configured, nothing
	// allocated, used, requested, borrowed or lent.
	var q QuotaView
	cf.must(t, cf.ra, "GET", "/api/v1/quotas/quota-nlp", nil, 200).decode(t, &q)
	u := usageOf(t, &q, "A100")
	zero := UsageVector{CPU: "0", Memory: "0", GPU: 0}
	// Idle, nlp may take all 16 A100s: its min, cv's unused min and the
	// root's unpromised rest, up to its max.
	if u.Min != (UsageVector{"32", "256Gi", 4}) || u.Max == nil || *u.Max != (UsageVector{"128", "1Ti", 16}) || u.Available != (UsageVector{"128", "1Ti", 16}) {
		t.Errorf("nlp usage %s", mustJSON(u))
	}
	for name, v := range map[string]UsageVector{"allocated": u.Allocated, "used": u.Used, "requested": u.Requested, "borrowed": u.Borrowed, "lent": u.Lent} {
		if v != zero {
			t.Errorf("nlp %s = %+v, want zero on an idle cluster", name, v)
		}
	}
	if q.Children != nil || q.QueueStrategy != "Intelligent" || len(q.LendingLimit) != 1 || q.OfferedTo[0] != cf.ws.ID {
		t.Errorf("nlp = %s", mustJSON(q))
	}
	// The root's available capacity is what its resource group holds; its
	// CPU-only line has no max, so the cpu node is the cap.
	cf.must(t, cf.ra, "GET", "/api/v1/quotas/quota-research", nil, 200).decode(t, &root)
	if u := usageOf(t, &root, "A100"); u.Max == nil || *u.Max != (UsageVector{"128", "1Ti", 16}) || u.Min != (UsageVector{"64", "512Gi", 8}) || u.Available != (UsageVector{"128", "1Ti", 16}) {
		t.Errorf("root A100 usage %s", mustJSON(u))
	}
	if u := usageOf(t, &root, ""); u.Min != (UsageVector{"16", "64Gi", 0}) || u.Max != nil || u.Available != (UsageVector{"32", "128Gi", 0}) {
		t.Errorf("root CPU usage %s", mustJSON(u))
	}

	// layout=tree: children recursively, each with usage.
	cf.must(t, cf.ra, "GET", "/api/v1/quotas/quota-research?layout=tree", nil, 200).decode(t, &root)
	if len(root.Children) != 2 || root.Children[0].ID != "quota-cv" || root.Children[1].ID != "quota-nlp" ||
		len(root.Children[1].Children) != 1 || root.Children[1].Children[0].ID != "quota-nlp-intern" {
		t.Fatalf("tree = %s", mustJSON(root))
	}
	if u := usageOf(t, root.Children[1].Children[0], "A100"); u.Max == nil || *u.Max != (UsageVector{"8", "64Gi", 1}) || u.Available != *u.Max {
		t.Errorf("intern usage %s", mustJSON(u))
	}
	var l List[*QuotaView]
	cf.must(t, cf.ra, "GET", "/api/v1/quotas?layout=tree", nil, 200).decode(t, &l)
	if l.TotalCount != 1 || len(l.Items[0].Children) != 2 {
		t.Fatalf("tree list = %s", mustJSON(l))
	}
	cf.must(t, cf.ra, "GET", "/api/v1/quotas", nil, 200).decode(t, &l)
	if l.TotalCount != 4 || l.Items[0].Name != "cv" {
		t.Fatalf("flat list = %s", mustJSON(l))
	}
	cf.must(t, cf.ra, "GET", "/api/v1/quotas?parentId=quota-research", nil, 200).decode(t, &l)
	if l.TotalCount != 2 {
		t.Fatalf("children list = %s", mustJSON(l))
	}
	cf.must(t, cf.ra, "GET", "/api/v1/quotas?offeredTo="+cf.ws.ID, nil, 200).decode(t, &l)
	if l.TotalCount != 1 || l.Items[0].ID != "quota-nlp" {
		t.Fatalf("offered list = %s", mustJSON(l))
	}

	// PUT replaces: moving nlp-intern under cv, with a new strategy.
	cf.must(t, cf.ra, "PUT", "/api/v1/quotas/quota-nlp-intern", map[string]any{"name": "intern", "parentId": "quota-cv",
		"max": []any{a100("8", "64Gi", 1)}, "queueStrategy": "StrictFIFO"}, 200).decode(t, &q)
	if q.ID != "quota-nlp-intern" || q.Name != "intern" || q.ParentID != "quota-cv" || q.QueueStrategy != "StrictFIFO" {
		t.Fatalf("moved = %s", mustJSON(q))
	}
	// Deleting: children first.
	cf.must(t, cf.ra, "DELETE", "/api/v1/quotas/quota-cv", nil, 409)
	cf.must(t, cf.ra, "DELETE", "/api/v1/quotas/quota-nlp-intern", nil, 204)
	cf.must(t, cf.ra, "DELETE", "/api/v1/quotas/quota-cv", nil, 204)
	cf.must(t, cf.ra, "GET", "/api/v1/quotas/quota-cv", nil, 404)
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "nlp", "resourceGroupIds": []string{"rg-gpu"}}, 409)
}

// TestComputeInvalidInput: every bad input is a 400 naming its field, and
// nothing is written.
func TestComputeInvalidInput(t *testing.T) {
	cf := newComputeFixture(t)
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "research", "resourceGroupIds": []string{"rg-gpu"},
		"min": []any{a100("64", "512Gi", 8)}, "max": []any{a100("128", "1Ti", 16)}}, 201)
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "nlp", "parentId": "quota-research",
		"min": []any{a100("32", "256Gi", 4)}, "max": []any{a100("64", "512Gi", 8)}, "offeredTo": []string{cf.ws.ID}}, 201)
	cf.must(t, cf.ra, "POST", cf.wsPath+"/roles", map[string]any{"name": "Trainer", "permissions": []string{"DLC:CreateJob"}}, 201)
	ws := cf.wsPath
	root := func(extra map[string]any) map[string]any {
		m := map[string]any{"name": "other", "resourceGroupIds": []string{"rg-gpu"}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	child := func(extra map[string]any) map[string]any {
		m := map[string]any{"name": "child", "parentId": "quota-nlp"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	node := func(capacity map[string]any, extra ...any) map[string]any {
		m := map[string]any{"capacity": capacity}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	tests := []struct {
		name, method, path string
		body               any
		field, rule        string
	}{
		{"group name", "POST", "/api/v1/resource-groups", map[string]any{"name": "GPU pool", "backend": "local"}, "name", "lowercase"},
		{"unknown backend", "POST", "/api/v1/resource-groups", map[string]any{"name": "pool", "backend": "nomad"}, "backend", "local, slurm or kubernetes"},
		{"missing backend", "POST", "/api/v1/resource-groups", map[string]any{"name": "pool"}, "backend", "required"},
		{"partition of a local group", "POST", "/api/v1/resource-groups", map[string]any{"name": "pool", "backend": "local", "partition": "p"}, "partition", "only a slurm"},
		{"change backend", "PUT", "/api/v1/resource-groups/rg-gpu", map[string]any{"backend": "slurm"}, "backend", "fixed at creation"},
		{"rename group badly", "PUT", "/api/v1/resource-groups/rg-gpu", map[string]any{"name": "-x"}, "name", "lowercase"},
		{"node name", "PUT", "/api/v1/resource-groups/rg-gpu/nodes/Node_1", node(a100("8", "16Gi", 1)), "nodeName", "lowercase"},
		{"bad memory quantity", "PUT", "/api/v1/resource-groups/rg-gpu/nodes/n1", node(a100("8", "16GB", 1)), "capacity.memory", "16GB"},
		{"bad cpu quantity", "PUT", "/api/v1/resource-groups/rg-gpu/nodes/n1", node(a100("eight", "16Gi", 1)), "capacity.cpu", "not a CPU quantity"},
		{"gpu without gpuType", "PUT", "/api/v1/resource-groups/rg-gpu/nodes/n1", node(map[string]any{"cpu": 8, "memory": "16Gi", "gpu": 2}), "capacity.gpuType", "required"},
		{"no cpu", "PUT", "/api/v1/resource-groups/rg-gpu/nodes/n1", node(map[string]any{"memory": "16Gi"}), "capacity.cpu", "required"},
		{"node state", "PUT", "/api/v1/resource-groups/rg-gpu/nodes/n1", node(a100("8", "16Gi", 1), "state", "Broken"), "state", "Ready, NotReady or Draining"},
		{"label key", "PUT", "/api/v1/resource-groups/rg-gpu/nodes/n1", node(a100("8", "16Gi", 1), "labels", map[string]string{"bad key": "x"}), "labels.bad key", "label key"},
		{"quota name", "POST", "/api/v1/quotas", root(map[string]any{"name": "Team A"}), "name", "lowercase"},
		{"bad quantity in max", "POST", "/api/v1/quotas", root(map[string]any{"max": []any{map[string]any{"cpu": 4, "memory": "1Gi"}, a100("8", "16GB", 1)}}), "max[1].memory", "16GB"},
		{"gpuType twice", "POST", "/api/v1/quotas", root(map[string]any{"max": []any{a100("8", "16Gi", 1), a100("8", "16Gi", 1)}}), "max[1].gpuType", "listed twice"},
		{"min above max", "POST", "/api/v1/quotas", root(map[string]any{"min": []any{a100("16", "16Gi", 1)}, "max": []any{a100("8", "16Gi", 1)}}), "min", "above max"},
		{"unknown gpuType", "POST", "/api/v1/quotas", root(map[string]any{"max": []any{map[string]any{"gpuType": "H100", "cpu": 8, "memory": "16Gi", "gpu": 1}}}), "max", `gpuType "H100"`},
		{"root min beyond capacity", "POST", "/api/v1/quotas", root(map[string]any{"min": []any{a100("64", "512Gi", 9)}}), "min", "a guarantee must be backed"},
		{"unknown resource group", "POST", "/api/v1/quotas", root(map[string]any{"resourceGroupIds": []string{"rg-gpu", "rg-nosuch"}}), "resourceGroupIds[1]", "not found"},
		{"root without groups", "POST", "/api/v1/quotas", map[string]any{"name": "other"}, "resourceGroupIds", "at least one resource group"},
		{"child with groups", "POST", "/api/v1/quotas", child(map[string]any{"resourceGroupIds": []string{"rg-gpu"}}), "resourceGroupIds", "only a root"},
		{"unknown parent", "POST", "/api/v1/quotas", map[string]any{"name": "child", "parentId": "quota-nosuch"}, "parentId", "not found"},
		{"child max above parent's max", "POST", "/api/v1/quotas", child(map[string]any{"max": []any{a100("64", "512Gi", 9)}}), "max", "above the parent"},
		{"child min above parent's max", "POST", "/api/v1/quotas", child(map[string]any{"min": []any{a100("64", "512Gi", 12)}}), "min", "children of quota-nlp"},
		{"cycle", "PUT", "/api/v1/quotas/quota-research", map[string]any{"name": "research", "parentId": "quota-nlp"}, "parentId", "cycle"},
		{"own parent", "PUT", "/api/v1/quotas/quota-nlp", map[string]any{"name": "nlp", "parentId": "quota-nlp"}, "parentId", "cycle"},
		{"shrinking strands a child", "PUT", "/api/v1/quotas/quota-research", root(map[string]any{"name": "research", "max": []any{a100("32", "256Gi", 4)}}), "max", "below child"},
		{"strategy", "POST", "/api/v1/quotas", root(map[string]any{"queueStrategy": "LIFO"}), "queueStrategy", "StrictFIFO, RoundRobin or Intelligent"},
		{"preemption could cycle", "POST", "/api/v1/quotas", root(map[string]any{"preemptorPriority": 5, "preemptedPriority": 5}), "preemptedPriority", "below preemptorPriority"},
		{"min runtime", "POST", "/api/v1/quotas", root(map[string]any{"minRuntime": "ten minutes"}), "minRuntime", "not a duration"},
		{"negative min runtime", "POST", "/api/v1/quotas", root(map[string]any{"minRuntime": "-1m"}), "minRuntime", "negative"},
		{"lending above min", "POST", "/api/v1/quotas", root(map[string]any{"lendingLimit": []any{a100("8", "16Gi", 1)}}), "lendingLimit", "above min"},
		{"offered to unknown workspace", "POST", "/api/v1/quotas", root(map[string]any{"offeredTo": []string{"ws-nosuch"}}), "offeredTo[0]", "not found"},
		{"offered to all and some", "POST", "/api/v1/quotas", root(map[string]any{"offeredToAll": true, "offeredTo": []string{cf.ws.ID}}), "offeredTo", "offeredToAll"},
		{"wrong type in quota", "POST", "/api/v1/quotas", `{"name": "x", "min": {"cpu": 1}}`, "min", "an array"},
		{"bad layout", "GET", "/api/v1/quotas/quota-nlp?layout=forest", nil, "layout", "flat, tree"},
		{"bind unknown quota", "POST", ws + "/quotas", map[string]any{"quotaId": "quota-nosuch"}, "quotaId", "is offered to this workspace"},
		{"bind quota not offered", "POST", ws + "/quotas", map[string]any{"quotaId": "quota-research"}, "quotaId", "is offered to this workspace"},
		{"bind nothing", "POST", ws + "/quotas", map[string]any{}, "quotaId", "required"},
		{"bad offered flag", "GET", ws + "/quotas?offered=maybe", nil, "offered", "true or false"},
		{"priority 10", "PUT", ws + "/config", map[string]any{"defaultPriority": map[string]int{"DLC": 10}}, "defaultPriority.DLC", "1 to 9"},
		{"priority 0", "PUT", ws + "/config", map[string]any{"maxPriority": map[string]int{"AlgoDeveloper": 0}}, "maxPriority.AlgoDeveloper", "1 to 9"},
		{"unknown job kind", "PUT", ws + "/config", map[string]any{"defaultPriority": map[string]int{"Notebook": 3}}, "defaultPriority.Notebook", "unknown job kind"},
		{"unknown role in maxPriority", "PUT", ws + "/config", map[string]any{"maxPriority": map[string]int{"Trainer": 5, "Wizard": 5}}, "maxPriority.Wizard", "unknown role"},
		{"platform role in maxPriority", "PUT", ws + "/config", map[string]any{"maxPriority": map[string]int{"ResourceAdmin": 5}}, "maxPriority.ResourceAdmin", "unknown role"},
		{"running time kind", "PUT", ws + "/config", map[string]any{"maxRunningTime": map[string]string{"Batch": "1h"}}, "maxRunningTime.Batch", "unknown job kind"},
		{"negative running time", "PUT", ws + "/config", map[string]any{"maxRunningTime": map[string]string{"DLC": "-1h"}}, "maxRunningTime.DLC", "negative"},
		{"running time not a duration", "PUT", ws + "/config", map[string]any{"maxRunningTime": map[string]string{"DSW": "1 day"}}, "maxRunningTime.DSW", "not a duration"},
		{"queue timeout", "PUT", ws + "/config", map[string]any{"queueTimeout": "soon"}, "queueTimeout", "not a duration"},
		{"default quota not usable", "PUT", ws + "/config", map[string]any{"defaultQuotaId": "quota-nlp"}, "defaultQuotaId", "bind it first"},
		{"config unknown field", "PUT", ws + "/config", map[string]any{"workspaceId": "ws-x"}, "workspaceId", "not a known field"},
	}
	before := cf.computeSnapshotJSON(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := cf.do(t, cf.ra, tt.method, tt.path, tt.body)
			if tt.path == ws+"/quotas" || tt.path == ws+"/config" {
				resp = cf.do(t, cf.lead, tt.method, tt.path, tt.body) // workspace admin's calls
			}
			if resp.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %.400s", resp.status, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			p := resp.problem(t)
			if p.Code != atrium.EINVALID || p.Field != tt.field || !strings.Contains(p.Detail, tt.rule) {
				t.Errorf("problem %+v; want field %q and rule containing %q", p, tt.field, tt.rule)
			}
		})
	}
	if after := cf.computeSnapshotJSON(t); after != before {
		t.Errorf("invalid requests changed data:\nbefore %s\nafter  %s", before, after)
	}
}

// computeSnapshotJSON renders the compute data so a test can see that nothing changed.
func (cf *computeFixture) computeSnapshotJSON(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	groups, err1 := cf.store.FindResourceGroups(ctx)
	nodes, err2 := cf.store.FindNodes(ctx, "")
	quotas, err3 := cf.store.FindQuotas(ctx, atrium.QuotaFilter{})
	binds, err4 := cf.store.FindQuotaBindings(ctx, cf.ws.ID)
	cfg, err5 := cf.store.FindWorkspaceConfig(ctx, cf.ws.ID)
	for _, err := range []error{err1, err2, err3, err4, err5} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return mustJSON([]any{groups, nodes, quotas, binds, cfg})
}

func TestQuotaBindingAndConfig(t *testing.T) {
	cf := newComputeFixture(t)
	ws := cf.wsPath
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "public", "resourceGroupIds": []string{"rg-gpu"},
		"max": []any{a100("128", "1Ti", 16)}, "offeredToAll": true}, 201)
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "team", "resourceGroupIds": []string{"rg-gpu"},
		"min": []any{a100("64", "512Gi", 8)}, "offeredTo": []string{cf.ws.ID}}, 201)
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "secret", "resourceGroupIds": []string{"rg-gpu"}}, 201)

	// Before binding: the public pool is usable, the team quota is offered.
	var l List[*QuotaView]
	cf.must(t, cf.dev, "GET", ws+"/quotas", nil, 200).decode(t, &l)
	if l.TotalCount != 1 || l.Items[0].ID != "quota-public" || l.Items[0].Bound == nil || *l.Items[0].Bound || len(l.Items[0].Usage) == 0 {
		t.Fatalf("usable = %s", mustJSON(l))
	}
	cf.must(t, cf.lead, "GET", ws+"/quotas?offered=true", nil, 200).decode(t, &l)
	if l.TotalCount != 2 || l.Items[0].ID != "quota-public" || l.Items[1].ID != "quota-team" {
		t.Fatalf("offered = %s", mustJSON(l))
	}
	// Members do not learn which other workspaces a quota is offered to.
	if strings.Contains(mustJSON(l), `"offeredTo"`) {
		t.Errorf("offeredTo shown to a member: %s", mustJSON(l))
	}
	cf.must(t, cf.dev, "GET", ws+"/quotas/quota-team", nil, 404)
	cf.must(t, cf.dev, "GET", ws+"/quotas/quota-secret", nil, 404)
	cf.must(t, cf.dev, "GET", ws+"/quotas/quota-public", nil, 200)

	// Binding: WorkspaceAdmin only, once.
	if p := cf.must(t, cf.dev, "POST", ws+"/quotas", map[string]any{"quotaId": "quota-team"}, 403).problem(t); p.Permission != "Workspace:BindQuota" {
		t.Errorf("denial names %q", p.Permission)
	}
	var b atrium.QuotaBinding
	cf.must(t, cf.lead, "POST", ws+"/quotas", map[string]any{"quotaId": "quota-team"}, 201).decode(t, &b)
	if b.QuotaID != "quota-team" || b.WorkspaceID != cf.ws.ID {
		t.Fatalf("binding = %+v", b)
	}
	cf.must(t, cf.lead, "POST", ws+"/quotas", map[string]any{"quotaId": "quota-team"}, 409)
	cf.must(t, cf.dev, "GET", ws+"/quotas", nil, 200).decode(t, &l)
	if l.TotalCount != 2 || l.Items[1].ID != "quota-team" || !*l.Items[1].Bound {
		t.Fatalf("usable after bind = %s", mustJSON(l))
	}
	var q QuotaView
	cf.must(t, cf.dev, "GET", ws+"/quotas/quota-team?layout=tree", nil, 200).decode(t, &q)
	if u := usageOf(t, &q, "A100"); u.Min != (UsageVector{"64", "512Gi", 8}) || q.Bound == nil || !*q.Bound {
		t.Fatalf("team = %s", mustJSON(q))
	}
	// A bound quota cannot be deleted.
	cf.must(t, cf.ra, "DELETE", "/api/v1/quotas/quota-team", nil, 409)

	// Config: defaults first, then a partial update keeps the rest.
	var cfg WorkspaceConfigView
	cf.must(t, cf.dev, "GET", ws+"/config", nil, 200).decode(t, &cfg)
	if cfg.DefaultPriority["DLC"] != 1 || cfg.MaxPriority["AlgoDeveloper"] != 6 || cfg.QueueTimeout != "0s" || cfg.DefaultQuotaID != "" || !cfg.RequireSeparateApprover {
		t.Fatalf("default config = %s", mustJSON(cfg))
	}
	cf.must(t, cf.lead, "POST", ws+"/roles", map[string]any{"name": "Trainer", "permissions": []string{"DLC:CreateJob"}}, 201)
	cf.must(t, cf.dev, "PUT", ws+"/config", map[string]any{"queueTimeout": "1h"}, 403)
	var cfg2 WorkspaceConfigView // decoding into cfg would merge its maps
	cf.must(t, cf.lead, "PUT", ws+"/config", map[string]any{
		"defaultPriority": map[string]int{"DLC": 3, "DSW": 2}, "maxPriority": map[string]int{"AlgoDeveloper": 5, "Trainer": 7, "WorkspaceAdmin": 9},
		"maxRunningTime": map[string]string{"DLC": "24h", "DSW": "0"}, "queueTimeout": "2h", "defaultQuotaId": "quota-team",
	}, 200).decode(t, &cfg2)
	if c := cfg2; c.DefaultPriority["DLC"] != 3 || c.DefaultPriority["SQL"] != 1 || c.MaxPriority["Trainer"] != 7 || len(c.MaxPriority) != 3 ||
		c.MaxRunningTime["DLC"] != "24h0m0s" || c.MaxRunningTime["DSW"] != "0s" || c.QueueTimeout != "2h0m0s" || c.DefaultQuotaID != "quota-team" || c.UpdatedAt == nil {
		t.Fatalf("config = %s", mustJSON(c))
	}
	cfg = WorkspaceConfigView{}
	cf.must(t, cf.lead, "PUT", ws+"/config", map[string]any{"requireSeparateApprover": false}, 200).decode(t, &cfg)
	if cfg.DefaultPriority["DLC"] != 3 || cfg.QueueTimeout != "2h0m0s" || cfg.RequireSeparateApprover || cfg.DefaultQuotaID != "quota-team" {
		t.Fatalf("partial update lost fields: %s", mustJSON(cfg))
	}
	cf.must(t, cf.dev, "GET", ws+"/config", nil, 200)

	// Unbinding the default quota is refused until the default changes.
	p := cf.must(t, cf.lead, "DELETE", ws+"/quotas/quota-team", nil, 409).problem(t)
	if !strings.Contains(p.Detail, "defaultQuotaId") {
		t.Errorf("409 detail %q", p.Detail)
	}
	cf.must(t, cf.dev, "DELETE", ws+"/quotas/quota-team", nil, 403)
	cf.must(t, cf.lead, "PUT", ws+"/config", map[string]any{"defaultQuotaId": "quota-public"}, 200)
	cf.must(t, cf.lead, "DELETE", ws+"/quotas/quota-team", nil, 204)
	cf.must(t, cf.lead, "DELETE", ws+"/quotas/quota-team", nil, 404)
	cf.must(t, cf.dev, "GET", ws+"/quotas/quota-team", nil, 404)
	cf.must(t, cf.ra, "DELETE", "/api/v1/quotas/quota-team", nil, 204)

	// Strangers see nothing.
	_, stranger := cf.user(t, "stranger")
	cf.must(t, stranger, "GET", ws+"/quotas", nil, 404)
	cf.must(t, stranger, "GET", ws+"/config", nil, 404)
	cf.must(t, stranger, "GET", "/api/v1/quotas", nil, 403)
}
