// Package scheduler is Atrium's scheduling core: quotas arranged in
// a tree, per-quota queues, gang placement on nodes and preemption, as a pure
// computation over a cluster snapshot.
//
// Schedule(snapshot) → Decisions is the whole contract: given the nodes, the
// quota tree, the running and queued workloads, the policy and the time, it
// says which queued workloads to admit (with a node for every pod), which
// running workloads to preempt for them, and, for every workload left queued,
// a structured Reason and its position in its queue. There is no I/O, no
// clock (Snapshot.Now is the time) and no randomness: equal input gives equal
// decisions.
//
// State is the same computation kept in memory for the steady state: build it
// once with New, feed it events (Submit, Remove, SetNode) and call Refresh,
// which only re-evaluates the parts of the cluster those events touched.
// WhatIf answers "would this workload be admitted now, where, preempting
// what" from a State without changing it. Usage reports min, max, allocated,
// used, requested, borrowed and lent per quota and gpuType.
//
// Identities are plain strings chosen by the caller: Node.Name, resource
// group ids (Node.Group, Quota.ResourceGroups), Quota.ID and Workload.ID.
//
// Resource accounting is per gpuType: every pod set names a gpuType ("" for
// CPU-only) and is charged to that gpuType's vector in the quota tree; its
// pods run only on nodes of exactly that gpuType. A CPU-only pod therefore
// runs on CPU-only nodes; a pod that wants spare CPU on GPU nodes names the
// gpuType with gpu: 0 and is charged to that gpuType. This keeps per-gpuType
// quota accounting exact.
package scheduler

import (
	"time"

	"atrium/resource"
)

// NodeState is a node's readiness; only Ready nodes accept new pods.
type NodeState string

// Node states.
const (
	NodeReady    NodeState = "Ready"
	NodeNotReady NodeState = "NotReady"
	NodeDraining NodeState = "Draining"
)

// Node is a machine in a resource group. Pods already placed on a node that
// is NotReady or Draining keep their capacity until they are removed.
type Node struct {
	Name     string          // unique in the snapshot
	Group    string          // resource group id (rg-…)
	GPUType  string          // "" for CPU-only nodes
	Capacity resource.Vector // allocatable cpu, memory and gpu
	State    NodeState       // "" counts as Ready
}

// QueueStrategy decides what a blocked workload does to the ones behind it in
// its quota's queue.
type QueueStrategy string

// Queueing strategies.
const (
	// StrictFIFO: a workload that cannot be admitted blocks every workload
	// behind it in its queue.
	StrictFIFO QueueStrategy = "StrictFIFO"
	// RoundRobin: a blocked workload is skipped; the ones behind it may run.
	RoundRobin QueueStrategy = "RoundRobin"
	// Intelligent: strict FIFO among workloads whose effective priority is at
	// least Policy.StrictPriority (7), round-robin below, and priority aging
	// (Policy.AgingInterval).
	Intelligent QueueStrategy = "Intelligent"
)

// Quota is a node of the quota tree. Resources are per gpuType ("" is the
// CPU-only capacity).
//
// A root quota (Parent "") draws on the Ready nodes of its ResourceGroups; a
// child draws on its parent. Min is guaranteed: siblings may borrow unused
// Min, but the quota reclaims it by preemption when it needs it. Max caps the
// quota (its whole subtree); a gpuType missing from Max is not capped beyond
// what the parent allows. LendingLimit caps how much of the unused Min may be
// lent to siblings; a gpuType missing from it lends all of its unused Min.
type Quota struct {
	ID             string
	Parent         string   // "" for a root
	ResourceGroups []string // root only: the resource groups it draws on
	Min            resource.List
	Max            resource.List
	LendingLimit   resource.List
	Strategy       QueueStrategy // "" means RoundRobin
	// In-quota priority preemption: a workload of priority ≥
	// PreemptorPriority may preempt workloads of this quota whose priority
	// is ≤ PreemptedPriority and lower than its own. 0 disables it.
	PreemptorPriority int
	PreemptedPriority int
	// MinRuntime protects this quota's workloads from preemption until they
	// have run this long (on top of Policy.MinRuntime, the longer wins).
	MinRuntime time.Duration
}

// PodSet is a group of identical pods of a workload (one jobSpecs entry).
type PodSet struct {
	Name    string          // e.g. "Master", "Worker"
	Count   int             // pods in the set, ≥ 1
	Request resource.Vector // per pod
	GPUType string          // "" for CPU-only
}

// Placement puts one pod of a workload on a node.
type Placement struct {
	PodSet string // PodSet.Name
	Pod    int    // index within the pod set, from 0
	Node   string // Node.Name
}

// Workload is a job, DSW instance or pipeline step as the scheduler sees it.
// Queued workloads are ordered by priority (1–9, 9 highest), then Submitted,
// then ID. Running workloads also carry their Placements (one per pod) and
// Started.
type Workload struct {
	ID        string
	Kind      string // DLC, DSW, …; informational
	Quota     string // Quota.ID
	Priority  int    // 1–9; values outside are clamped
	Submitted time.Time
	PodSets   []PodSet

	Placements []Placement   // running only
	Started    time.Time     // running only
	Used       resource.List // running only, optional: measured usage; nil means "as allocated"
}

// ReclaimMode says which borrowers a quota below its Min may preempt.
type ReclaimMode string

// Reclaim modes.
const (
	// ReclaimLowerPriority (the default): only borrowers of lower
	// priority than the reclaiming workload.
	ReclaimLowerPriority ReclaimMode = "LowerPriority"
	// ReclaimAny: any borrower, whatever its priority.
	ReclaimAny ReclaimMode = "Any"
	// ReclaimNever: borrowed capacity is returned only when borrowers finish.
	ReclaimNever ReclaimMode = "Never"
)

// Policy holds the cluster-wide scheduling knobs. The zero value is valid.
type Policy struct {
	// AgingInterval raises the effective priority of a workload in an
	// Intelligent queue by one per interval waited (up to 9). 0 disables aging.
	AgingInterval time.Duration
	// MinRuntime protects a running workload from preemption until it has
	// run this long. 0 means no protection.
	MinRuntime time.Duration
	// Reclaim selects the borrowers a quota below its Min may preempt;
	// "" means ReclaimLowerPriority.
	Reclaim ReclaimMode
	// StrictPriority is the effective priority from which an Intelligent
	// queue is strict FIFO; 0 means 7.
	StrictPriority int
}

// Snapshot is the complete input of one scheduling decision.
type Snapshot struct {
	Nodes   []Node
	Quotas  []Quota
	Running []Workload
	Queued  []Workload
	Policy  Policy
	Now     time.Time
}

// Decisions is the output of a scheduling pass.
type Decisions struct {
	Admitted  []Admission  // in admission order
	Preempted []Preemption // running workloads to stop and re-queue
	Queued    []Pending    // every workload left queued (by Schedule and Pass), in evaluation order
}

// Admission admits a workload with a node for each of its pods.
type Admission struct {
	Workload   string
	Placements []Placement // one per pod, pod sets in the workload's order
	Preempts   []string    // the workloads preempted to make room, if any
}

// PreemptReason says why a workload was preempted.
type PreemptReason string

// Preemption reasons.
const (
	// PreemptReclaim: its quota was borrowing and a quota below its Min took
	// the capacity back.
	PreemptReclaim PreemptReason = "Reclaim"
	// PreemptPriority: a higher-priority workload of the same quota needed it.
	PreemptPriority PreemptReason = "Priority"
)

// Preemption stops a running workload; it returns to the queue (
// Restarting → Queuing with reason Preempted).
type Preemption struct {
	Workload string
	By       string // the admitted workload that needed the room
	Reason   PreemptReason
}

// Pending is a workload left queued, why, and where it stands.
type Pending struct {
	Workload string
	Reason   Reason
	Position int // 1-based position in its quota's queue, at the start of the pass
}
