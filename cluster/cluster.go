// Package cluster turns what the store holds (nodes, quotas, live jobs) into
// the scheduler's snapshot. The API (quota usage, dry runs) and the
// dispatcher both build their view here, so they never disagree on what is
// running and what is queued.
package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"atrium"
	"atrium/scheduler"
)

// DefaultPolicy is the scheduling policy the server runs with, shared by the
// loop and the API's dry runs so both give the same answer: jobs waiting in
// an Intelligent queue gain one priority level per 30 minutes waited.
var DefaultPolicy = scheduler.Policy{AgingInterval: 30 * time.Minute}

// Store is what the view is read from.
type Store interface {
	FindNodes(ctx context.Context, groupID string) ([]*atrium.Node, error)
	FindQuotas(ctx context.Context, f atrium.QuotaFilter) ([]*atrium.Quota, error)
	FindResourceGroups(ctx context.Context) ([]*atrium.ResourceGroup, error)
	FindJobs(ctx context.Context, f atrium.JobFilter) ([]*atrium.Job, int, error)
}

// View is the cluster at one moment.
type View struct {
	Snapshot scheduler.Snapshot
	Nodes    map[string]*atrium.Node
	Quotas   map[string]*atrium.Quota
	Groups   map[string]*atrium.ResourceGroup
	// Jobs are the live jobs by id: those holding capacity (Running in the
	// snapshot) and those queued.
	Jobs map[string]*atrium.Job
}

// HoldsCapacity reports whether a job in status keeps its placement: from
// admission until its pods are gone.
func HoldsCapacity(status string) bool {
	switch status {
	case atrium.JobEnvPreparing, atrium.JobRunning, atrium.JobStopping, atrium.JobRestarting:
		return true
	}
	return false
}

// Load reads the view. Live jobs are only read when withJobs is set (quota
// usage pages want them; a cheap capacity check does not).
func Load(ctx context.Context, st Store, now time.Time, policy scheduler.Policy) (*View, error) {
	v := &View{Snapshot: scheduler.Snapshot{Now: now, Policy: policy}, Nodes: map[string]*atrium.Node{},
		Quotas: map[string]*atrium.Quota{}, Groups: map[string]*atrium.ResourceGroup{}, Jobs: map[string]*atrium.Job{}}
	nodes, err := st.FindNodes(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		v.Nodes[n.Name] = n
		v.Snapshot.Nodes = append(v.Snapshot.Nodes, Node(n))
	}
	quotas, err := st.FindQuotas(ctx, atrium.QuotaFilter{})
	if err != nil {
		return nil, err
	}
	for _, q := range quotas {
		v.Quotas[q.ID] = q
		v.Snapshot.Quotas = append(v.Snapshot.Quotas, Quota(q))
	}
	groups, err := st.FindResourceGroups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		v.Groups[g.ID] = g
	}
	jobs, _, err := st.FindJobs(ctx, atrium.JobFilter{Live: true})
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.Kind == atrium.KindSQL {
			continue // SQL jobs take no cluster capacity; package sqlrunner runs them
		}
		w, err := Workload(j)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", j.ID, err)
		}
		switch {
		case HoldsCapacity(j.Status):
			v.Jobs[j.ID] = j
			v.Snapshot.Running = append(v.Snapshot.Running, w)
		case j.Status == atrium.JobQueuing:
			v.Jobs[j.ID] = j
			v.Snapshot.Queued = append(v.Snapshot.Queued, w)
		}
	}
	return v, nil
}

// Node converts a store node.
func Node(n *atrium.Node) scheduler.Node {
	return scheduler.Node{Name: n.Name, Group: n.GroupID, GPUType: n.GPUType, Capacity: n.Capacity, State: scheduler.NodeState(n.State)}
}

// Quota converts a store quota.
func Quota(q *atrium.Quota) scheduler.Quota {
	return scheduler.Quota{ID: q.ID, Parent: q.ParentID, ResourceGroups: q.ResourceGroups,
		Min: q.Min, Max: q.Max, LendingLimit: q.LendingLimit, Strategy: scheduler.QueueStrategy(q.QueueStrategy),
		PreemptorPriority: q.PreemptorPriority, PreemptedPriority: q.PreemptedPriority, MinRuntime: time.Duration(q.MinRuntime)}
}

// Workload converts a job: one pod set per role, and for a job holding
// capacity the placements of its pods.
func Workload(j *atrium.Job) (scheduler.Workload, error) {
	w := scheduler.Workload{ID: j.ID, Kind: j.Kind, Quota: j.QuotaID, Priority: j.Priority, Submitted: j.SubmittedAt}
	reqs, err := j.Request()
	if err != nil {
		return w, err
	}
	for _, r := range reqs {
		w.PodSets = append(w.PodSets, scheduler.PodSet{Name: r.Role, Count: r.Count, Request: r.Vector, GPUType: r.GPUType})
	}
	if HoldsCapacity(j.Status) {
		idx := map[string]int{}
		for _, p := range j.Pods {
			w.Placements = append(w.Placements, scheduler.Placement{PodSet: p.Role, Pod: idx[p.Role], Node: p.Node})
			idx[p.Role]++
		}
		if j.StartedAt != nil {
			w.Started = *j.StartedAt
		}
	}
	return w, nil
}

// PodName names the i-th pod of a role: master-0, worker-2.
func PodName(role string, i int) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(role), i)
}

// FillCPUOnlyType gives roles asking for no GPU and no gpuType the gpuType
// of the quota's nodes when its resource groups have no Ready CPU-only
// node. The scheduler places and charges pods per gpuType, so such pods
// would otherwise wait forever on a GPU-only cluster (a laptop declared
// with --local-capacity gpu=4,gpuType=T4). It returns the gpuType chosen,
// "" when none was needed.
func FillCPUOnlyType(ctx context.Context, st Store, quotaID string, spec *atrium.JobSpec) (string, error) {
	needs := false
	for _, r := range spec.JobSpecs {
		needs = needs || (r.Resources.GPU == 0 && r.Resources.GPUType == "")
	}
	if !needs {
		return "", nil
	}
	groups, err := rootGroups(ctx, st, quotaID)
	if err != nil {
		return "", err
	}
	cpu := map[string]int64{}
	for _, g := range groups {
		nodes, err := st.FindNodes(ctx, g)
		if err != nil {
			return "", err
		}
		for _, n := range nodes {
			if n.State == atrium.NodeReady {
				if n.GPUType == "" {
					return "", nil
				}
				cpu[n.GPUType] += n.Capacity.MilliCPU
			}
		}
	}
	best := ""
	for t, c := range cpu {
		if best == "" || c > cpu[best] || (c == cpu[best] && t < best) {
			best = t
		}
	}
	if best == "" {
		return "", nil
	}
	for i := range spec.JobSpecs {
		if r := &spec.JobSpecs[i].Resources; r.GPU == 0 && r.GPUType == "" {
			r.GPUType = best
		}
	}
	return best, nil
}

// rootGroups returns the resource group ids the root of quotaID's tree
// draws on: where its jobs may run. None for an unknown quota (the
// scheduler explains those).
func rootGroups(ctx context.Context, st Store, quotaID string) ([]string, error) {
	quotas, err := st.FindQuotas(ctx, atrium.QuotaFilter{})
	if err != nil {
		return nil, err
	}
	byID := map[string]*atrium.Quota{}
	for _, q := range quotas {
		byID[q.ID] = q
	}
	root := byID[quotaID]
	for i := 0; root != nil && root.ParentID != "" && i < len(quotas); i++ {
		root = byID[root.ParentID]
	}
	if root == nil {
		return nil, nil
	}
	return root.ResourceGroups, nil
}
