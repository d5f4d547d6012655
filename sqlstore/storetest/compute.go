package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
	"atrium/resource"
)

const gi = int64(1 << 30)

func mustGroup(t *testing.T, s atrium.Store, name string) *atrium.ResourceGroup {
	t.Helper()
	g := &atrium.ResourceGroup{Name: name, Backend: atrium.BackendLocal, Description: "group " + name}
	if err := s.CreateResourceGroup(ctx, g); err != nil {
		t.Fatalf("CreateResourceGroup(%s): %v", name, err)
	}
	return g
}

func mustNode(t *testing.T, s atrium.Store, g *atrium.ResourceGroup, name, gpuType string, capacity resource.Vector) *atrium.Node {
	t.Helper()
	n := &atrium.Node{Name: name, GroupID: g.ID, GPUType: gpuType, Capacity: capacity, State: atrium.NodeReady}
	if err := s.PutNode(ctx, n); err != nil {
		t.Fatalf("PutNode(%s): %v", name, err)
	}
	return n
}

// a100 is cpu cores, 8 GiB per core and gpu A100s.
func a100(cpu, gpu int64) resource.List {
	return resource.List{"A100": {MilliCPU: cpu * 1000, Memory: cpu * 8 * gi, GPU: gpu}}
}

// computeFixture is a group with an 8×A100 node and a CPU-only node.
func computeFixture(t *testing.T, s atrium.Store) *atrium.ResourceGroup {
	t.Helper()
	g := mustGroup(t, s, "pool")
	mustNode(t, s, g, "gpu-1", "A100", resource.Vector{MilliCPU: 64000, Memory: 512 * gi, GPU: 8})
	mustNode(t, s, g, "cpu-1", "", resource.Vector{MilliCPU: 32000, Memory: 128 * gi})
	return g
}

// newQuota returns a quota drawing on groups (a root) or on parent.
func newQuota(name, parent string, min, max resource.List, groups ...string) *atrium.Quota {
	return &atrium.Quota{Name: name, ParentID: parent, ResourceGroups: groups, Min: min, Max: max, QueueStrategy: atrium.RoundRobin}
}

func mustQuota(t *testing.T, s atrium.Store, q *atrium.Quota) *atrium.Quota {
	t.Helper()
	if err := s.CreateQuota(ctx, q); err != nil {
		t.Fatalf("CreateQuota(%s): %v", q.Name, err)
	}
	return q
}

// wantField fails unless err is EINVALID naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if e := wantCode(t, err, atrium.EINVALID); e.Field != field {
		t.Fatalf("error field = %q (%v), want %q", e.Field, err, field)
	}
}

func quotaNames(qs []*atrium.Quota) []string {
	out := []string{}
	for _, q := range qs {
		out = append(out, q.Name)
	}
	return out
}

func testResourceGroups(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	g := &atrium.ResourceGroup{Name: "slurm-a", Backend: atrium.BackendSlurm, Description: "the cluster", Partition: "gpu"}
	wantNoErr(t, s.CreateResourceGroup(ctx, g))
	if !atrium.HasPrefix(g.ID, atrium.PrefixResourceGroup) || !g.CreatedAt.Equal(stored(clockStart)) || !g.UpdatedAt.Equal(g.CreatedAt) {
		t.Fatalf("group = %+v, want ID and timestamps set", g)
	}
	local := &atrium.ResourceGroup{ID: atrium.LocalResourceGroupID, Name: "local", Backend: atrium.BackendLocal}
	wantNoErr(t, s.CreateResourceGroup(ctx, local))
	if local.ID != atrium.LocalResourceGroupID {
		t.Fatalf("fixed id replaced: %q", local.ID)
	}
	got, err := s.FindResourceGroupByID(ctx, g.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindResourceGroupByID", got, g)
	gs, err := s.FindResourceGroups(ctx)
	wantNoErr(t, err)
	wantEqual(t, "FindResourceGroups by name", gs, []*atrium.ResourceGroup{local, g})

	wantCode(t, s.CreateResourceGroup(ctx, &atrium.ResourceGroup{Name: "slurm-a", Backend: atrium.BackendLocal}), atrium.ECONFLICT)
	wantCode(t, s.CreateResourceGroup(ctx, &atrium.ResourceGroup{ID: atrium.LocalResourceGroupID, Name: "other", Backend: atrium.BackendLocal}), atrium.ECONFLICT)
	_, err = s.FindResourceGroupByID(ctx, "rg-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)

	c.Add(time.Hour)
	upd, err := s.UpdateResourceGroup(ctx, g.ID, atrium.ResourceGroupUpdate{Name: ptr("slurm-b"), Partition: ptr("")})
	wantNoErr(t, err)
	want := *g
	want.Name, want.Partition, want.UpdatedAt = "slurm-b", "", stored(c.Now())
	wantEqual(t, "UpdateResourceGroup", upd, &want)
	upd, err = s.UpdateResourceGroup(ctx, g.ID, atrium.ResourceGroupUpdate{Description: ptr("renamed")})
	wantNoErr(t, err)
	want.Description = "renamed"
	wantEqual(t, "UpdateResourceGroup description", upd, &want)
	got, err = s.FindResourceGroupByID(ctx, g.ID)
	wantNoErr(t, err)
	wantEqual(t, "read back", got, &want)
	_, err = s.UpdateResourceGroup(ctx, g.ID, atrium.ResourceGroupUpdate{Name: ptr("local")})
	wantCode(t, err, atrium.ECONFLICT)
	_, err = s.UpdateResourceGroup(ctx, "rg-nosuch", atrium.ResourceGroupUpdate{Name: ptr("x")})
	wantCode(t, err, atrium.ENOTFOUND)

	// Deleting a group deletes its nodes; the name is free again.
	mustNode(t, s, g, "n1", "", resource.Vector{MilliCPU: 1000})
	mustNode(t, s, local, "n2", "", resource.Vector{MilliCPU: 1000})
	wantNoErr(t, s.DeleteResourceGroup(ctx, g.ID))
	_, err = s.FindResourceGroupByID(ctx, g.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	ns, err := s.FindNodes(ctx, "")
	wantNoErr(t, err)
	if len(ns) != 1 || ns[0].Name != "n2" {
		t.Fatalf("nodes after group delete = %s", dump(ns))
	}
	mustGroup(t, s, "slurm-b")
	wantCode(t, s.DeleteResourceGroup(ctx, g.ID), atrium.ENOTFOUND)
}

func testNodes(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	g, h := mustGroup(t, s, "pool-a"), mustGroup(t, s, "pool-b")
	// Capacities that quantity strings could not render exactly.
	n := &atrium.Node{
		Name: "gpu-1", GroupID: g.ID, GPUType: "A100",
		Capacity: resource.Vector{MilliCPU: 123456789, Memory: 1<<50 + 7, GPU: 8},
		Labels:   map[string]string{"zone": "a", "rack": "r-12", "empty": "", "ünï": "cödé"},
		State:    atrium.NodeDraining,
	}
	wantNoErr(t, s.PutNode(ctx, n))
	if !n.CreatedAt.Equal(stored(clockStart)) || !n.UpdatedAt.Equal(n.CreatedAt) {
		t.Fatalf("node timestamps = %v, %v", n.CreatedAt, n.UpdatedAt)
	}
	// State defaults to Ready; no labels come back as an empty map.
	bare := &atrium.Node{Name: "cpu-1", GroupID: h.ID, Capacity: resource.Vector{MilliCPU: 500, Memory: 1}}
	wantNoErr(t, s.PutNode(ctx, bare))
	if bare.State != atrium.NodeReady || bare.Labels == nil {
		t.Fatalf("bare node = %+v, want State Ready and non-nil labels", bare)
	}
	a := mustNode(t, s, g, "a-node", "", resource.Vector{})

	ns, err := s.FindNodes(ctx, "")
	wantNoErr(t, err)
	wantEqual(t, "FindNodes all by name", ns, []*atrium.Node{a, bare, n})
	ns, err = s.FindNodes(ctx, g.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindNodes of group", ns, []*atrium.Node{a, n})
	ns, err = s.FindNodes(ctx, "rg-nosuch")
	wantNoErr(t, err)
	if len(ns) != 0 {
		t.Fatalf("FindNodes(unknown group) = %s", dump(ns))
	}

	// Put again replaces everything but CreatedAt.
	c.Add(time.Minute)
	repl := &atrium.Node{Name: "gpu-1", GroupID: g.ID, GPUType: "H100", Capacity: resource.Vector{MilliCPU: 1, Memory: 2, GPU: 3},
		Labels: map[string]string{"zone": "b"}, State: atrium.NodeNotReady}
	wantNoErr(t, s.PutNode(ctx, repl))
	want := *repl
	want.CreatedAt, want.UpdatedAt = n.CreatedAt, stored(c.Now())
	wantEqual(t, "replaced node", repl, &want)
	ns, err = s.FindNodes(ctx, g.ID)
	wantNoErr(t, err)
	wantEqual(t, "replaced node read back", ns, []*atrium.Node{a, &want})

	// Names are unique platform-wide.
	wantCode(t, s.PutNode(ctx, &atrium.Node{Name: "gpu-1", GroupID: h.ID, State: atrium.NodeReady}), atrium.ECONFLICT)
	wantCode(t, s.PutNode(ctx, &atrium.Node{Name: "gpu-9", GroupID: "rg-nosuch", State: atrium.NodeReady}), atrium.ENOTFOUND)
	ns, err = s.FindNodes(ctx, h.ID)
	wantNoErr(t, err)
	wantEqual(t, "group b untouched", ns, []*atrium.Node{bare})

	wantCode(t, s.DeleteNode(ctx, h.ID, "gpu-1"), atrium.ENOTFOUND) // wrong group
	wantCode(t, s.DeleteNode(ctx, g.ID, "nope"), atrium.ENOTFOUND)
	wantNoErr(t, s.DeleteNode(ctx, g.ID, "gpu-1"))
	ns, err = s.FindNodes(ctx, "")
	wantNoErr(t, err)
	wantEqual(t, "after delete", ns, []*atrium.Node{a, bare})
	// The name is free for any group now.
	mustNode(t, s, h, "gpu-1", "A100", resource.Vector{GPU: 1})
}

func testQuotas(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	g := computeFixture(t, s)

	// The server's well-known public pool keeps its fixed id.
	pub := newQuota("public", "", nil, resource.List{"": {MilliCPU: 8000, Memory: 32 * gi}}, g.ID)
	pub.ID, pub.OfferedToAll = atrium.PublicQuotaID, true
	mustQuota(t, s, pub)
	if pub.ID != atrium.PublicQuotaID || pub.Min == nil || pub.LendingLimit == nil || pub.OfferedTo == nil {
		t.Fatalf("public quota = %+v", pub)
	}

	root := newQuota("root", "", a100(32, 8), a100(64, 8), g.ID)
	root.Description = "all of it"
	root.LendingLimit = a100(16, 4)
	root.QueueStrategy = atrium.Intelligent
	root.PreemptorPriority, root.PreemptedPriority = 7, 3
	root.MinRuntime = atrium.Duration(90*time.Minute + 1)
	root.OfferedTo = []string{"ws-a", "ws-b"}
	mustQuota(t, s, root)
	if !atrium.HasPrefix(root.ID, atrium.PrefixQuota) || !root.CreatedAt.Equal(stored(clockStart)) || !root.UpdatedAt.Equal(root.CreatedAt) {
		t.Fatalf("quota = %+v, want ID and timestamps set", root)
	}
	got, err := s.FindQuotaByID(ctx, root.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindQuotaByID round trip", got, root)
	_, err = s.FindQuotaByID(ctx, "quota-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)

	teamA := mustQuota(t, s, newQuota("team-a", root.ID, a100(8, 4), a100(32, 8)))
	teamB := mustQuota(t, s, newQuota("team-b", root.ID, a100(8, 2), a100(16, 4)))
	qs, err := s.FindQuotas(ctx, atrium.QuotaFilter{})
	wantNoErr(t, err)
	wantEqual(t, "FindQuotas by name", qs, []*atrium.Quota{pub, root, teamA, teamB})

	// The tree is checked in the store; errors name the field.
	wantField(t, s.CreateQuota(ctx, newQuota("big", root.ID, a100(1, 1), a100(128, 8))), "max")
	wantField(t, s.CreateQuota(ctx, newQuota("greedy", root.ID, a100(24, 4), a100(32, 8))), "min")
	wantField(t, s.CreateQuota(ctx, newQuota("h100", root.ID, nil, resource.List{"H100": {GPU: 1}})), "max")
	wantField(t, s.CreateQuota(ctx, newQuota("orphan", "quota-nosuch", nil, nil)), "parentId")
	wantField(t, s.CreateQuota(ctx, newQuota("nogroup", "", nil, nil, "rg-nosuch")), "resourceGroupIds[0]")
	wantField(t, s.CreateQuota(ctx, newQuota("Bad Name", root.ID, nil, nil)), "name")
	// Taken names and ids conflict.
	wantCode(t, s.CreateQuota(ctx, newQuota("team-a", root.ID, nil, nil)), atrium.ECONFLICT)
	dup := newQuota("other", "", nil, nil, g.ID)
	dup.ID = atrium.PublicQuotaID
	wantCode(t, s.CreateQuota(ctx, dup), atrium.ECONFLICT)
	qs, err = s.FindQuotas(ctx, atrium.QuotaFilter{})
	wantNoErr(t, err)
	if len(qs) != 4 {
		t.Fatalf("failed creates left quotas: %v", quotaNames(qs))
	}

	// Update replaces all but CreatedAt.
	c.Add(time.Hour)
	upd := *teamB
	upd.Name, upd.Description, upd.Max = "team-b2", "renamed", a100(20, 6)
	upd.OfferedTo, upd.CreatedAt = []string{"ws-c"}, time.Time{}
	wantNoErr(t, s.UpdateQuota(ctx, &upd))
	want := *teamB
	want.Name, want.Description, want.Max, want.OfferedTo, want.UpdatedAt = "team-b2", "renamed", a100(20, 6), []string{"ws-c"}, stored(c.Now())
	wantEqual(t, "UpdateQuota", &upd, &want)
	got, err = s.FindQuotaByID(ctx, teamB.ID)
	wantNoErr(t, err)
	wantEqual(t, "updated read back", got, &want)

	// A cycle through an update, a parent shrunk below its child, a child
	// outgrowing its parent, a taken name, an unknown id.
	cyc := *root
	cyc.ParentID, cyc.ResourceGroups = teamA.ID, nil
	wantField(t, s.UpdateQuota(ctx, &cyc), "parentId")
	shrink := *root
	shrink.Min, shrink.Max = a100(16, 6), a100(24, 8)
	wantField(t, s.UpdateQuota(ctx, &shrink), "max")
	grow := *teamA
	grow.Max = a100(65, 8)
	wantField(t, s.UpdateQuota(ctx, &grow), "max")
	gpu := *teamA
	gpu.Min = resource.List{"T4": {GPU: 1}}
	wantField(t, s.UpdateQuota(ctx, &gpu), "min")
	taken := *teamA
	taken.Name = "root"
	wantCode(t, s.UpdateQuota(ctx, &taken), atrium.ECONFLICT)
	ghost := *teamA
	ghost.ID, ghost.Name = "quota-nosuch", "ghost"
	wantCode(t, s.UpdateQuota(ctx, &ghost), atrium.ENOTFOUND)
	got, err = s.FindQuotaByID(ctx, root.ID)
	wantNoErr(t, err)
	wantEqual(t, "root after failed updates", got, root)

	// A group a quota draws on cannot go.
	wantCode(t, s.DeleteResourceGroup(ctx, g.ID), atrium.ECONFLICT)

	// Delete: not while children or bindings remain.
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	leaf := newQuota("leaf", teamA.ID, nil, nil)
	leaf.OfferedTo = []string{w.ID}
	mustQuota(t, s, leaf)
	_, err = s.BindQuota(ctx, w.ID, leaf.ID)
	wantNoErr(t, err)
	e := wantCode(t, s.DeleteQuota(ctx, teamA.ID), atrium.ECONFLICT)
	if !strings.Contains(e.Message, "child") || !strings.Contains(e.Message, "leaf") {
		t.Fatalf("delete with children: message %q should name the child", e.Message)
	}
	e = wantCode(t, s.DeleteQuota(ctx, leaf.ID), atrium.ECONFLICT)
	if !strings.Contains(e.Message, "bound") {
		t.Fatalf("delete with bindings: message %q should say it is bound", e.Message)
	}
	wantNoErr(t, s.UnbindQuota(ctx, w.ID, leaf.ID))
	wantNoErr(t, s.DeleteQuota(ctx, leaf.ID))
	wantNoErr(t, s.DeleteQuota(ctx, teamA.ID))
	_, err = s.FindQuotaByID(ctx, teamA.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	wantCode(t, s.DeleteQuota(ctx, teamA.ID), atrium.ENOTFOUND)
	for _, id := range []string{teamB.ID, root.ID, pub.ID} {
		wantNoErr(t, s.DeleteQuota(ctx, id))
	}
	wantNoErr(t, s.DeleteResourceGroup(ctx, g.ID))
}

func testQuotaFilters(t *testing.T, s atrium.Store) {
	g := computeFixture(t, s)
	alice := mustUser(t, s, "alice")
	wa, wb := mustWorkspace(t, s, "ws-a", alice), mustWorkspace(t, s, "ws-b", alice)

	pub := newQuota("public", "", nil, nil, g.ID)
	pub.ID, pub.OfferedToAll = atrium.PublicQuotaID, true
	mustQuota(t, s, pub)
	root := mustQuota(t, s, newQuota("root", "", a100(32, 8), a100(64, 8), g.ID))
	offA := newQuota("offered-a", root.ID, a100(4, 1), nil)
	offA.OfferedTo = []string{wa.ID}
	mustQuota(t, s, offA)
	offAB := newQuota("offered-ab", root.ID, a100(4, 1), nil)
	offAB.OfferedTo = []string{wb.ID, wa.ID}
	mustQuota(t, s, offAB)
	mustQuota(t, s, newQuota("private", root.ID, a100(4, 1), nil))
	_, err := s.BindQuota(ctx, wa.ID, offAB.ID)
	wantNoErr(t, err)
	_, err = s.BindQuota(ctx, wb.ID, pub.ID) // binding an offered-to-all quota is allowed
	wantNoErr(t, err)

	tests := []struct {
		name string
		f    atrium.QuotaFilter
		want []string
	}{
		{"all", atrium.QuotaFilter{}, []string{"offered-a", "offered-ab", "private", "public", "root"}},
		{"roots", atrium.QuotaFilter{ParentID: ptr("")}, []string{"public", "root"}},
		{"children", atrium.QuotaFilter{ParentID: ptr(root.ID)}, []string{"offered-a", "offered-ab", "private"}},
		{"usable by a", atrium.QuotaFilter{UsableBy: wa.ID}, []string{"offered-ab", "public"}},
		{"usable by b", atrium.QuotaFilter{UsableBy: wb.ID}, []string{"public"}},
		{"usable by unknown", atrium.QuotaFilter{UsableBy: "ws-nosuch"}, []string{"public"}},
		{"offered to a", atrium.QuotaFilter{OfferedTo: wa.ID}, []string{"offered-a", "offered-ab", "public"}},
		{"offered to b", atrium.QuotaFilter{OfferedTo: wb.ID}, []string{"offered-ab", "public"}},
		{"offered to a, children", atrium.QuotaFilter{OfferedTo: wa.ID, ParentID: ptr(root.ID)}, []string{"offered-a", "offered-ab"}},
		{"usable and offered", atrium.QuotaFilter{UsableBy: wa.ID, OfferedTo: wb.ID}, []string{"offered-ab", "public"}},
		{"none", atrium.QuotaFilter{ParentID: ptr("quota-nosuch")}, []string{}},
	}
	for _, tt := range tests {
		qs, err := s.FindQuotas(ctx, tt.f)
		wantNoErr(t, err)
		wantEqual(t, tt.name, quotaNames(qs), tt.want)
	}
}

func testQuotaBindings(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	g := computeFixture(t, s)
	alice := mustUser(t, s, "alice")
	w, other := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "other", alice)
	pub := newQuota("public", "", nil, nil, g.ID)
	pub.ID, pub.OfferedToAll = atrium.PublicQuotaID, true
	mustQuota(t, s, pub)
	team := newQuota("team", "", a100(8, 2), nil, g.ID)
	team.OfferedTo = []string{w.ID}
	mustQuota(t, s, team)

	b1, err := s.BindQuota(ctx, w.ID, team.ID)
	wantNoErr(t, err)
	wantEqual(t, "binding", b1, &atrium.QuotaBinding{WorkspaceID: w.ID, QuotaID: team.ID, CreatedAt: stored(clockStart)})
	c.Add(time.Second)
	b2, err := s.BindQuota(ctx, w.ID, pub.ID)
	wantNoErr(t, err)
	bs, err := s.FindQuotaBindings(ctx, w.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindQuotaBindings oldest first", bs, []*atrium.QuotaBinding{b1, b2})

	_, err = s.BindQuota(ctx, w.ID, team.ID)
	wantCode(t, err, atrium.ECONFLICT)
	_, err = s.BindQuota(ctx, other.ID, team.ID)
	wantField(t, err, "quotaId")
	_, err = s.BindQuota(ctx, w.ID, "quota-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.BindQuota(ctx, "ws-nosuch", pub.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	bs, err = s.FindQuotaBindings(ctx, other.ID)
	wantNoErr(t, err)
	if bs == nil || len(bs) != 0 {
		t.Fatalf("other's bindings = %#v, want empty", bs)
	}

	wantCode(t, s.UnbindQuota(ctx, other.ID, team.ID), atrium.ENOTFOUND)
	wantCode(t, s.UnbindQuota(ctx, "ws-nosuch", team.ID), atrium.ENOTFOUND)
	wantNoErr(t, s.UnbindQuota(ctx, w.ID, team.ID))
	wantCode(t, s.UnbindQuota(ctx, w.ID, team.ID), atrium.ENOTFOUND)
	bs, err = s.FindQuotaBindings(ctx, w.ID)
	wantNoErr(t, err)
	wantEqual(t, "after unbind", bs, []*atrium.QuotaBinding{b2})
	// Bound again after unbinding.
	_, err = s.BindQuota(ctx, w.ID, team.ID)
	wantNoErr(t, err)
}

func testWorkspaceConfig(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)

	got, err := s.FindWorkspaceConfig(ctx, w.ID)
	wantNoErr(t, err)
	wantEqual(t, "default config", got, atrium.DefaultWorkspaceConfig(w.ID))
	_, err = s.FindWorkspaceConfig(ctx, "ws-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)

	c.Add(time.Minute)
	cfg := atrium.DefaultWorkspaceConfig(w.ID)
	cfg.DefaultPriority[atrium.KindDLC] = 3
	cfg.MaxPriority["Labeler"] = 2
	cfg.MaxRunningTime = map[string]atrium.Duration{atrium.KindDSW: atrium.Duration(72*time.Hour + 1), atrium.KindDLC: 0}
	cfg.QueueTimeout = atrium.Duration(90 * time.Second)
	cfg.DefaultQuotaID = "quota-team"
	cfg.RequireSeparateApprover = false
	wantNoErr(t, s.PutWorkspaceConfig(ctx, cfg))
	if !cfg.UpdatedAt.Equal(stored(c.Now())) || cfg.WorkspaceID != w.ID {
		t.Fatalf("put config = %+v", cfg)
	}
	got, err = s.FindWorkspaceConfig(ctx, w.ID)
	wantNoErr(t, err)
	wantEqual(t, "config round trip", got, cfg)

	// Put again replaces the whole config; absent maps come back empty.
	c.Add(time.Minute)
	cfg2 := &atrium.WorkspaceConfig{WorkspaceID: w.ID, DefaultQuotaID: atrium.PublicQuotaID}
	wantNoErr(t, s.PutWorkspaceConfig(ctx, cfg2))
	got, err = s.FindWorkspaceConfig(ctx, w.ID)
	wantNoErr(t, err)
	want := &atrium.WorkspaceConfig{
		WorkspaceID: w.ID, DefaultPriority: map[string]int{}, MaxPriority: map[string]int{},
		MaxRunningTime: map[string]atrium.Duration{}, DefaultQuotaID: atrium.PublicQuotaID, UpdatedAt: stored(c.Now()),
	}
	wantEqual(t, "replaced config", got, want)
	wantEqual(t, "put normalizes", cfg2, want)

	wantCode(t, s.PutWorkspaceConfig(ctx, &atrium.WorkspaceConfig{WorkspaceID: "ws-nosuch"}), atrium.ENOTFOUND)
}

// testComputeWorkspaceDelete checks that deleting a workspace takes its
// bindings and config with it and leaves the quotas.
func testComputeWorkspaceDelete(t *testing.T, s atrium.Store) {
	g := computeFixture(t, s)
	alice := mustUser(t, s, "alice")
	w, other := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "other", alice)
	q := newQuota("team", "", a100(8, 2), nil, g.ID)
	q.OfferedTo = []string{w.ID, other.ID}
	mustQuota(t, s, q)
	for _, ws := range []*atrium.Workspace{w, other} {
		_, err := s.BindQuota(ctx, ws.ID, q.ID)
		wantNoErr(t, err)
		cfg := atrium.DefaultWorkspaceConfig(ws.ID)
		cfg.DefaultQuotaID = q.ID
		wantNoErr(t, s.PutWorkspaceConfig(ctx, cfg))
	}

	wantNoErr(t, s.DeleteWorkspace(ctx, w.ID))
	bs, err := s.FindQuotaBindings(ctx, w.ID)
	wantNoErr(t, err)
	if len(bs) != 0 {
		t.Fatalf("bindings of deleted workspace = %s", dump(bs))
	}
	_, err = s.FindWorkspaceConfig(ctx, w.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	got, err := s.FindQuotaByID(ctx, q.ID)
	wantNoErr(t, err)
	wantEqual(t, "quota kept", got, q)
	// The other workspace keeps its binding and config.
	bs, err = s.FindQuotaBindings(ctx, other.ID)
	wantNoErr(t, err)
	if len(bs) != 1 {
		t.Fatalf("other's bindings = %s", dump(bs))
	}
	cfg, err := s.FindWorkspaceConfig(ctx, other.ID)
	wantNoErr(t, err)
	if cfg.DefaultQuotaID != q.ID {
		t.Fatalf("other's config = %+v", cfg)
	}
	// A workspace reusing the name starts with nothing.
	w2 := mustWorkspace(t, s, "vision", alice)
	bs, err = s.FindQuotaBindings(ctx, w2.ID)
	wantNoErr(t, err)
	if len(bs) != 0 {
		t.Fatalf("new workspace's bindings = %s", dump(bs))
	}
	// With the last binding gone the quota can be deleted.
	wantCode(t, s.DeleteQuota(ctx, q.ID), atrium.ECONFLICT)
	wantNoErr(t, s.DeleteWorkspace(ctx, other.ID))
	wantNoErr(t, s.DeleteQuota(ctx, q.ID))
}

// testQuotaTreeConcurrent creates children concurrently that each fit their
// parent's guarantee but not all together: the store must let exactly as
// many through as fit.
func testQuotaTreeConcurrent(t *testing.T, s atrium.Store) {
	g := computeFixture(t, s)
	for round := range 3 {
		parent := mustQuota(t, s, newQuota(fmt.Sprintf("parent-%d", round), "", a100(16, 4), a100(64, 8), g.ID))
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.CreateQuota(ctx, newQuota(fmt.Sprintf("child-%d-%d", round, i), parent.ID, a100(4, 1), nil))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch atrium.ErrorCode(err) {
			case "":
				ok++
			case atrium.EINVALID:
			default:
				t.Fatalf("CreateQuota: %v", err)
			}
		}
		kids, err := s.FindQuotas(ctx, atrium.QuotaFilter{ParentID: &parent.ID})
		wantNoErr(t, err)
		if ok != 4 || len(kids) != 4 {
			t.Fatalf("round %d: %d creates succeeded, %d children exist; want 4 and 4", round, ok, len(kids))
		}
		// Clear the round: roots on one group may not together guarantee
		// more than it holds.
		for _, k := range kids {
			wantNoErr(t, s.DeleteQuota(ctx, k.ID))
		}
		wantNoErr(t, s.DeleteQuota(ctx, parent.ID))
	}
	// Unrelated creates serialize without failing.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreateQuota(ctx, newQuota(fmt.Sprintf("root-%d", i), "", nil, nil, g.ID))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		wantNoErr(t, err)
	}
}

func testComputeAudit(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)

	var (
		g *atrium.ResourceGroup
		q *atrium.Quota
	)
	str := func(s *string) func() string { return func() string { return *s } }
	empty, wsID, gID, qID, node := new(string), &w.ID, new(string), new(string), ptr("node/gpu-1")
	steps := []auditStep{
		{"CreateResourceGroup", func(ctx context.Context) error {
			g = &atrium.ResourceGroup{Name: "pool", Backend: atrium.BackendLocal}
			err := s.CreateResourceGroup(ctx, g)
			*gID = g.ID
			return err
		}, str(empty), str(gID)},
		{"UpdateResourceGroup", func(ctx context.Context) error {
			_, err := s.UpdateResourceGroup(ctx, g.ID, atrium.ResourceGroupUpdate{Description: ptr("x")})
			return err
		}, str(empty), str(gID)},
		{"PutNode", func(ctx context.Context) error {
			return s.PutNode(ctx, &atrium.Node{Name: "gpu-1", GroupID: g.ID, GPUType: "A100",
				Capacity: resource.Vector{MilliCPU: 64000, Memory: 512 * gi, GPU: 8}, State: atrium.NodeReady})
		}, str(empty), str(node)},
		{"CreateQuota", func(ctx context.Context) error {
			q = newQuota("team", "", a100(8, 2), nil, g.ID)
			q.OfferedTo = []string{w.ID}
			err := s.CreateQuota(ctx, q)
			*qID = q.ID
			return err
		}, str(empty), str(qID)},
		{"UpdateQuota", func(ctx context.Context) error {
			u := *q
			u.Description = "updated"
			return s.UpdateQuota(ctx, &u)
		}, str(empty), str(qID)},
		{"BindQuota", func(ctx context.Context) error {
			_, err := s.BindQuota(ctx, w.ID, q.ID)
			return err
		}, str(wsID), str(qID)},
		{"PutWorkspaceConfig", func(ctx context.Context) error {
			return s.PutWorkspaceConfig(ctx, atrium.DefaultWorkspaceConfig(w.ID))
		}, str(wsID), str(wsID)},
		{"UnbindQuota", func(ctx context.Context) error {
			return s.UnbindQuota(ctx, w.ID, q.ID)
		}, str(wsID), str(qID)},
		{"DeleteQuota", func(ctx context.Context) error {
			return s.DeleteQuota(ctx, q.ID)
		}, str(empty), str(qID)},
		{"DeleteNode", func(ctx context.Context) error {
			return s.DeleteNode(ctx, g.ID, "gpu-1")
		}, str(empty), str(node)},
		{"DeleteResourceGroup", func(ctx context.Context) error {
			return s.DeleteResourceGroup(ctx, g.ID)
		}, str(empty), str(gID)},
	}
	runAuditSteps(t, s, c, alice, steps)

	// Failed writes log nothing and leave Recorded false.
	g2 := mustGroup(t, s, "pool2")
	mustNode(t, s, g2, "gpu-2", "A100", resource.Vector{GPU: 8})
	parent := mustQuota(t, s, newQuota("parent", "", nil, a100(8, 4), g2.ID))
	mustQuota(t, s, newQuota("child", parent.ID, nil, nil))
	failing := map[string]func(ctx context.Context) error{
		"CreateResourceGroup dup": func(ctx context.Context) error {
			return s.CreateResourceGroup(ctx, &atrium.ResourceGroup{Name: "pool2"})
		},
		"UpdateResourceGroup missing": func(ctx context.Context) error {
			_, err := s.UpdateResourceGroup(ctx, "rg-nosuch", atrium.ResourceGroupUpdate{Name: ptr("x")})
			return err
		},
		"DeleteResourceGroup in use": func(ctx context.Context) error { return s.DeleteResourceGroup(ctx, g2.ID) },
		"PutNode elsewhere": func(ctx context.Context) error {
			g3 := &atrium.ResourceGroup{Name: "pool3"}
			if err := s.CreateResourceGroup(context.Background(), g3); err != nil {
				return err
			}
			return s.PutNode(ctx, &atrium.Node{Name: "gpu-2", GroupID: g3.ID})
		},
		"DeleteNode missing": func(ctx context.Context) error { return s.DeleteNode(ctx, g2.ID, "nope") },
		"CreateQuota too big": func(ctx context.Context) error {
			return s.CreateQuota(ctx, newQuota("big", parent.ID, nil, a100(16, 8)))
		},
		"UpdateQuota invalid": func(ctx context.Context) error {
			u := *parent
			u.QueueStrategy = "Lottery"
			return s.UpdateQuota(ctx, &u)
		},
		"DeleteQuota with child": func(ctx context.Context) error { return s.DeleteQuota(ctx, parent.ID) },
		"BindQuota not offered": func(ctx context.Context) error {
			_, err := s.BindQuota(ctx, w.ID, parent.ID)
			return err
		},
		"UnbindQuota not bound": func(ctx context.Context) error { return s.UnbindQuota(ctx, w.ID, parent.ID) },
		"PutWorkspaceConfig missing": func(ctx context.Context) error {
			return s.PutWorkspaceConfig(ctx, &atrium.WorkspaceConfig{WorkspaceID: "ws-nosuch"})
		},
	}
	for name, call := range failing {
		a := &atrium.Audit{ActorID: alice.ID, Action: "Fail:" + name, RequestID: "req-fail", Status: 200}
		if err := call(atrium.WithAudit(ctx, a)); err == nil {
			t.Fatalf("%s: succeeded, want an error", name)
		}
		if a.Recorded {
			t.Fatalf("%s: audit.Recorded = true after a failed write", name)
		}
		ls, n, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{Action: a.Action})
		wantNoErr(t, err)
		if n != 0 {
			t.Fatalf("%s: failed write left log lines: %s", name, dump(ls))
		}
	}
}
