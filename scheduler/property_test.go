package scheduler

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"atrium/resource"
)

// stats count what the scenarios exercised, logged with -v.
var stats struct{ steps, admitted, preempted, queued, reclaimChecks int }

var long = flag.Bool("scheduler.long", false, "run the randomized property test for minutes instead of seconds")

// TestProperties drives thousands of small random clusters through random
// submissions, completions and node state changes, scheduling after every
// step — half of them through the pure Schedule, half through an
// incremental State (Submit/Remove/SetNode/Refresh, with a full Pass every
// third step) — and checks the invariants after every step. A failure
// names the seed; TestProperties/seed=N reruns just that scenario.
func TestProperties(t *testing.T) {
	n, budget := 1500, time.Duration(0)
	if *long {
		n, budget = 1<<30, 3*time.Minute
	}
	if testing.Short() {
		n = 200
	}
	start := time.Now()
	defer func() { t.Logf("exercised: %+v", stats) }()
	for seed := uint64(1); seed <= uint64(n); seed++ {
		if budget > 0 && time.Since(start) > budget {
			t.Logf("%d scenarios", seed-1)
			break
		}
		if !t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { scenario(t, seed) }) {
			return
		}
	}
}

// world is the cluster as the caller of the scheduler keeps it.
type world struct {
	t           *testing.T
	rng         *rand.Rand
	snap        Snapshot
	incremental bool
	state       *State
	next        int
	prio        map[string]int // every workload's priority
	preemptedBy map[[2]string]bool
}

func scenario(t *testing.T, seed uint64) {
	w := &world{t: t, rng: rand.New(rand.NewPCG(seed, 42)), incremental: seed%2 == 0,
		prio: map[string]int{}, preemptedBy: map[[2]string]bool{}}
	w.snap = w.randomCluster()
	w.snap.Now = t0
	if w.incremental {
		s, err := New(w.snap)
		if err != nil {
			t.Fatal(err)
		}
		w.state = s
	}
	for step := 0; step < 16; step++ {
		w.snap.Now = w.snap.Now.Add(time.Duration(w.rng.IntN(20)) * time.Minute)
		w.events()
		full := !w.incremental || step%3 == 2
		d := w.decide(full)
		w.apply(d)
		w.check(d, full)
		if len(d.Preempted) > 0 {
			// No preemption cycles: scheduling again in the same conditions
			// never preempts a workload for one it displaced.
			d2 := w.decide(true)
			w.apply(d2)
			w.check(d2, true)
		}
		clear(w.preemptedBy)
		stats.steps++
		stats.admitted += len(d.Admitted)
		stats.preempted += len(d.Preempted)
		stats.queued += len(d.Queued)
		if t.Failed() {
			t.Logf("step %d", step)
			return
		}
	}
}

var propTypes = []string{"A100", "T4", ""}

func (w *world) randomCluster() Snapshot {
	r := w.rng
	var snap Snapshot
	for i := range 2 + r.IntN(5) {
		typ := propTypes[r.IntN(len(propTypes))]
		gpus := int64(0)
		if typ != "" {
			gpus = int64(4 + 4*r.IntN(2))
		}
		snap.Nodes = append(snap.Nodes, Node{Name: fmt.Sprintf("n%d", i), Group: fmt.Sprintf("rg%d", r.IntN(2)), GPUType: typ,
			Capacity: vec(int64(16+16*r.IntN(2)), int64(64+64*r.IntN(2)), gpus), State: NodeReady})
	}
	randList := func(scale int64) resource.List {
		if r.IntN(6) == 0 {
			return nil
		}
		l := resource.List{}
		for _, typ := range propTypes {
			if r.IntN(3) != 0 {
				g := int64(0)
				if typ != "" {
					g = r.Int64N(9) * scale
				}
				l[typ] = vec(r.Int64N(40)*scale, r.Int64N(160)*scale, g)
			}
		}
		return l
	}
	if r.IntN(2) == 0 {
		snap.Quotas = []Quota{root("r0", "rg0", "rg1")}
	} else {
		snap.Quotas = []Quota{root("r0", "rg0"), root("r1", "rg1")}
	}
	depth := map[string]int{}
	for i := range 1 + r.IntN(6) {
		p := snap.Quotas[r.IntN(len(snap.Quotas))]
		if depth[p.ID] >= 2 {
			p = snap.Quotas[0]
		}
		q := Quota{ID: fmt.Sprintf("q%d", i), Parent: p.ID, Min: randList(1), Strategy: []QueueStrategy{StrictFIFO, RoundRobin, Intelligent, ""}[r.IntN(4)]}
		q.Max = q.Min.Add(randList(1))
		if r.IntN(3) == 0 {
			q.Max = nil
		}
		if r.IntN(4) == 0 {
			q.LendingLimit = randList(1)
		}
		if r.IntN(2) == 0 {
			q.PreemptorPriority = 5 + r.IntN(4)
			q.PreemptedPriority = 1 + r.IntN(q.PreemptorPriority-1)
		}
		depth[q.ID] = depth[p.ID] + 1
		snap.Quotas = append(snap.Quotas, q)
	}
	snap.Policy = Policy{Reclaim: []ReclaimMode{"", ReclaimAny, ReclaimNever}[r.IntN(3)]}
	if r.IntN(4) == 0 {
		snap.Policy.MinRuntime = 20 * time.Minute
	}
	if r.IntN(2) == 0 {
		snap.Policy.AgingInterval = 15 * time.Minute
	}
	return snap
}

func (w *world) randomJob() Workload {
	r := w.rng
	id := fmt.Sprintf("j%03d", w.next)
	w.next++
	q := w.snap.Quotas[r.IntN(len(w.snap.Quotas))].ID
	if r.IntN(40) == 0 {
		q = "ghost"
	}
	job := Workload{ID: id, Kind: "DLC", Quota: q, Priority: 1 + r.IntN(9), Submitted: w.snap.Now}
	for s := range 1 + r.IntN(2) {
		typ := propTypes[r.IntN(len(propTypes))]
		if r.IntN(30) == 0 {
			typ = "V100"
		}
		g := int64(0)
		if typ != "" {
			g = 1 + r.Int64N(4)
		}
		job.PodSets = append(job.PodSets, PodSet{Name: fmt.Sprintf("s%d", s), Count: 1 + r.IntN(3), GPUType: typ,
			Request: vec(1+r.Int64N(8), 1+r.Int64N(32), g)})
	}
	w.prio[id] = min(max(job.Priority, 1), 9)
	return job
}

// events submits, finishes and flips nodes, in the world and the State.
func (w *world) events() {
	r := w.rng
	for range r.IntN(6) {
		j := w.randomJob()
		w.snap.Queued = append(w.snap.Queued, j)
		if w.incremental {
			must(w.t, w.state.Submit(j))
		}
	}
	w.snap.Running = slices.DeleteFunc(w.snap.Running, func(j Workload) bool {
		if r.IntN(8) != 0 {
			return false
		}
		if w.incremental && !w.state.Remove(j.ID) {
			w.t.Fatalf("remove %s", j.ID)
		}
		return true
	})
	if r.IntN(8) == 0 {
		n := &w.snap.Nodes[r.IntN(len(w.snap.Nodes))]
		n.State = []NodeState{NodeReady, NodeDraining, NodeNotReady}[r.IntN(3)]
		if w.incremental {
			must(w.t, w.state.SetNode(*n))
		}
	}
}

func (w *world) decide(full bool) Decisions {
	if !w.incremental {
		d := schedule(w.t, w.snap)
		// Determinism: equal input, even in another order, gives equal decisions.
		shuffled := w.snap
		shuffled.Nodes = shuffle(w.rng, w.snap.Nodes)
		shuffled.Quotas = shuffle(w.rng, w.snap.Quotas)
		shuffled.Running = shuffle(w.rng, w.snap.Running)
		shuffled.Queued = shuffle(w.rng, w.snap.Queued)
		d2 := schedule(w.t, shuffled)
		if !reflect.DeepEqual(normalize(d), normalize(d2)) {
			w.t.Errorf("not deterministic:\n%s\n%s", dump(d), dump(d2))
		}
		return d
	}
	if full {
		return w.state.Pass(w.snap.Now)
	}
	return w.state.Refresh(w.snap.Now)
}

func shuffle[T any](r *rand.Rand, in []T) []T {
	out := slices.Clone(in)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func normalize(d Decisions) Decisions {
	d.Queued = slices.Clone(d.Queued)
	slices.SortFunc(d.Queued, func(a, b Pending) int { return strings.Compare(a.Workload, b.Workload) })
	return d
}

// apply carries out the decisions: admitted workloads run where placed,
// preempted ones go back to the queue.
func (w *world) apply(d Decisions) {
	queued := map[string]int{}
	for i, j := range w.snap.Queued {
		queued[j.ID] = i
	}
	gone := map[string]bool{}
	for _, a := range d.Admitted {
		i, ok := queued[a.Workload]
		if !ok {
			w.t.Fatalf("admitted %s is not queued", a.Workload)
		}
		j := w.snap.Queued[i]
		j.Placements, j.Started = a.Placements, w.snap.Now
		w.snap.Running = append(w.snap.Running, j)
		gone[j.ID] = true
		for _, v := range a.Preempts {
			w.preemptedBy[[2]string{v, a.Workload}] = true
		}
	}
	w.snap.Queued = slices.DeleteFunc(w.snap.Queued, func(j Workload) bool { return gone[j.ID] })
	for _, p := range d.Preempted {
		i := slices.IndexFunc(w.snap.Running, func(j Workload) bool { return j.ID == p.Workload })
		if i < 0 {
			w.t.Fatalf("preempted %s is not running", p.Workload)
		}
		j := w.snap.Running[i]
		j.Placements, j.Started = nil, time.Time{}
		w.snap.Running = slices.Delete(w.snap.Running, i, i+1)
		w.snap.Queued = append(w.snap.Queued, j)
		// No cycles: a workload admitted by preempting X is never preempted
		// for X in the same conditions (this pass or the next, with no event
		// in between).
		if w.preemptedBy[[2]string{p.By, p.Workload}] {
			w.t.Errorf("preemption cycle: %s preempted %s, which had preempted it", p.By, p.Workload)
		}
		if w.snap.Policy.Reclaim != ReclaimAny && w.prio[p.Workload] >= w.prio[p.By] {
			w.t.Errorf("%s (priority %d) preempted %s (priority %d)", p.By, w.prio[p.By], p.Workload, w.prio[p.Workload])
		}
	}
}

// check asserts the invariants on the world after applying d.
func (w *world) check(d Decisions, full bool) {
	t := w.t
	nodes := map[string]Node{}
	for _, n := range w.snap.Nodes {
		nodes[n.Name] = n
	}
	quotas := map[string]Quota{}
	for _, q := range w.snap.Quotas {
		quotas[q.ID] = q
	}
	// No partial gangs; new pods only on Ready nodes of the right gpuType
	// in the quota's resource groups.
	for _, a := range d.Admitted {
		j := w.find(a.Workload)
		want := 0
		for _, ps := range j.PodSets {
			want += ps.Count
		}
		if len(a.Placements) != want {
			t.Errorf("%s: %d placements for %d pods", a.Workload, len(a.Placements), want)
		}
		groups := w.groupsOf(j.Quota)
		for _, p := range a.Placements {
			n, ok := nodes[p.Node]
			ps := j.PodSets[slices.IndexFunc(j.PodSets, func(ps PodSet) bool { return ps.Name == p.PodSet })]
			if !ok || (n.State != NodeReady && n.State != "") || n.GPUType != ps.GPUType || !slices.Contains(groups, n.Group) {
				t.Errorf("%s pod %s/%d on %+v", a.Workload, p.PodSet, p.Pod, n)
			}
		}
	}
	// No node over capacity.
	load := map[string]resource.Vector{}
	for _, j := range w.snap.Running {
		for _, p := range j.Placements {
			ps := j.PodSets[slices.IndexFunc(j.PodSets, func(ps PodSet) bool { return ps.Name == p.PodSet })]
			load[p.Node] = load[p.Node].Add(ps.Request)
		}
	}
	for name, l := range load {
		if !l.LessEq(nodes[name].Capacity) {
			t.Errorf("node %s over capacity: %s > %s", name, l, nodes[name].Capacity)
		}
	}
	// No quota over max.
	alloc := w.allocated()
	for id, l := range alloc {
		for typ, v := range l {
			if mx, ok := quotas[id].Max[typ]; ok && !v.LessEq(mx) {
				t.Errorf("quota %s over max for %q: %s > %s", id, typ, v, mx)
			}
		}
	}
	if full && len(d.Preempted) == 0 && w.snap.Policy.Reclaim != ReclaimNever {
		w.checkReclaim(d, alloc)
	}
}

// checkReclaim: a quota below its min with a workload left queued never
// has that capacity lent to lower priorities — taking back everything the
// reclaim rule allows would still not let the workload in.
func (w *world) checkReclaim(d Decisions, alloc map[string]resource.List) {
	admittedNow := map[string]bool{}
	for _, a := range d.Admitted {
		admittedNow[a.Workload] = true
	}
	reasons := map[string]Reason{}
	for _, p := range d.Queued {
		reasons[p.Workload] = p.Reason
	}
	quotas := map[string]Quota{}
	for _, q := range w.snap.Quotas {
		quotas[q.ID] = q
	}
	for _, job := range w.snap.Queued {
		r, ok := reasons[job.ID]
		if !ok || (r.Code != QuotaExhausted && r.Code != InsufficientNodeCapacity) {
			continue
		}
		req := requestOf(job)
		within := func(q string) bool {
			for typ, v := range req {
				if !alloc[q][typ].Add(v).LessEq(quotas[q].Min[typ]) {
					return false
				}
			}
			return true
		}
		if !within(job.Quota) {
			continue
		}
		// Reclaimable victims, lowest priority then newest, taken while
		// their side still borrows.
		var cands []Workload
		for _, v := range w.snap.Running {
			if admittedNow[v.ID] || (w.snap.Policy.MinRuntime > 0 && w.snap.Now.Sub(v.Started) < w.snap.Policy.MinRuntime) {
				continue
			}
			if w.snap.Policy.Reclaim == "" && w.prio[v.ID] >= w.prio[job.ID] {
				continue
			}
			cands = append(cands, v)
		}
		slices.SortFunc(cands, func(a, b Workload) int {
			if w.prio[a.ID] != w.prio[b.ID] {
				return w.prio[a.ID] - w.prio[b.ID]
			}
			if c := b.Started.Compare(a.Started); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		used := map[string]resource.List{}
		for id, l := range alloc {
			used[id] = l.Clone()
		}
		removed := map[string]bool{}
		for _, v := range cands {
			mine, theirs, ok := w.sides(job.Quota, v.Quota)
			if !ok {
				continue
			}
			okWithin := true
			for q := job.Quota; ; q = quotas[q].Parent {
				okWithin = okWithin && within(q)
				if q == mine {
					break
				}
			}
			borrowing := false
			for typ := range req {
				borrowing = borrowing || !used[theirs][typ].LessEq(quotas[theirs].Min[typ])
			}
			if !okWithin || !borrowing || !sharesTypes(requestOf(v), req) {
				continue
			}
			removed[v.ID] = true
			for q := v.Quota; q != ""; q = quotas[q].Parent {
				for typ, x := range requestOf(v) {
					used[q][typ] = used[q][typ].Sub(x)
				}
			}
		}
		if len(removed) == 0 {
			continue
		}
		stats.reclaimChecks++
		ref := w.snap
		ref.Running = slices.DeleteFunc(slices.Clone(w.snap.Running), func(v Workload) bool { return removed[v.ID] })
		ref.Queued = []Workload{job}
		ref.Policy.Reclaim = ReclaimNever
		ref.Quotas = slices.Clone(w.snap.Quotas)
		for i := range ref.Quotas {
			ref.Quotas[i].PreemptorPriority = 0
		}
		// The workloads left queued before job may hold their quota's
		// unused min (holdMin): they are queued in the reference too.
		ref.Queued = append(w.heldBefore(d, job.ID), job)
		// If a holder gets in on the reclaimed room instead, the case is
		// ambiguous (the holder may not reclaim those victims): only job
		// alone getting in is a violation.
		if rd := schedule(w.t, ref); len(rd.Admitted) == 1 && rd.Admitted[0].Workload == job.ID {
			w.t.Errorf("%s (priority %d, quota %s within min) left queued (%s) while reclaiming %v would admit it",
				job.ID, w.prio[job.ID], job.Quota, r.Message(), keys(removed))
			w.t.Logf("policy %+v\nquotas %+v\nnodes %+v", w.snap.Policy, w.snap.Quotas, w.snap.Nodes)
			for _, v := range w.snap.Running {
				w.t.Logf("running %s q=%s p=%d %+v started %v %v", v.ID, v.Quota, v.Priority, v.PodSets, v.Started, v.Placements)
			}
			w.t.Logf("job %+v", job)
		}
	}
}

// heldBefore lists the workloads the pass left queued for their own
// reasons before evaluating id: they may hold their quota's unused min.
func (w *world) heldBefore(d Decisions, id string) []Workload {
	var out []Workload
	for _, p := range d.Queued {
		if p.Workload == id {
			break
		}
		if p.Reason.Code == QuotaExhausted || p.Reason.Code == InsufficientNodeCapacity {
			out = append(out, w.findQueued(p.Workload))
		}
	}
	return out
}

func (w *world) findQueued(id string) Workload {
	for _, j := range w.snap.Queued {
		if j.ID == id {
			return j
		}
	}
	w.t.Fatalf("%s not queued", id)
	return Workload{}
}

func sharesTypes(a, b resource.List) bool {
	for t := range a {
		if _, ok := b[t]; ok {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// sides returns, for quotas a and b, their ancestors just below their
// lowest common ancestor; ok is false when one contains the other or they
// are in different trees.
func (w *world) sides(a, b string) (string, string, bool) {
	path := func(q string) []string {
		var p []string
		for ; q != ""; q = w.quota(q).Parent {
			p = append([]string{q}, p...)
		}
		return p
	}
	pa, pb := path(a), path(b)
	if len(pa) == 0 || len(pb) == 0 || pa[0] != pb[0] {
		return "", "", false
	}
	i := 0
	for i < len(pa) && i < len(pb) && pa[i] == pb[i] {
		i++
	}
	if i == len(pa) || i == len(pb) {
		return "", "", false
	}
	return pa[i], pb[i], true
}

func (w *world) quota(id string) Quota {
	for _, q := range w.snap.Quotas {
		if q.ID == id {
			return q
		}
	}
	return Quota{}
}

func (w *world) find(id string) Workload {
	for _, j := range w.snap.Running {
		if j.ID == id {
			return j
		}
	}
	w.t.Fatalf("%s not running", id)
	return Workload{}
}

func (w *world) groupsOf(q string) []string {
	for ; w.quota(q).Parent != ""; q = w.quota(q).Parent {
	}
	return w.quota(q).ResourceGroups
}

func requestOf(j Workload) resource.List {
	l := resource.List{}
	for _, ps := range j.PodSets {
		l[ps.GPUType] = l[ps.GPUType].Add(ps.Request.Scale(int64(ps.Count)))
	}
	return l
}

// allocated sums running requests per quota subtree and gpuType.
func (w *world) allocated() map[string]resource.List {
	out := map[string]resource.List{}
	for _, q := range w.snap.Quotas {
		out[q.ID] = resource.List{}
	}
	for _, j := range w.snap.Running {
		for q := j.Quota; q != "" && out[q] != nil; q = w.quota(q).Parent {
			out[q] = out[q].Add(requestOf(j))
		}
	}
	return out
}
