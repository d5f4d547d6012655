package atrium

import (
	"context"
	"time"
)

// Allocation is one pod's hold on resources for one attempt: opened when
// the gang is admitted, closed when the attempt ends (finished, stopped,
// preempted or restarted), so preempted and restarted time counts too.
type Allocation struct {
	ID          int64      `json:"-"`
	JobID       string     `json:"jobId"`
	WorkspaceID string     `json:"workspaceId"`
	QuotaID     string     `json:"quotaId"`
	UserID      string     `json:"userId"`
	UserName    string     `json:"userName"`
	JobKind     string     `json:"jobKind"`
	JobType     string     `json:"jobType"`
	Attempt     int        `json:"attempt"`
	Pod         string     `json:"pod"`
	Node        string     `json:"node"`
	GPUType     string     `json:"gpuType"`
	MilliCPU    int64      `json:"milliCpu"`
	Memory      int64      `json:"memory"`
	GPU         int64      `json:"gpu"`
	StartedAt   time.Time  `json:"startedAt"`
	EndedAt     *time.Time `json:"endedAt,omitempty"`
}

// AllocationFilter selects allocations overlapping [From, To).
type AllocationFilter struct {
	WorkspaceID string // "" for all workspaces
	From, To    time.Time
}

// UsageService reads the allocation ledger; allocations are written with
// job updates (JobUpdate.OpenAllocations, CloseAllocations).
type UsageService interface {
	// FindAllocations lists allocations that overlap the window, oldest first.
	FindAllocations(ctx context.Context, f AllocationFilter) ([]*Allocation, error)
}
