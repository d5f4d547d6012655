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
// held for a blocked workload in this pass lends nothing.
func (s *State) prot(q, t int) resource.Vector {
	a := &s.quotas[q]
	unused := a.min[t].Sub(a.used[t]).NonNeg()
	if a.hold == s.pass && s.pass > 0 {
		return unused
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
// within) from being lent for the rest of the pass: a quota below its min
// with a blocked workload does not lend that capacity to later, lower-priority
// workloads of other quotas.
func (s *State) holdMin(e *entry) {
	for a := e.quota; a >= 0 && s.withinMin(e, a); a = s.quotas[a].parent {
		if s.quotas[a].hold == s.pass {
			continue
		}
		s.setHold(a, s.pass)
	}
}

func (s *State) setHold(a int, pass uint64) {
	p := s.quotas[a].parent
	prev := s.quotas[a].hold
	for t := range s.types {
		s.quotas[a].hold = prev
		old := s.prot(a, t)
		s.quotas[a].hold = pass
		if p >= 0 {
			s.quotas[p].sumProt[t] = s.quotas[p].sumProt[t].Add(s.prot(a, t).Sub(old))
		}
	}
	s.quotas[a].hold = pass
	if pass != 0 {
		s.held = append(s.held, a)
	}
}

// releaseHolds ends the pass's holds.
func (s *State) releaseHolds() {
	for _, a := range s.held {
		s.setHold(a, 0)
	}
	s.held = s.held[:0]
}
