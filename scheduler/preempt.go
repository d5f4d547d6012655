package scheduler

import (
	"slices"
	"time"
)

// candidate is a running workload that e may preempt.
type candidate struct {
	e       *entry
	reclaim bool // else in-quota priority preemption
	side    int  // reclaim: the victim's ancestor just below the common ancestor
}

// Preemption rules:
//
//   - in-quota: e of priority ≥ PreemptorPriority preempts workloads of the
//     same quota of priority ≤ PreemptedPriority and strictly below its own;
//   - reclaim: when admitting e keeps its quota — and each ancestor below the
//     common ancestor with the victim — within min, e preempts workloads of
//     other quotas whose side of the tree borrows (uses more than its min)
//     of a gpuType e needs; with ReclaimLowerPriority only those of lower
//     priority.
//
// A victim must have run Policy.MinRuntime and must not have been admitted
// in this pass. Victims are taken lowest priority first, then newest, until
// e fits; then those not needed after all are given back (last taken
// first). Cycles cannot form: in-quota victims have strictly lower priority,
// and a reclaim victim's side was borrowing while e's stays within min, so
// the victim cannot reclaim from e in return under the same conditions.
func (s *State) preempt(e *entry, now time.Time, commit bool) ([]*entry, bool) {
	q := &s.quotas[e.quota]
	for _, m := range q.preMemo {
		if m.gen == s.preGen && e.prio <= m.prio && reqsAtLeast(e.reqs, m.reqs) {
			return nil, false
		}
	}
	cands := s.candidates(e, now)
	if len(cands) == 0 {
		s.rememberPreempt(q, e)
		return nil, false
	}
	var taken []candidate
	fits := false
	for _, c := range cands {
		if c.reclaim && !s.borrowing(c.side, e) {
			continue // earlier victims already brought that side within min
		}
		s.releaseRunning(c.e)
		taken = append(taken, c)
		if s.quotaFits(e) {
			if ok, _ := s.place(e); ok {
				s.unplace(e, len(e.shapes), 0)
				fits = true
				break
			}
		}
	}
	if !fits {
		for i := len(taken) - 1; i >= 0; i-- {
			s.chargeRunning(taken[i].e)
		}
		s.rememberPreempt(q, e)
		return nil, false
	}
	// Give back the victims that turn out not to be needed.
	kept := taken[:0:0]
	for i := len(taken) - 2; i >= 0; i-- {
		s.chargeRunning(taken[i].e)
		if s.quotaFits(e) {
			if ok, _ := s.place(e); ok {
				s.unplace(e, len(e.shapes), 0)
				continue
			}
		}
		s.releaseRunning(taken[i].e)
		kept = append(kept, taken[i])
	}
	kept = append(kept, taken[len(taken)-1])
	ok, _ := s.place(e)
	if !ok || !commit {
		if ok {
			s.unplace(e, len(e.shapes), 0)
		}
		for i := len(kept) - 1; i >= 0; i-- {
			s.chargeRunning(kept[i].e)
		}
		return victimsOf(kept), ok
	}
	s.commit(e, now)
	for _, c := range kept {
		v := c.e
		v.nodes, v.started = nil, time.Time{}
		v.reason = Reason{Code: Preempted, Quota: s.quotas[v.quota].id, Blocker: e.w.ID}
		if c.reclaim {
			v.reason.Detail = string(PreemptReclaim)
		} else {
			v.reason.Detail = string(PreemptPriority)
		}
		s.requeue = append(s.requeue, v)
	}
	s.fitGen++
	s.preGen++
	return victimsOf(kept), true
}

func victimsOf(cs []candidate) []*entry {
	out := make([]*entry, len(cs))
	for i, c := range cs {
		out[i] = c.e
	}
	// Report victims in the order they were chosen.
	slices.SortFunc(out, victimOrder)
	return out
}

// victimOrder: lowest priority first, then newest (latest start), then id.
func victimOrder(a, b *entry) int {
	if a.prio != b.prio {
		return a.prio - b.prio
	}
	if c := b.started.Compare(a.started); c != 0 {
		return c
	}
	if a.w.ID < b.w.ID {
		return -1
	} else if a.w.ID > b.w.ID {
		return 1
	}
	return 0
}

// candidates lists the running workloads e may preempt, in victim order.
func (s *State) candidates(e *entry, now time.Time) []candidate {
	qi := e.quota
	q := &s.quotas[qi]
	var out []candidate
	eligible := func(v *entry) bool {
		if v.admitted == s.pass && s.pass > 0 {
			return false
		}
		if guard := max(s.policy.MinRuntime, s.quotas[v.quota].cfg.MinRuntime); guard > 0 && now.Sub(v.started) < guard {
			return false
		}
		return sharesType(v, e)
	}
	if q.preemptor > 0 && e.prio >= q.preemptor {
		for _, v := range q.running {
			if v.prio <= q.preempted && v.prio < e.prio && eligible(v) {
				out = append(out, candidate{e: v})
			}
		}
	}
	if s.policy.Reclaim != ReclaimNever && s.withinMin(e, qi) {
		for _, bi := range s.members[q.root] {
			b := &s.quotas[bi]
			if bi == qi || len(b.running) == 0 {
				continue
			}
			if s.policy.Reclaim == ReclaimLowerPriority && !b.runsBelow(e.prio) {
				continue
			}
			side, ok := s.reclaimSide(e, bi)
			if !ok {
				continue
			}
			for _, v := range b.running {
				if s.policy.Reclaim == ReclaimLowerPriority && v.prio >= e.prio {
					continue
				}
				if eligible(v) {
					out = append(out, candidate{e: v, reclaim: true, side: side})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b candidate) int { return victimOrder(a.e, b.e) })
	return out
}

// reclaimSide finds the common ancestor of e's quota and quota b, checks
// that e stays within min on its side up to there, that b's side borrows,
// and returns b's side.
func (s *State) reclaimSide(e *entry, b int) (int, bool) {
	a := e.quota
	// Bring both to the same depth, then climb together.
	for s.quotas[b].depth > s.quotas[a].depth {
		if s.quotas[b].parent == a {
			return 0, false // b is in e's subtree
		}
		b = s.quotas[b].parent
	}
	// b may be an ancestor of e's quota: not a sibling side.
	x := a
	for s.quotas[x].depth > s.quotas[b].depth {
		x = s.quotas[x].parent
	}
	if x == b {
		return 0, false
	}
	ax, bx := x, b
	for s.quotas[ax].parent != s.quotas[bx].parent {
		ax, bx = s.quotas[ax].parent, s.quotas[bx].parent
	}
	// ax is e's side, bx the victim's.
	for q := e.quota; ; q = s.quotas[q].parent {
		if !s.withinMin(e, q) {
			return 0, false
		}
		if q == ax {
			break
		}
	}
	return bx, s.borrowing(bx, e)
}

// runsBelow reports whether the quota runs a workload of priority below p.
func (q *quota) runsBelow(p int) bool {
	for i := 1; i < p; i++ {
		if q.byPrio[i] > 0 {
			return true
		}
	}
	return false
}

func sharesType(v, e *entry) bool {
	for _, a := range v.reqs {
		for _, b := range e.reqs {
			if a.t == b.t {
				return true
			}
		}
	}
	return false
}

// reqsAtLeast reports whether requests a and b name the same gpuTypes and a
// needs at least b of each.
func reqsAtLeast(a, b []typeReq) bool {
	if len(a) != len(b) {
		return false
	}
	for _, tb := range b {
		found := false
		for _, ta := range a {
			if ta.t == tb.t {
				found = tb.v.LessEq(ta.v)
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// rememberPreempt notes that preemption could not make room for e: a later
// workload of the same quota with no higher priority and no smaller request
// cannot succeed either until something is admitted or released.
func (s *State) rememberPreempt(q *quota, e *entry) {
	keep := q.preMemo[:0]
	for _, m := range q.preMemo {
		if m.gen == s.preGen {
			keep = append(keep, m)
		}
	}
	if len(keep) >= 16 {
		keep = keep[1:]
	}
	q.preMemo = append(keep, preFail{gen: s.preGen, prio: e.prio, reqs: e.reqs})
}
