package scheduler

import (
	"fmt"
	"slices"
	"time"
)

// A pass walks all quota queues at once in one global order — effective
// priority, then submission time, then id — by merging the queue heads in a
// heap. Each queue is kept sorted as workloads arrive, so a pass never sorts.
// A blocked workload ends its queue's walk when the strategy says it blocks
// (StrictFIFO; Intelligent at effective priority ≥ StrictPriority); the
// workloads behind it get StrictFIFOBlocked or WaitingBehindHigherPriority.
// Workloads that can never be admitted where they are (InvalidWorkload,
// ExceedsQuotaMax, NoMatchingGPUType) never block a queue.

// cursor is a quota queue being walked in a pass.
type cursor struct {
	q, pos int
	eff    int
	e      *entry
}

func (c *cursor) less(d *cursor) bool {
	if c.eff != d.eff {
		return c.eff > d.eff
	}
	if c.e.sub != d.e.sub {
		return c.e.sub < d.e.sub
	}
	return c.e.w.ID < d.e.w.ID
}

type cursorHeap []cursor

func (h cursorHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].less(&h[l]) {
			m = r
		}
		if !h[m].less(&h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// ownReason reports reasons about the workload itself, not its queue.
func ownReason(c ReasonCode) bool {
	return c == QuotaExhausted || c == InsufficientNodeCapacity || static(c)
}

// static reports reasons no change in the cluster's usage can fix.
func static(c ReasonCode) bool {
	return c == InvalidWorkload || c == ExceedsQuotaMax || c == NoMatchingGPUType
}

// Pass evaluates every queued workload against the current state, admits
// what fits (committing admissions and preemptions to the State: admitted
// workloads become running, victims are queued again), and reports a reason
// for every workload left queued.
func (s *State) Pass(now time.Time) Decisions {
	return s.run(now, nil)
}

// Refresh is the incremental pass. It re-walks the queues only of the quota
// trees where capacity was released or nodes changed since the last pass
// (Remove, SetNode, preemption), and evaluates workloads submitted since then
// one by one elsewhere. Decisions.Queued lists only the workloads it
// evaluated; the others keep their reason (see Explain). Aging moves
// Intelligent queues with time alone, so call Pass now and then (say every
// minute) as well.
func (s *State) Refresh(now time.Time) Decisions {
	return s.run(now, s.dirty)
}

// run is a pass over the trees with only[root] != 0 (all when only is nil),
// followed by the fresh workloads of the other trees. In a tree walked for
// only[root], a workload requesting none of those gpuTypes whose last reason
// was its own keeps that reason without being evaluated again: nothing it
// needs was released.
func (s *State) run(now time.Time, only []uint64) Decisions {
	s.pass++
	s.fitGen++
	s.preGen++
	s.releaseHolds(only)
	var d Decisions
	h := cursorHeap{}
	n := 0
	for qi := range s.quotas {
		q := &s.quotas[qi]
		if len(q.queue) == 0 || (only != nil && only[q.root] == 0) {
			continue
		}
		h = append(h, cursor{q: qi, e: q.queue[0], eff: s.effPrio(q.queue[0], now)})
		n += len(q.queue)
	}
	if only == nil {
		n += len(s.orphans)
		d.Queued = make([]Pending, 0, n)
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	for len(h) > 0 {
		c := &h[0]
		q := &s.quotas[c.q]
		keep := only != nil && only[q.root]&c.e.mask == 0 && ownReason(c.e.reason.Code)
		var blocked bool
		if keep {
			if blocked = !static(c.e.reason.Code); blocked {
				s.holdMin(c.e)
				blocked = s.blocks(q, c.e, c.eff)
			}
		} else {
			blocked = s.evaluate(&d, c.e, c.pos, now) && s.blocks(q, c.e, c.eff)
		}
		if blocked {
			for j := c.pos + 1; j < len(q.queue); j++ {
				if o := q.queue[j]; !keep || o.isNew {
					s.blockedBehind(&d, q, o, c.e, c.eff, now, j)
				}
			}
			c.pos = len(q.queue)
		} else {
			c.pos++
		}
		if c.pos < len(q.queue) {
			c.e = q.queue[c.pos]
			c.eff = s.effPrio(c.e, now)
		} else {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		h.down(0)
	}
	// Workloads submitted to trees this pass did not walk.
	slices.SortFunc(s.fresh, func(a, b *entry) int {
		if pa, pb := s.effPrio(a, now), s.effPrio(b, now); pa != pb {
			return pb - pa
		}
		return cmpEntry(a, b)
	})
	for _, e := range s.fresh {
		if !e.isNew || e.running || e.quota < 0 {
			continue
		}
		q := &s.quotas[e.quota]
		pos, _ := slices.BinarySearchFunc(q.queue, e, cmpEntry)
		if b := s.blockerAhead(q, pos, now); b != nil {
			s.blockedBehind(&d, q, e, b, s.effPrio(b, now), now, pos)
			continue
		}
		s.evaluate(&d, e, pos, now)
	}
	s.fresh = s.fresh[:0]
	if only == nil {
		for _, e := range s.orphans {
			d.Queued = append(d.Queued, Pending{Workload: e.w.ID, Reason: e.reason})
		}
	}
	// Admitted workloads leave their queues; victims join theirs.
	for qi := range s.quotas {
		q := &s.quotas[qi]
		if len(q.queue) > 0 && (only == nil || only[q.root] != 0 || q.hasAdmitted) {
			q.queue = slices.DeleteFunc(q.queue, func(e *entry) bool { return e.running })
			q.hasAdmitted = false
		}
	}
	clear(s.dirty)
	for _, v := range s.requeue {
		d.Preempted = append(d.Preempted, Preemption{Workload: v.w.ID, By: v.reason.Blocker, Reason: PreemptReason(v.reason.Detail)})
		s.insertQueued(v)
		v.isNew = true
		s.fresh = append(s.fresh, v)
	}
	s.requeue = s.requeue[:0]
	return d
}

// evaluate tries to admit e (at 0-based queue position pos) and records the
// outcome in d. It reports whether e stays queued for a reason that can
// block its queue.
func (s *State) evaluate(d *Decisions, e *entry, pos int, now time.Time) bool {
	e.isNew = false
	ok, victims, reason := s.attempt(e, now, true)
	if ok {
		a := Admission{Workload: e.w.ID, Placements: s.placements(e, e.nodes)}
		for _, v := range victims {
			a.Preempts = append(a.Preempts, v.w.ID)
		}
		d.Admitted = append(d.Admitted, a)
		s.quotas[e.quota].hasAdmitted = true
		return false
	}
	e.reason = reason
	d.Queued = append(d.Queued, Pending{Workload: e.w.ID, Reason: reason, Position: pos + 1})
	if static(reason.Code) {
		return false
	}
	s.holdMin(e)
	return true
}

func (s *State) blockedBehind(d *Decisions, q *quota, o, blocker *entry, eff int, now time.Time, pos int) {
	o.isNew = false
	code := StrictFIFOBlocked
	if q.strategy == Intelligent && s.effPrio(o, now) < eff {
		code = WaitingBehindHigherPriority
	}
	o.reason = Reason{Code: code, Quota: q.id, Blocker: blocker.w.ID}
	d.Queued = append(d.Queued, Pending{Workload: o.w.ID, Reason: o.reason, Position: pos + 1})
}

// blocks reports whether a blocked e holds up the rest of its queue.
func (s *State) blocks(q *quota, e *entry, eff int) bool {
	switch q.strategy {
	case StrictFIFO:
		return true
	case Intelligent:
		return eff >= s.strict
	}
	return false
}

// blockerAhead returns the queued workload ahead of position pos that blocks
// the queue, if any, judging by the reasons of the last evaluation.
func (s *State) blockerAhead(q *quota, pos int, now time.Time) *entry {
	if q.strategy == RoundRobin {
		return nil
	}
	for _, o := range q.queue[:pos] {
		if o.running || static(o.reason.Code) {
			continue
		}
		if s.blocks(q, o, s.effPrio(o, now)) {
			return o
		}
	}
	return nil
}

// attempt evaluates e now. With commit it admits e (placing its pods and
// preempting its victims); without, it leaves the State as it was.
func (s *State) attempt(e *entry, now time.Time, commit bool) (bool, []*entry, Reason) {
	if e.invalid != "" {
		return false, nil, Reason{Code: InvalidWorkload, Detail: e.invalid}
	}
	if r, bad := s.staticReason(e); bad {
		return false, nil, r
	}
	var reason Reason
	if s.quotaFits(e) {
		ok, r := s.nodeCheck(e)
		if ok {
			if commit {
				s.commit(e, now)
			} else {
				s.unplace(e, len(e.shapes), 0)
			}
			return true, nil, Reason{}
		}
		reason = r
	} else {
		reason = s.quotaReason(e)
	}
	if victims, ok := s.preempt(e, now, commit); ok {
		return true, victims, Reason{}
	}
	return false, nil, reason
}

// commit admits e on the nodes in s.scratch.
func (s *State) commit(e *entry, now time.Time) {
	e.nodes = slices.Clone(s.scratch[:e.pods])
	e.started = now
	e.admitted = s.pass
	// What was just admitted cannot be a victim in this pass, so the
	// preemption memos stay valid — unless the admission starts a quota
	// borrowing, which makes its older workloads reclaimable.
	startsBorrowing := false
	for a := e.quota; a >= 0 && !startsBorrowing; a = s.quotas[a].parent {
		for _, tr := range e.reqs {
			A := &s.quotas[a]
			if A.used[tr.t].LessEq(A.min[tr.t]) && !A.used[tr.t].Add(tr.v).LessEq(A.min[tr.t]) {
				startsBorrowing = true
			}
		}
	}
	s.chargeQuota(e)
	if startsBorrowing {
		s.preGen++
	}
}

// placements renders an entry's pod nodes, pod sets in workload order.
func (s *State) placements(e *entry, nodes []int32) []Placement {
	out := make([]Placement, 0, e.pods)
	idx := make([]int, len(e.w.PodSets))
	for _, sh := range e.shapes {
		idx[sh.set] = sh.first
	}
	for si, ps := range e.w.PodSets {
		for i := 0; i < ps.Count; i++ {
			name := ""
			if n := nodes[idx[si]+i]; n >= 0 {
				name = s.nodes[n].name
			}
			out = append(out, Placement{PodSet: ps.Name, Pod: i, Node: name})
		}
	}
	return out
}

// Submit queues a new workload; Refresh or Pass evaluates it. It fails for
// a duplicate id. A workload the scheduler cannot run (unknown quota, no
// pods…) is accepted and stays queued with reason InvalidWorkload.
func (s *State) Submit(w Workload) error {
	_, err := s.enqueue(w, true)
	return err
}

// Remove forgets a workload: a queued one leaves its queue, a running one
// (finished, failed, stopped) gives its capacity back. It reports whether
// the workload was known.
func (s *State) Remove(id string) bool {
	e, ok := s.byID[id]
	if !ok {
		return false
	}
	delete(s.byID, id)
	if !e.running {
		s.removeQueued(e)
		e.isNew = false
		return true
	}
	s.releaseRunning(e)
	if e.quota >= 0 {
		s.dirty[s.quotas[e.quota].root] |= e.mask
	}
	for _, n := range e.nodes {
		if n >= 0 {
			for _, r := range s.rootsOfGroup[s.nodes[n].group] {
				s.dirty[r] |= e.mask
			}
		}
	}
	s.fitGen++
	s.preGen++
	return true
}

// Explain returns the reason a queued workload is waiting, from its last
// evaluation, with its current position in its queue.
func (s *State) Explain(id string) (Pending, bool) {
	e, ok := s.byID[id]
	if !ok || e.running {
		return Pending{}, false
	}
	p := Pending{Workload: id, Reason: e.reason}
	if e.quota >= 0 {
		i, _ := slices.BinarySearchFunc(s.quotas[e.quota].queue, e, cmpEntry)
		p.Position = i + 1
	}
	return p, true
}

// Running returns the placements of a running workload.
func (s *State) Running(id string) ([]Placement, bool) {
	e, ok := s.byID[id]
	if !ok || !e.running {
		return nil, false
	}
	return s.placements(e, e.nodes), true
}

// WhatIf answers whether w would be admitted now — where, preempting what —
// without changing the State. When it would not be, the Pending says why and
// where w would stand in its queue. w must not be known to the State.
func (s *State) WhatIf(w Workload, now time.Time) (*Admission, Pending, error) {
	if _, dup := s.byID[w.ID]; dup {
		return nil, Pending{}, fmt.Errorf("workload %s already exists", w.ID)
	}
	s.pass++ // nothing running counts as admitted in this pass
	fitGen, preGen := s.fitGen, s.preGen
	defer func() { s.fitGen, s.preGen = fitGen+1, preGen+1 }()
	e := s.newEntry(w)
	p := Pending{Workload: w.ID}
	if e.quota >= 0 {
		q := &s.quotas[e.quota]
		pos, _ := slices.BinarySearchFunc(q.queue, e, cmpEntry)
		p.Position = pos + 1
		if b := s.blockerAhead(q, pos, now); b != nil {
			code := StrictFIFOBlocked
			if q.strategy == Intelligent && s.effPrio(e, now) < s.effPrio(b, now) {
				code = WaitingBehindHigherPriority
			}
			p.Reason = Reason{Code: code, Quota: q.id, Blocker: b.w.ID}
			return nil, p, nil
		}
	}
	ok, victims, reason := s.attempt(e, now, false)
	if !ok {
		p.Reason = reason
		return nil, p, nil
	}
	// attempt without commit undid the placement; place again to report it.
	for _, v := range victims {
		s.releaseRunning(v)
	}
	s.place(e)
	a := &Admission{Workload: w.ID, Placements: s.placements(e, s.scratch[:e.pods])}
	s.unplace(e, len(e.shapes), 0)
	for i := len(victims) - 1; i >= 0; i-- {
		s.chargeRunning(victims[i])
	}
	for _, v := range victims {
		a.Preempts = append(a.Preempts, v.w.ID)
	}
	return a, p, nil
}
