package scheduler

import (
	"fmt"
	"math/bits"
	"slices"

	"atrium/resource"
)

// Nodes are indexed per pool (one resource group × one gpuType) in buckets by
// their free amount of the scarce resource: free GPUs on GPU nodes, free
// whole cores on CPU-only nodes. Best-fit scans buckets upwards from the
// request's own bucket (a bitmap skips empty ones) and takes the first node
// that fits in every dimension, so a pod lands on the fullest node that can
// hold it without a scan over all nodes.
const nBuckets = 256

type node struct {
	name     string
	group, t int
	pool     int
	capacity resource.Vector
	free     resource.Vector
	ready    bool
	bucket   int
	pos      int // index in its bucket; -1 when not listed (not Ready)
}

type pool struct {
	group, t int
	gpu      bool // bucket by free GPUs, else by free cores
	buckets  [nBuckets][]int32
	nonEmpty [nBuckets / 64]uint64
	capacity resource.Vector // of Ready nodes
	free     resource.Vector // of Ready nodes
	ready    int
}

func (p *pool) key(v resource.Vector) int {
	k := v.MilliCPU / 1000
	if p.gpu {
		k = v.GPU
	}
	return int(min(max(k, 0), nBuckets-1))
}

func (p *pool) nextBucket(from int) int {
	for w := from >> 6; w < len(p.nonEmpty); w++ {
		m := p.nonEmpty[w]
		if w == from>>6 {
			m &= ^uint64(0) << (from & 63)
		}
		if m != 0 {
			return w<<6 + bits.TrailingZeros64(m)
		}
	}
	return -1
}

// find returns the best-fitting node for one pod of request r and its bucket.
func (p *pool) find(nodes []node, r resource.Vector) (int, int) {
	for b := p.nextBucket(p.key(r)); b >= 0; b = p.nextBucket(b + 1) {
		for _, ni := range p.buckets[b] {
			if r.LessEq(nodes[ni].free) {
				return int(ni), b
			}
		}
	}
	return -1, -1
}

func (s *State) list(n int) {
	nd := &s.nodes[n]
	p := s.pools[nd.pool]
	b := p.key(nd.free)
	nd.bucket, nd.pos = b, len(p.buckets[b])
	p.buckets[b] = append(p.buckets[b], int32(n))
	p.nonEmpty[b>>6] |= 1 << (b & 63)
}

func (s *State) unlist(n int) {
	nd := &s.nodes[n]
	p := s.pools[nd.pool]
	bk := p.buckets[nd.bucket]
	last := bk[len(bk)-1]
	bk[nd.pos] = last
	s.nodes[last].pos = nd.pos
	p.buckets[nd.bucket] = bk[:len(bk)-1]
	if len(bk) == 1 {
		p.nonEmpty[nd.bucket>>6] &^= 1 << (nd.bucket & 63)
	}
	nd.pos = -1
}

// alloc takes r from node n.
func (s *State) alloc(n int, r resource.Vector) {
	nd := &s.nodes[n]
	nd.free = nd.free.Sub(r)
	if nd.ready {
		p := s.pools[nd.pool]
		p.free = p.free.Sub(r)
		if p.key(nd.free) != nd.bucket {
			s.unlist(n)
			s.list(n)
		}
	}
}

// free gives r back to node n.
func (s *State) free(n int, r resource.Vector) {
	nd := &s.nodes[n]
	nd.free = nd.free.Add(r)
	if nd.ready {
		p := s.pools[nd.pool]
		p.free = p.free.Add(r)
		if p.key(nd.free) != nd.bucket {
			s.unlist(n)
			s.list(n)
		}
	}
}

func (s *State) buildNodes(ns []Node) error {
	order := make([]int, len(ns))
	for i := range order {
		order[i] = i
	}
	// Index nodes in name order so placement does not depend on input order.
	slices.SortFunc(order, func(a, b int) int {
		if ns[a].Name < ns[b].Name {
			return -1
		} else if ns[a].Name > ns[b].Name {
			return 1
		}
		return 0
	})
	s.nodes = make([]node, 0, len(ns))
	for _, i := range order {
		if err := s.SetNode(ns[i]); err != nil {
			return err
		}
	}
	return nil
}

// SetNode adds a node or changes an existing node's capacity or state. A
// node's group and gpuType are fixed once added (build a new State to move a
// node). Pods already on the node keep their capacity.
func (s *State) SetNode(n Node) error {
	if n.Name == "" {
		return fmt.Errorf("node without a name")
	}
	ready := n.State == "" || n.State == NodeReady
	if i, ok := s.nodeIdx[n.Name]; ok {
		nd := &s.nodes[i]
		if g, ok := s.groups[n.Group]; !ok || g != nd.group || s.types[nd.t] != n.GPUType {
			return fmt.Errorf("node %s: group and gpuType cannot change", n.Name)
		}
		s.setReady(i, false)
		nd.free = nd.free.Add(n.Capacity.Sub(nd.capacity))
		nd.capacity = n.Capacity
		s.setReady(i, ready)
		s.capacityChanged(nd.group, nd.t)
		return nil
	}
	g, t := s.groupOf(n.Group), s.typeOf(n.GPUType)
	pi, ok := s.poolIdx[[2]int{g, t}]
	if !ok {
		pi = len(s.pools)
		s.pools = append(s.pools, &pool{group: g, t: t, gpu: n.GPUType != ""})
		s.poolIdx[[2]int{g, t}] = pi
		for _, r := range s.rootsOfGroup[g] {
			s.quotas[r].pools[t] = append(s.quotas[r].pools[t], pi)
		}
	}
	i := len(s.nodes)
	s.nodes = append(s.nodes, node{name: n.Name, group: g, t: t, pool: pi, capacity: n.Capacity, free: n.Capacity, pos: -1})
	s.nodeIdx[n.Name] = i
	s.setReady(i, ready)
	s.capacityChanged(g, t)
	return nil
}

func (s *State) setReady(i int, ready bool) {
	nd := &s.nodes[i]
	if nd.ready == ready {
		return
	}
	p := s.pools[nd.pool]
	if ready {
		nd.ready = true
		p.ready++
		p.capacity = p.capacity.Add(nd.capacity)
		p.free = p.free.Add(nd.free)
		s.list(i)
	} else {
		s.unlist(i)
		nd.ready = false
		p.ready--
		p.capacity = p.capacity.Sub(nd.capacity)
		p.free = p.free.Sub(nd.free)
	}
}

// capacityChanged recomputes the capacity of the roots drawing on group g
// and marks them for re-evaluation.
func (s *State) capacityChanged(g, t int) {
	for _, r := range s.rootsOfGroup[g] {
		var c resource.Vector
		for _, pi := range s.quotas[r].pools[t] {
			c = c.Add(s.pools[pi].capacity)
		}
		s.quotas[r].capacity[t] = c
		s.dirty[r] |= typeBit(t)
	}
	s.fitGen++
	s.preGen++
}

// poolFree is the free capacity of gpuType t on the Ready nodes of root r.
func (s *State) poolFree(r, t int) resource.Vector {
	var f resource.Vector
	for _, pi := range s.quotas[r].pools[t] {
		f = f.Add(s.pools[pi].free)
	}
	return f
}

// place tentatively places every pod of e (best-fit, biggest pods first),
// writing the nodes into s.scratch. On failure it undoes what it placed and
// returns the index of the shape that did not fit.
func (s *State) place(e *entry) (bool, int) {
	root := &s.quotas[s.quotas[e.quota].root]
	if cap(s.scratch) < e.pods {
		s.scratch = make([]int32, e.pods*2)
	}
	sc := s.scratch[:e.pods]
	for si, sh := range e.shapes {
		pools := root.pools[sh.t]
		for i := 0; i < sh.n; i++ {
			best, bestB := -1, nBuckets
			for _, pi := range pools {
				if n, b := s.pools[pi].find(s.nodes, sh.r); n >= 0 && b < bestB {
					best, bestB = n, b
				}
			}
			if best < 0 {
				s.unplace(e, si, i)
				return false, si
			}
			s.alloc(best, sh.r)
			sc[sh.first+i] = int32(best)
		}
	}
	return true, -1
}

// unplace undoes a tentative placement of shapes[:si] and i pods of shapes[si].
func (s *State) unplace(e *entry, si, i int) {
	for k := 0; k <= si && k < len(e.shapes); k++ {
		sh := e.shapes[k]
		n := sh.n
		if k == si {
			n = i
		}
		for j := 0; j < n; j++ {
			s.free(int(s.scratch[sh.first+j]), sh.r)
		}
	}
}

// nodeCheck decides whether e's gang can be placed now. It first uses the
// cheap bounds (total free capacity, and the memo of gangs that did not fit
// since capacity was last released) and only then tries a placement. On
// success the pods stay placed (nodes in s.scratch); the caller commits or
// undoes them.
func (s *State) nodeCheck(e *entry) (bool, Reason) {
	r := s.quotas[e.quota].root
	root := &s.quotas[r]
	for _, tr := range e.reqs {
		if f := s.poolFree(r, tr.t); !tr.v.LessEq(f) {
			return false, Reason{Code: InsufficientNodeCapacity, Quota: root.id, GPUType: s.types[tr.t], Requested: tr.v, Available: f}
		}
	}
	for _, sh := range e.shapes {
		for _, m := range root.fitMemo {
			if m.gen == s.fitGen && m.t == sh.t && m.n <= sh.n && m.r.LessEq(sh.r) {
				return false, s.nodeReason(e, sh)
			}
		}
	}
	ok, si := s.place(e)
	if ok {
		return true, Reason{}
	}
	sh := e.shapes[si]
	if si == 0 || e.shapes[si-1].t != sh.t {
		// Nothing else of this gpuType was placed first, so the memo holds
		// for any later gang at least as big.
		s.remember(root, fitFail{gen: s.fitGen, t: sh.t, r: sh.r, n: sh.n})
	}
	return false, s.nodeReason(e, sh)
}

func (s *State) nodeReason(e *entry, sh shape) Reason {
	r := s.quotas[e.quota].root
	var req resource.Vector
	for _, tr := range e.reqs {
		if tr.t == sh.t {
			req = tr.v
		}
	}
	return Reason{Code: InsufficientNodeCapacity, Quota: s.quotas[r].id, GPUType: s.types[sh.t],
		Requested: req, Available: s.poolFree(r, sh.t), PodSet: e.w.PodSets[sh.set].Name}
}

// remember adds a failed gang shape to the root's memo, dropping stale and
// dominated entries; the memo stays small.
func (s *State) remember(root *quota, f fitFail) {
	keep := root.fitMemo[:0]
	for _, m := range root.fitMemo {
		if m.gen == s.fitGen && !(m.t == f.t && f.n <= m.n && f.r.LessEq(m.r)) {
			keep = append(keep, m)
		}
	}
	if len(keep) >= 32 {
		keep = keep[1:]
	}
	root.fitMemo = append(keep, f)
}
