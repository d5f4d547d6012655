package atrium

import (
	"fmt"
	"slices"

	"atrium/resource"
)

// ValidateQuota checks q on its own: names, strategy, priorities, and that
// min ≤ max and lendingLimit ≤ min for every gpuType.
func ValidateQuota(q *Quota) error {
	if err := ValidateComputeName("name", q.Name); err != nil {
		return err
	}
	if err := ValidateDescription(q.Description); err != nil {
		return err
	}
	switch q.QueueStrategy {
	case StrictFIFO, RoundRobin, Intelligent:
	default:
		return FieldErrorf("queueStrategy", "must be StrictFIFO, RoundRobin or Intelligent")
	}
	if q.PreemptorPriority < 0 || q.PreemptorPriority > 9 {
		return FieldErrorf("preemptorPriority", "must be 0 (no in-quota preemption) or 1–9")
	}
	if q.PreemptedPriority < 0 || q.PreemptedPriority > 9 {
		return FieldErrorf("preemptedPriority", "must be 0–9")
	}
	if q.PreemptorPriority > 0 && q.PreemptedPriority >= q.PreemptorPriority {
		return FieldErrorf("preemptedPriority", "must be below preemptorPriority (%d), or preemption could cycle", q.PreemptorPriority)
	}
	for _, t := range q.Min.Types() {
		if mx, ok := q.Max[t]; ok && !q.Min[t].LessEq(mx) {
			return FieldErrorf("min", "%s is above max %s for gpuType %q", q.Min[t], mx, t)
		}
	}
	for _, t := range q.LendingLimit.Types() {
		if !q.LendingLimit[t].LessEq(q.Min[t]) {
			return FieldErrorf("lendingLimit", "%s is above min %s for gpuType %q: only guaranteed capacity can be lent", q.LendingLimit[t], q.Min[t], t)
		}
	}
	return nil
}

// ValidateQuotaTree checks quota q as it would stand among all the other
// quotas (q replaces the one with its id), the resource groups and their
// nodes: the parent exists and no cycle forms; roots draw on existing groups
// and children on none; every gpuType is one the groups' nodes have; a
// child's max stays within its parent's and its children's min sum within
// its own; a root's min fits the Ready capacity of its groups.
func ValidateQuotaTree(q *Quota, all []*Quota, groups []*ResourceGroup, nodes []*Node) error {
	if err := ValidateQuota(q); err != nil {
		return err
	}
	byID := map[string]*Quota{}
	for _, o := range all {
		byID[o.ID] = o
	}
	byID[q.ID] = q
	sorted := make([]*Quota, 0, len(byID)) // map order would make errors vary
	for _, o := range byID {
		sorted = append(sorted, o)
	}
	slices.SortFunc(sorted, func(a, b *Quota) int { return cmpString(a.ID, b.ID) })
	children := func(id string) []*Quota {
		var out []*Quota
		for _, o := range sorted {
			if o.ParentID == id {
				out = append(out, o)
			}
		}
		return out
	}

	var parent *Quota
	if q.ParentID == "" {
		if len(q.ResourceGroups) == 0 {
			return FieldErrorf("resourceGroupIds", "a root quota must draw on at least one resource group")
		}
		for i, g := range q.ResourceGroups {
			if !slices.ContainsFunc(groups, func(rg *ResourceGroup) bool { return rg.ID == g }) {
				return FieldErrorf(fmt.Sprintf("resourceGroupIds[%d]", i), "resource group %q not found", g)
			}
		}
	} else {
		if len(q.ResourceGroups) > 0 {
			return FieldErrorf("resourceGroupIds", "only a root quota draws on resource groups; a child draws on its parent")
		}
		if parent = byID[q.ParentID]; parent == nil {
			return FieldErrorf("parentId", "quota %q not found", q.ParentID)
		}
		for p, seen := parent, map[string]bool{q.ID: true}; p != nil; p = byID[p.ParentID] {
			if seen[p.ID] {
				return FieldErrorf("parentId", "%q would make a cycle in the quota tree", q.ParentID)
			}
			seen[p.ID] = true
		}
	}

	// The root's groups say which gpuTypes exist and how much there is.
	root := q
	for root.ParentID != "" {
		root = byID[root.ParentID]
	}
	capacityOf := func(gs []string) resource.List {
		c := resource.List{}
		for _, n := range nodes {
			if slices.Contains(gs, n.GroupID) && n.State != NodeNotReady {
				c[n.GPUType] = c[n.GPUType].Add(n.Capacity)
			}
		}
		return c
	}
	capacity := capacityOf(root.ResourceGroups)
	for field, l := range map[string]resource.List{"min": q.Min, "max": q.Max, "lendingLimit": q.LendingLimit} {
		for _, t := range l.Types() {
			if _, ok := capacity[t]; !ok {
				return FieldErrorf(field, "gpuType %q is not offered by the nodes of resource groups %v (known: %v)", t, root.ResourceGroups, capacity.Types())
			}
		}
	}
	if parent == nil {
		// Roots drawing on the same groups must not together guarantee more
		// than those groups hold: check every root's group set that q's
		// groups fall within, summing the roots inside it.
		for _, r := range sorted {
			if r.ParentID != "" || !subset(q.ResourceGroups, r.ResourceGroups) {
				continue
			}
			sum, names := resource.List{}, []string{}
			for _, o := range sorted {
				if o.ParentID == "" && subset(o.ResourceGroups, r.ResourceGroups) {
					sum, names = sum.Add(o.Min), append(names, o.ID)
				}
			}
			c := capacityOf(r.ResourceGroups)
			for _, t := range sum.Types() {
				if !sum[t].LessEq(c[t]) {
					return FieldErrorf("min", "guarantees %s for gpuType %q together with %v exceed what resource groups %v hold (%s): a guarantee must be backed", sum[t], t, names, r.ResourceGroups, c[t])
				}
			}
		}
	} else {
		for _, t := range q.Max.Types() {
			if pm, ok := parent.Max[t]; ok && !q.Max[t].LessEq(pm) {
				return FieldErrorf("max", "%s for gpuType %q is above the parent %s's max %s", q.Max[t], t, parent.ID, pm)
			}
		}
		if err := childMinsFit(parent, children(parent.ID), "min", "the parent "+parent.ID+"'s min"); err != nil {
			return err
		}
	}
	// Changing q must not strand its own children.
	kids := children(q.ID)
	for _, c := range kids {
		for _, t := range c.Max.Types() {
			if m, ok := q.Max[t]; ok && !c.Max[t].LessEq(m) {
				return FieldErrorf("max", "%s for gpuType %q is below child %s's max %s", m, t, c.ID, c.Max[t])
			}
		}
	}
	return childMinsFit(q, kids, "min", "this quota's min")
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// childMinsFit checks that the children's guarantees together fit in the
// parent's guarantee, for every gpuType.
func childMinsFit(parent *Quota, kids []*Quota, field, what string) error {
	sum := resource.List{}
	for _, c := range kids {
		sum = sum.Add(c.Min)
	}
	for _, t := range sum.Types() {
		if !sum[t].LessEq(parent.Min[t]) {
			return FieldErrorf(field, "children of %s guarantee %s for gpuType %q together, more than %s %s", parent.ID, sum[t], t, what, parent.Min[t])
		}
	}
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
