package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"atrium/resource"
)

// inf stands for "no limit" in per-gpuType vectors; far from overflow when
// vectors are added.
const inf = int64(1) << 60

var infVec = resource.Vector{MilliCPU: inf, Memory: inf, GPU: inf}

// typeReq is a workload's total request of one gpuType (index into State.types).
type typeReq struct {
	t int
	v resource.Vector
}

// shape is one pod set as placed: n pods of request r on nodes of gpuType t.
type shape struct {
	set   int // index into Workload.PodSets
	t     int
	r     resource.Vector
	n     int
	first int // index of its first pod in entry.nodes
}

// entry is a workload inside the State.
type entry struct {
	w       Workload
	quota   int // -1 when the quota is unknown
	prio    int
	k1, k2  int64 // queue order: k1, k2, sub, id ascending
	sub     int64
	reqs    []typeReq // sorted by gpuType name
	mask    uint64    // bit t for each gpuType t requested (bit 63 stands for t ≥ 63)
	shapes  []shape   // placement order: largest pods first
	pods    int
	invalid string

	running bool
	nodes   []int32 // running: node per pod (pod sets in workload order); -1 unknown
	started time.Time
	runPos  int // index in quota.running

	reason   Reason
	admitted uint64 // pass number in which it was admitted
	isNew    bool   // submitted since the last pass, not yet evaluated
}

// quota is a node of the quota tree with its per-gpuType accounting.
type quota struct {
	id                   string
	parent               int
	children             []int
	root                 int
	depth                int
	groups               []int // roots: resource group indices
	strategy             QueueStrategy
	preemptor, preempted int
	aging                bool

	min, max, lend []resource.Vector // per gpuType
	used           []resource.Vector // allocated in the subtree
	sumProt        []resource.Vector // sum of children's protected (non-lendable unused) min
	capacity       []resource.Vector // roots: Ready capacity of the groups
	pools          [][]int           // roots: per gpuType, the pools of the groups
	held           bool              // its unused min is held for a blocked workload (holdMin)
	hasAdmitted    bool              // admitted a workload in this pass: compact the queue
	cfg            *Quota

	queue   []*entry // ordered by before
	running []*entry
	byPrio  [10]int // running workloads per priority

	// memos, valid while their generation matches the State's
	fitMemo []fitFail
	preMemo []preFail
}

type fitFail struct {
	gen uint64
	t   int
	r   resource.Vector
	n   int
}

type preFail struct {
	gen  uint64
	prio int
	reqs []typeReq
}

// State is the scheduler's in-memory model of the cluster for the steady
// state: nodes indexed for best-fit, quota usage kept up to date, queues kept
// in order. A State is not safe for concurrent use.
type State struct {
	policy Policy
	strict int

	types   []string
	typeIdx map[string]int
	groups  map[string]int
	// rootsOfGroup lists the root quotas drawing on each group.
	rootsOfGroup [][]int

	nodes   []node
	nodeIdx map[string]int
	pools   []*pool
	poolIdx map[[2]int]int

	quotas   []quota
	quotaIdx map[string]int
	members  [][]int // per root: the quotas of its tree, in index order

	byID map[string]*entry

	pass    uint64   // passes run
	fitGen  uint64   // bumped when capacity is released: node-fit memos expire
	preGen  uint64   // bumped on any admission or release: preemption memos expire
	dirty   []uint64 // per quota index (roots only): gpuTypes (bit t) with capacity released since the last pass
	fresh   []*entry
	scratch []int32
	requeue []*entry
	orphans []*entry // queued workloads naming an unknown quota
	held    []int    // quotas with held set
	bulk    bool     // New is loading queues: append now, sort once
}

// New builds a State from a snapshot. Running workloads are charged to their
// nodes and quotas as given, even when that exceeds a capacity; queued ones
// enter their queues. Invalid queued workloads stay queued with reason
// InvalidWorkload. New returns an error only for an inconsistent quota tree
// (duplicate or unknown ids, cycles) or duplicate node or workload ids.
func New(snap Snapshot) (*State, error) {
	s := &State{
		policy:   snap.Policy,
		strict:   snap.Policy.StrictPriority,
		typeIdx:  map[string]int{},
		groups:   map[string]int{},
		nodeIdx:  make(map[string]int, len(snap.Nodes)),
		poolIdx:  map[[2]int]int{},
		quotaIdx: make(map[string]int, len(snap.Quotas)),
		byID:     make(map[string]*entry, len(snap.Running)+len(snap.Queued)),
	}
	if s.strict == 0 {
		s.strict = 7
	}
	if s.policy.Reclaim == "" {
		s.policy.Reclaim = ReclaimLowerPriority
	}
	if err := s.buildQuotas(snap.Quotas); err != nil {
		return nil, err
	}
	if err := s.buildNodes(snap.Nodes); err != nil {
		return nil, err
	}
	// Charge running workloads in id order: node bucket order, and so
	// placement ties, then do not depend on the input order.
	run := make([]int, len(snap.Running))
	for i := range run {
		run[i] = i
	}
	slices.SortFunc(run, func(a, b int) int { return strings.Compare(snap.Running[a].ID, snap.Running[b].ID) })
	for _, i := range run {
		if err := s.addRunning(snap.Running[i]); err != nil {
			return nil, err
		}
	}
	// Queued workloads: append, then sort each queue once.
	s.bulk = true
	for i := range snap.Queued {
		if _, err := s.enqueue(snap.Queued[i], false); err != nil {
			return nil, err
		}
	}
	s.bulk = false
	for i := range s.quotas {
		slices.SortFunc(s.quotas[i].queue, cmpEntry)
	}
	return s, nil
}

// Schedule runs one full pass over a snapshot: the pure form of the
// scheduler. It is equivalent to New(snap) followed by Pass(snap.Now).
func Schedule(snap Snapshot) (Decisions, error) {
	s, err := New(snap)
	if err != nil {
		return Decisions{}, err
	}
	return s.Pass(snap.Now), nil
}

// typeOf interns a gpuType, growing the per-gpuType arrays.
func (s *State) typeOf(name string) int {
	if t, ok := s.typeIdx[name]; ok {
		return t
	}
	t := len(s.types)
	s.types = append(s.types, name)
	s.typeIdx[name] = t
	for i := range s.quotas {
		q := &s.quotas[i]
		q.min = append(q.min, resource.Vector{})
		q.max = append(q.max, infVec)
		q.lend = append(q.lend, infVec)
		q.used = append(q.used, resource.Vector{})
		q.sumProt = append(q.sumProt, resource.Vector{})
		if q.parent < 0 {
			q.capacity = append(q.capacity, resource.Vector{})
			q.pools = append(q.pools, nil)
		}
	}
	// Limits written for this gpuType before it was interned.
	for i := range s.quotas {
		s.quotas[i].applyLimits(t, name)
	}
	for i := range s.quotas {
		if s.quotas[i].parent >= 0 {
			p := &s.quotas[s.quotas[i].parent]
			p.sumProt[t] = p.sumProt[t].Add(s.prot(i, t))
		}
	}
	return t
}

// typeBit is gpuType t's bit in a type mask.
func typeBit(t int) uint64 { return 1 << min(t, 63) }

// applyLimits sets gpuType t's limits from the quota's configuration.
func (q *quota) applyLimits(t int, name string) {
	if q.cfg == nil {
		return
	}
	if v, ok := q.cfg.Min[name]; ok {
		q.min[t] = v
	}
	if v, ok := q.cfg.Max[name]; ok {
		q.max[t] = v
	}
	if v, ok := q.cfg.LendingLimit[name]; ok {
		q.lend[t] = v
	}
}

func (s *State) buildQuotas(qs []Quota) error {
	s.quotas = make([]quota, len(qs))
	for i, c := range qs {
		if c.ID == "" {
			return fmt.Errorf("quota %d has no id", i)
		}
		if _, dup := s.quotaIdx[c.ID]; dup {
			return fmt.Errorf("duplicate quota %s", c.ID)
		}
		s.quotaIdx[c.ID] = i
		strategy := c.Strategy
		if strategy == "" {
			strategy = RoundRobin
		}
		s.quotas[i] = quota{id: c.ID, parent: -1, strategy: strategy, preemptor: c.PreemptorPriority,
			preempted: c.PreemptedPriority, aging: strategy == Intelligent && s.policy.AgingInterval > 0, cfg: &qs[i]}
	}
	for i, c := range qs {
		if c.Parent == "" {
			continue
		}
		p, ok := s.quotaIdx[c.Parent]
		if !ok {
			return fmt.Errorf("quota %s: unknown parent %s", c.ID, c.Parent)
		}
		s.quotas[i].parent = p
		s.quotas[p].children = append(s.quotas[p].children, i)
	}
	s.dirty = make([]uint64, len(qs))
	for i := range s.quotas {
		r, d := i, 0
		for s.quotas[r].parent >= 0 {
			r = s.quotas[r].parent
			if d++; d > len(qs) {
				return fmt.Errorf("quota %s: parent cycle", s.quotas[i].id)
			}
		}
		s.quotas[i].root, s.quotas[i].depth = r, d
	}
	s.members = make([][]int, len(qs))
	for i := range s.quotas {
		r := s.quotas[i].root
		s.members[r] = append(s.members[r], i)
	}
	// Intern every gpuType named by a limit, in sorted order for determinism.
	var names []string
	for _, c := range qs {
		names = append(names, c.Min.Types()...)
		names = append(names, c.Max.Types()...)
		names = append(names, c.LendingLimit.Types()...)
	}
	names = append(names, "")
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		s.typeOf(n)
	}
	for i, c := range qs {
		if c.Parent != "" {
			continue
		}
		for _, g := range c.ResourceGroups {
			gi := s.groupOf(g)
			s.quotas[i].groups = append(s.quotas[i].groups, gi)
			s.rootsOfGroup[gi] = append(s.rootsOfGroup[gi], i)
		}
	}
	return nil
}

func (s *State) groupOf(name string) int {
	if g, ok := s.groups[name]; ok {
		return g
	}
	g := len(s.groups)
	s.groups[name] = g
	s.rootsOfGroup = append(s.rootsOfGroup, nil)
	return g
}

// newEntry validates w and precomputes what scheduling needs.
func (s *State) newEntry(w Workload) *entry {
	e := &entry{w: w, quota: -1, prio: min(max(w.Priority, 1), 9)}
	if w.Submitted.IsZero() {
		e.sub = 0
	} else {
		e.sub = w.Submitted.UnixNano()
	}
	if q, ok := s.quotaIdx[w.Quota]; ok {
		e.quota = q
	} else {
		e.invalid = fmt.Sprintf("unknown quota %q", w.Quota)
	}
	if len(w.PodSets) == 0 {
		e.invalid = "no pod sets"
	}
	for i, ps := range w.PodSets {
		if ps.Count < 1 {
			e.invalid = fmt.Sprintf("pod set %q: count must be at least 1", ps.Name)
			continue
		}
		if ps.Request.MilliCPU < 0 || ps.Request.Memory < 0 || ps.Request.GPU < 0 {
			e.invalid = fmt.Sprintf("pod set %q: negative request", ps.Name)
			continue
		}
		if ps.Request.GPU > 0 && ps.GPUType == "" {
			e.invalid = fmt.Sprintf("pod set %q: gpuType is required when gpu > 0", ps.Name)
			continue
		}
		t := s.typeOf(ps.GPUType)
		e.shapes = append(e.shapes, shape{set: i, t: t, r: ps.Request, n: ps.Count, first: e.pods})
		e.pods += ps.Count
		total := ps.Request.Scale(int64(ps.Count))
		j := slices.IndexFunc(e.reqs, func(tr typeReq) bool { return tr.t == t })
		if j < 0 {
			e.reqs = append(e.reqs, typeReq{t: t, v: total})
		} else {
			e.reqs[j].v = e.reqs[j].v.Add(total)
		}
	}
	// Order by gpuType name, not index: the index depends on input order.
	slices.SortFunc(e.reqs, func(a, b typeReq) int { return strings.Compare(s.types[a.t], s.types[b.t]) })
	for _, tr := range e.reqs {
		e.mask |= typeBit(tr.t)
	}
	// Place the biggest pods first: fewer dead ends for the greedy best-fit.
	slices.SortStableFunc(e.shapes, func(a, b shape) int {
		if a.t != b.t {
			return strings.Compare(s.types[a.t], s.types[b.t])
		}
		if a.r.GPU != b.r.GPU {
			return int(b.r.GPU - a.r.GPU)
		}
		if a.r.MilliCPU != b.r.MilliCPU {
			if a.r.MilliCPU > b.r.MilliCPU {
				return -1
			}
			return 1
		}
		return 0
	})
	e.setKey(s)
	return e
}

func (e *entry) setKey(s *State) {
	e.k1, e.k2 = int64(-e.prio), 0
	if e.quota >= 0 && s.quotas[e.quota].aging {
		// Aging as an order that does not move with time: waiting one
		// interval is worth one priority level.
		e.k1, e.k2 = e.sub-int64(e.prio)*int64(s.policy.AgingInterval), int64(-e.prio)
	}
}

// before is the queue order within a quota.
func before(a, b *entry) bool {
	if a.k1 != b.k1 {
		return a.k1 < b.k1
	}
	if a.k2 != b.k2 {
		return a.k2 < b.k2
	}
	if a.sub != b.sub {
		return a.sub < b.sub
	}
	return a.w.ID < b.w.ID
}

// effPrio is the priority used to order heads across quotas and, in
// Intelligent queues, to choose strict or round-robin behaviour.
func (s *State) effPrio(e *entry, now time.Time) int {
	if e.quota < 0 || !s.quotas[e.quota].aging {
		return e.prio
	}
	waited := now.UnixNano() - e.sub
	if waited <= 0 {
		return e.prio
	}
	return int(min(int64(e.prio)+waited/int64(s.policy.AgingInterval), 9))
}

func (s *State) addRunning(w Workload) error {
	if _, dup := s.byID[w.ID]; dup {
		return fmt.Errorf("duplicate workload %s", w.ID)
	}
	e := s.newEntry(w)
	s.byID[w.ID] = e
	e.running, e.started = true, w.Started
	e.nodes = make([]int32, e.pods)
	for i := range e.nodes {
		e.nodes[i] = -1
	}
	base := make(map[string]int, len(w.PodSets))
	off := 0
	for _, ps := range w.PodSets {
		base[ps.Name] = off
		off += max(ps.Count, 0)
	}
	for _, p := range w.Placements {
		b, ok := base[p.PodSet]
		n, okn := s.nodeIdx[p.Node]
		if !ok || !okn || p.Pod < 0 || b+p.Pod >= len(e.nodes) {
			continue
		}
		e.nodes[b+p.Pod] = int32(n)
	}
	s.chargeRunning(e)
	return nil
}

// chargeRunning applies a running entry's pods to nodes and quotas.
func (s *State) chargeRunning(e *entry) {
	for _, sh := range e.shapes {
		for i := 0; i < sh.n; i++ {
			if n := e.nodes[sh.first+i]; n >= 0 {
				s.alloc(int(n), sh.r)
			}
		}
	}
	s.chargeQuota(e)
}

// chargeQuota charges a running entry to its quota path.
func (s *State) chargeQuota(e *entry) {
	if e.quota >= 0 {
		for _, tr := range e.reqs {
			s.charge(e.quota, tr.t, tr.v)
		}
		q := &s.quotas[e.quota]
		e.runPos = len(q.running)
		q.running = append(q.running, e)
		q.byPrio[e.prio]++
	}
	e.running = true
}

// releaseRunning undoes chargeRunning.
func (s *State) releaseRunning(e *entry) {
	for _, sh := range e.shapes {
		for i := 0; i < sh.n; i++ {
			if n := e.nodes[sh.first+i]; n >= 0 {
				s.free(int(n), sh.r)
			}
		}
	}
	if e.quota >= 0 {
		for _, tr := range e.reqs {
			s.charge(e.quota, tr.t, resource.Vector{}.Sub(tr.v))
		}
		q := &s.quotas[e.quota]
		last := q.running[len(q.running)-1]
		q.running[e.runPos] = last
		last.runPos = e.runPos
		q.running = q.running[:len(q.running)-1]
		q.byPrio[e.prio]--
	}
	e.running = false
}

// enqueue adds a queued workload to its quota's queue.
func (s *State) enqueue(w Workload, fresh bool) (*entry, error) {
	if _, dup := s.byID[w.ID]; dup {
		return nil, fmt.Errorf("duplicate workload %s", w.ID)
	}
	e := s.newEntry(w)
	s.byID[w.ID] = e
	e.reason = Reason{Code: NotEvaluated}
	if e.invalid != "" {
		e.reason = Reason{Code: InvalidWorkload, Detail: e.invalid}
	}
	s.insertQueued(e)
	if fresh {
		e.isNew = true
		s.fresh = append(s.fresh, e)
	}
	return e, nil
}

// insertQueued puts e in its quota's queue; workloads naming an unknown
// quota are kept aside, reported but never scheduled.
func (s *State) insertQueued(e *entry) {
	if e.quota < 0 {
		s.orphans = append(s.orphans, e)
		return
	}
	q := &s.quotas[e.quota]
	if s.bulk {
		q.queue = append(q.queue, e)
		return
	}
	i, _ := slices.BinarySearchFunc(q.queue, e, cmpEntry)
	q.queue = slices.Insert(q.queue, i, e)
}

func cmpEntry(a, b *entry) int {
	if before(a, b) {
		return -1
	}
	if before(b, a) {
		return 1
	}
	return 0
}

// removeQueued takes e out of its quota's queue.
func (s *State) removeQueued(e *entry) {
	if e.quota < 0 {
		s.orphans = slices.DeleteFunc(s.orphans, func(o *entry) bool { return o == e })
		return
	}
	q := &s.quotas[e.quota]
	if i, ok := slices.BinarySearchFunc(q.queue, e, cmpEntry); ok {
		q.queue = slices.Delete(q.queue, i, i+1)
	}
}
