package scheduler

import "atrium/resource"

// The quota model, per gpuType t and component-wise:
//
//	headroom(root)  = min(max - used, capacity of Ready nodes - used)
//	headroom(child) = min(max - used, headroom(parent) - reserved)
//	reserved        = Σ protected(sibling)
//	protected(q)    = unused min of q that it does not lend: max(0, (min-used)⁺ - lendingLimit)
//
// so a quota borrows its siblings' unused min up to its max, except what a
// lending limit keeps back. Unused min that was lent is taken back by
// preemption (preempt.go). sumProt caches Σ protected per parent, updated on
// every charge, so a headroom check costs O(depth).

// prot is quota q's protected (non-lendable) unused min of gpuType t. A quota
// held for a blocked workload lends nothing.
func (s *State) prot(q, t int) resource.Vector {
	a := &s.quotas[q]
	unused := a.min[t].Sub(a.used[t]).NonNeg()
	if a.held && a.used[t].LessEq(a.min[t]) {
		return unused // held while still below its min
	}
	return unused.Sub(a.lend[t]).NonNeg()
}

// charge adds v (possibly negative) of gpuType t to q and its ancestors.
func (s *State) charge(q, t int, v resource.Vector) {
	for a := q; a >= 0; a = s.quotas[a].parent {
		old := s.prot(a, t)
		s.quotas[a].used[t] = s.quotas[a].used[t].Add(v)
		if p := s.quotas[a].parent; p >= 0 {
			s.quotas[p].sumProt[t] = s.quotas[p].sumProt[t].Add(s.prot(a, t).Sub(old))
		}
	}
}

// headroom is how much more of gpuType t quota q may allocate now.
func (s *State) headroom(q, t int) resource.Vector {
	a := &s.quotas[q]
	h := a.max[t].Sub(a.used[t])
	if a.parent < 0 {
		return h.Min(a.capacity[t].Sub(a.used[t]))
	}
	reserved := s.quotas[a.parent].sumProt[t].Sub(s.prot(q, t))
	return h.Min(s.headroom(a.parent, t).Sub(reserved))
}

// quotaFits reports whether e's whole request fits the headroom of its quota.
func (s *State) quotaFits(e *entry) bool {
	for _, tr := range e.reqs {
		if !tr.v.LessEq(s.headroom(e.quota, tr.t)) {
			return false
		}
	}
	return true
}

// staticReason reports a request that cannot be admitted whatever runs:
// larger than a Max on the path, or of a gpuType the resource groups lack.
func (s *State) staticReason(e *entry) (Reason, bool) {
	for _, tr := range e.reqs {
		for a := e.quota; a >= 0; a = s.quotas[a].parent {
			if !tr.v.LessEq(s.quotas[a].max[tr.t]) {
				return Reason{Code: ExceedsQuotaMax, Quota: s.quotas[a].id, GPUType: s.types[tr.t],
					Requested: tr.v, Available: s.quotas[a].max[tr.t]}, true
			}
		}
		root := &s.quotas[s.quotas[e.quota].root]
		ready := false
		for _, p := range root.pools[tr.t] {
			ready = ready || s.pools[p].ready > 0
		}
		if !ready {
			return Reason{Code: NoMatchingGPUType, Quota: root.id, GPUType: s.types[tr.t], Requested: tr.v}, true
		}
	}
	return Reason{}, false
}

// quotaReason explains why e does not fit its quota headroom, naming the
// quota whose limit binds.
func (s *State) quotaReason(e *entry) Reason {
	for _, tr := range e.reqs {
		avail := s.headroom(e.quota, tr.t)
		if tr.v.LessEq(avail) {
			continue
		}
		r := Reason{Code: QuotaExhausted, GPUType: s.types[tr.t], Requested: tr.v, Available: avail.NonNeg()}
		for a := e.quota; a >= 0; a = s.quotas[a].parent {
			A := &s.quotas[a]
			if !tr.v.LessEq(A.max[tr.t].Sub(A.used[tr.t])) {
				r.Quota, r.Detail = A.id, "max reached"
				return r
			}
			if A.parent < 0 {
				r.Code, r.Quota, r.Detail = InsufficientNodeCapacity, A.id, "Ready capacity of the resource groups is allocated"
				return r
			}
			if tr.v.LessEq(s.headroom(A.parent, tr.t)) {
				r.Quota, r.Detail = s.quotas[A.parent].id, "the rest is sibling quotas' guaranteed min"
				return r
			}
		}
		return r
	}
	return Reason{}
}

// withinMin reports whether admitting e keeps quota q within its min for
// every gpuType e requests.
func (s *State) withinMin(e *entry, q int) bool {
	A := &s.quotas[q]
	for _, tr := range e.reqs {
		if !A.used[tr.t].Add(tr.v).LessEq(A.min[tr.t]) {
			return false
		}
	}
	return true
}

// borrowing reports whether quota q uses more than its min of a gpuType e requests.
func (s *State) borrowing(q int, e *entry) bool {
	A := &s.quotas[q]
	for _, tr := range e.reqs {
		if !A.used[tr.t].LessEq(A.min[tr.t]) {
			return true
		}
	}
	return false
}

// holdMin keeps the unused min of e's quota (and of the ancestors it is
// within) from being lent while e is blocked: a quota below its min with a
// blocked workload does not lend that capacity to workloads evaluated after
// it. Holds last until the tree is walked again (the next Pass, or a Refresh
// that walks it), so workloads submitted in between respect them too.
func (s *State) holdMin(e *entry) {
	for a := e.quota; a >= 0 && s.withinMin(e, a); a = s.quotas[a].parent {
		if !s.quotas[a].held {
			s.setHold(a, true)
			s.held = append(s.held, a)
		}
	}
}

func (s *State) setHold(a int, held bool) {
	p := s.quotas[a].parent
	for t := range s.types {
		s.quotas[a].held = !held
		old := s.prot(a, t)
		s.quotas[a].held = held
		if p >= 0 {
			s.quotas[p].sumProt[t] = s.quotas[p].sumProt[t].Add(s.prot(a, t).Sub(old))
		}
	}
	s.quotas[a].held = held
}

// releaseHolds ends the holds in the trees about to be walked (all when
// only is nil).
func (s *State) releaseHolds(only []uint64) {
	keep := s.held[:0]
	for _, a := range s.held {
		if only == nil || only[s.quotas[a].root] != 0 {
			s.setHold(a, false)
		} else {
			keep = append(keep, a)
		}
	}
	s.held = keep
}
