package scheduler

import (
	"fmt"

	"atrium/resource"
)

// ReasonCode is the machine-readable cause of a workload staying queued.
type ReasonCode string

// Reason codes.
const (
	// QuotaExhausted: the quota (or an ancestor, named in Reason.Quota) has
	// less headroom than the workload requests, counting what siblings may
	// not lend.
	QuotaExhausted ReasonCode = "QuotaExhausted"
	// ExceedsQuotaMax: the request alone is larger than Max of the quota or
	// an ancestor; it can never be admitted there.
	ExceedsQuotaMax ReasonCode = "ExceedsQuotaMax"
	// InsufficientNodeCapacity: quota allows it but the Ready nodes of the
	// resource groups cannot hold the whole gang now.
	InsufficientNodeCapacity ReasonCode = "InsufficientNodeCapacity"
	// NoMatchingGPUType: no Ready node of the requested gpuType in the
	// quota's resource groups.
	NoMatchingGPUType ReasonCode = "NoMatchingGPUType"
	// WaitingBehindHigherPriority: an Intelligent queue is held by a blocked
	// workload of higher priority (Reason.Blocker).
	WaitingBehindHigherPriority ReasonCode = "WaitingBehindHigherPriority"
	// StrictFIFOBlocked: the queue is strict FIFO and the workload ahead
	// (Reason.Blocker) cannot be admitted.
	StrictFIFOBlocked ReasonCode = "StrictFIFOBlocked"
	// Preempted: the workload was preempted and has not been evaluated since.
	Preempted ReasonCode = "Preempted"
	// NotEvaluated: submitted since the last pass.
	NotEvaluated ReasonCode = "NotEvaluated"
	// InvalidWorkload: the workload cannot be scheduled as written
	// (Reason.Detail says why: unknown quota, no pods, …).
	InvalidWorkload ReasonCode = "InvalidWorkload"
)

// Reason is why a workload is still queued, with the numbers behind it.
// Requested and Available are for GPUType: the whole request of that gpuType
// against the quota headroom for quota reasons; the gang's request against
// the free capacity of matching Ready nodes for node reasons.
type Reason struct {
	Code      ReasonCode
	Quota     string          // the quota whose limit binds (may be an ancestor)
	GPUType   string          // the gpuType that does not fit
	Requested resource.Vector // what the workload needs of GPUType
	Available resource.Vector // what is available to it
	PodSet    string          // node reasons: the first pod set that could not be placed
	Blocker   string          // StrictFIFOBlocked, WaitingBehindHigherPriority: the workload ahead; Preempted: the preemptor
	Detail    string          // extra detail: why a workload is invalid, which limit binds, Preempted: Reclaim or Priority
}

// Message renders the reason for people; it is built on demand so the
// scheduling loop does not format strings.
func (r Reason) Message() string {
	gt := r.GPUType
	if gt == "" {
		gt = "cpu-only"
	}
	switch r.Code {
	case QuotaExhausted:
		return fmt.Sprintf("quota %s has %s available for gpuType %s; requested %s", r.Quota, r.Available, gt, r.Requested)
	case ExceedsQuotaMax:
		return fmt.Sprintf("request %s for gpuType %s exceeds max %s of quota %s", r.Requested, gt, r.Available, r.Quota)
	case InsufficientNodeCapacity:
		s := fmt.Sprintf("nodes of gpuType %s cannot hold all pods: requested %s, free %s", gt, r.Requested, r.Available)
		if r.PodSet != "" {
			s += " (pod set " + r.PodSet + " did not fit)"
		}
		return s
	case NoMatchingGPUType:
		return fmt.Sprintf("no Ready node of gpuType %s in the resource groups of quota %s", gt, r.Quota)
	case WaitingBehindHigherPriority:
		return fmt.Sprintf("waiting behind higher-priority workload %s", r.Blocker)
	case StrictFIFOBlocked:
		return fmt.Sprintf("queue is strict FIFO and %s ahead cannot be admitted", r.Blocker)
	case Preempted:
		return "preempted; waiting to be scheduled again"
	case NotEvaluated:
		return "not evaluated yet"
	case InvalidWorkload:
		return "invalid workload: " + r.Detail
	}
	return string(r.Code)
}
