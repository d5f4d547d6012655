package scheduler

import "atrium/resource"

// QuotaUsage is the usage report of one quota (GET /quotas/{id}): one entry
// per gpuType it has limits for or allocates or requests, sorted by gpuType.
type QuotaUsage struct {
	Quota  string
	Parent string
	Types  []TypeUsage
}

// TypeUsage is a quota's usage of one gpuType. All amounts cover the
// quota's whole subtree.
type TypeUsage struct {
	GPUType      string
	Min          resource.Vector
	Max          resource.Vector // meaningful only when !MaxUnlimited
	MaxUnlimited bool            // no Max configured for this gpuType
	Allocated    resource.Vector // requests of running workloads
	Used         resource.Vector // measured usage of running workloads (Workload.Used), else their allocation
	Requested    resource.Vector // requests of queued workloads
	Borrowed     resource.Vector // allocated beyond min
	Lent         resource.Vector // share of its unused min that siblings are borrowing
	Available    resource.Vector // headroom: what one more workload could get now
}

// Usage computes the usage report of every quota of a snapshot, by quota id.
func Usage(snap Snapshot) (map[string]QuotaUsage, error) {
	s, err := New(snap)
	if err != nil {
		return nil, err
	}
	return s.Usage(), nil
}

// Usage reports every quota's usage in the State, by quota id.
func (s *State) Usage() map[string]QuotaUsage {
	nq, nt := len(s.quotas), len(s.types)
	used := make([]resource.Vector, nq*nt)
	requested := make([]resource.Vector, nq*nt)
	up := func(arr []resource.Vector, q, t int, v resource.Vector) {
		for a := q; a >= 0; a = s.quotas[a].parent {
			arr[a*nt+t] = arr[a*nt+t].Add(v)
		}
	}
	for _, e := range s.byID {
		if e.quota < 0 || e.invalid != "" {
			continue
		}
		for _, tr := range e.reqs {
			switch {
			case !e.running:
				up(requested, e.quota, tr.t, tr.v)
			case e.w.Used != nil:
				up(used, e.quota, tr.t, e.w.Used[s.types[tr.t]])
			default:
				up(used, e.quota, tr.t, tr.v)
			}
		}
	}
	lent := s.lent()
	out := make(map[string]QuotaUsage, nq)
	for qi := range s.quotas {
		q := &s.quotas[qi]
		u := QuotaUsage{Quota: q.id}
		if q.parent >= 0 {
			u.Parent = s.quotas[q.parent].id
		}
		for _, t := range s.sortedTypes() {
			i := qi*nt + t
			tu := TypeUsage{GPUType: s.types[t], Min: q.min[t], Max: q.max[t], MaxUnlimited: q.max[t] == infVec,
				Allocated: q.used[t], Used: used[i], Requested: requested[i],
				Borrowed: q.used[t].Sub(q.min[t]).NonNeg(), Lent: lent[i], Available: s.headroom(qi, t).NonNeg()}
			if tu.MaxUnlimited {
				tu.Max = resource.Vector{}
			}
			if tu.Min.IsZero() && tu.MaxUnlimited && tu.Allocated.IsZero() && tu.Requested.IsZero() {
				continue
			}
			if tu.Available.MilliCPU >= inf/2 {
				tu.Available = resource.Vector{} // a gpuType nothing provides
			}
			u.Types = append(u.Types, tu)
		}
		out[q.id] = u
	}
	return out
}

// sortedTypes lists gpuType indices in name order.
func (s *State) sortedTypes() []int {
	out := make([]int, 0, len(s.types))
	for _, name := range resourceNames(s.types) {
		out = append(out, s.typeIdx[name])
	}
	return out
}

func resourceNames(types []string) []string {
	l := make(resource.List, len(types))
	for _, t := range types {
		l[t] = resource.Vector{}
	}
	return l.Types()
}

// lent attributes what children borrow to the siblings whose unused min they
// use: borrowing first draws on the parent's capacity not promised as any
// child's min, then on the lendable unused min of the siblings, shared out
// in proportion to what each can lend.
func (s *State) lent() []resource.Vector {
	nt := len(s.types)
	out := make([]resource.Vector, len(s.quotas)*nt)
	for pi := range s.quotas {
		p := &s.quotas[pi]
		if len(p.children) == 0 {
			continue
		}
		for t := range s.types {
			capP := p.used[t].Add(s.headroom(pi, t).NonNeg())
			var sumMin, borrowed, lendable resource.Vector
			for _, c := range p.children {
				cq := &s.quotas[c]
				sumMin = sumMin.Add(cq.min[t])
				borrowed = borrowed.Add(cq.used[t].Sub(cq.min[t]).NonNeg())
				lendable = lendable.Add(s.lendable(c, t))
			}
			spare := capP.Sub(sumMin).NonNeg()
			fromSiblings := borrowed.Sub(spare).NonNeg().Min(lendable)
			if fromSiblings.IsZero() {
				continue
			}
			for _, c := range p.children {
				l := s.lendable(c, t)
				out[c*nt+t] = resource.Vector{
					MilliCPU: share(fromSiblings.MilliCPU, l.MilliCPU, lendable.MilliCPU),
					Memory:   share(fromSiblings.Memory, l.Memory, lendable.Memory),
					GPU:      share(fromSiblings.GPU, l.GPU, lendable.GPU),
				}
			}
		}
	}
	return out
}

// lendable is the part of quota c's unused min it may lend.
func (s *State) lendable(c, t int) resource.Vector {
	q := &s.quotas[c]
	return q.min[t].Sub(q.used[t]).NonNeg().Min(q.lend[t])
}

// share is total × part / whole without overflow for realistic amounts.
func share(total, part, whole int64) int64 {
	if whole <= 0 || part <= 0 {
		return 0
	}
	if total < 1<<31 && part < 1<<31 {
		return total * part / whole
	}
	return int64(float64(total) * float64(part) / float64(whole))
}
