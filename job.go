package atrium

import (
	"context"
	"time"

	"atrium/resource"
)

// ID prefixes of jobs.
const (
	PrefixDLCJob = "dlc-"
	PrefixDSW    = "dsw-"
	PrefixSQLJob = "sql-"
)

// Job statuses. Creating → Queuing → EnvPreparing → Running →
// Succeeded | Failed; Stopping → Stopped from any live state; Restarting
// (preempted, or a pod restarted by policy) returns to Queuing.
const (
	JobCreating     = "Creating"
	JobQueuing      = "Queuing"
	JobEnvPreparing = "EnvPreparing"
	JobRunning      = "Running"
	JobSucceeded    = "Succeeded"
	JobFailed       = "Failed"
	JobStopping     = "Stopping"
	JobStopped      = "Stopped"
	JobRestarting   = "Restarting"
)

// JobFinished reports whether status is terminal.
func JobFinished(status string) bool {
	return status == JobSucceeded || status == JobFailed || status == JobStopped
}

// Reason codes a job's status carries besides the scheduler's queue reasons.
const (
	ReasonSubmitted              = "Submitted"
	ReasonAdmitted               = "Admitted"
	ReasonStarted                = "Started"
	ReasonCompleted              = "Completed"
	ReasonPodFailed              = "PodFailed"
	ReasonStoppedByUser          = "StoppedByUser"
	ReasonMaxRunningTimeExceeded = "MaxRunningTimeExceeded"
	ReasonQueueTimeout           = "QueueTimeout"
	ReasonPreempted              = "Preempted"
	ReasonExecutorLost           = "ExecutorLost"
	ReasonRestartedByPolicy      = "RestartedByPolicy"
)

// Accessibility of jobs and assets.
const (
	AccessPrivate = "PRIVATE"
	AccessPublic  = "PUBLIC"
)

// StatusChange is one entry of a job's statusHistory.
type StatusChange struct {
	Status        string    `json:"status"`
	ReasonCode    string    `json:"reasonCode"`
	ReasonMessage string    `json:"reasonMessage"`
	Time          time.Time `json:"time"`
}

// Pod statuses.
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodStopped   = "Stopped"
)

// Pod is one process (or Slurm task) of a job's gang.
type Pod struct {
	Name       string     `json:"name"` // e.g. worker-2
	Role       string     `json:"role"` // the jobSpecs type: Master, Worker…
	Rank       int        `json:"rank"` // 0…WORLD_SIZE-1, Master/Chief/Head first
	Status     string     `json:"status"`
	Node       string     `json:"node,omitempty"`
	GPUs       []int      `json:"gpus"` // device indices on the node
	ExitCode   *int       `json:"exitCode,omitempty"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// Endpoint is host:port where a DSW pod's server listens (the proxy
	// forwards there); chosen at admission.
	Endpoint string `json:"endpoint,omitempty"`
}

// Job is a DLC training job or a DSW instance as Atrium keeps it.
type Job struct {
	ID             string   `json:"jobId"`
	WorkspaceID    string   `json:"workspaceId"`
	Kind           string   `json:"kind"` // KindDLC or KindDSW
	DisplayName    string   `json:"displayName"`
	Description    string   `json:"description"`
	JobType        string   `json:"jobType"`
	Creator        string   `json:"creator"` // user id
	CreatorName    string   `json:"creatorName"`
	QuotaID        string   `json:"quotaId"`
	Priority       int      `json:"priority"`
	Accessibility  string   `json:"accessibility"`
	MaxRunningTime Duration `json:"maxRunningTime"`
	Spec           JobSpec  `json:"spec"`

	Status        string         `json:"status"`
	ReasonCode    string         `json:"reasonCode"`
	ReasonMessage string         `json:"reasonMessage"`
	StatusHistory []StatusChange `json:"statusHistory"`
	// QueuePosition is the 1-based place in the quota's queue while Queuing.
	QueuePosition int   `json:"queuePosition,omitempty"`
	Pods          []Pod `json:"pods"`
	// Attempt counts admissions: 1 for the first run, +1 after each
	// preemption or restart.
	Attempt int `json:"attempt"`
	// ResourceGroupID and Backend say where the current attempt runs.
	ResourceGroupID string `json:"resourceGroupId,omitempty"`
	Backend         string `json:"backend,omitempty"`
	// ExecutorHandle is the executor's opaque reference to the running
	// attempt (process ids, Slurm job id); never shown to users.
	ExecutorHandle string `json:"-"`

	SubmittedAt time.Time  `json:"submittedAt"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`
	// LastActiveAt is when a DSW instance was last used through its proxy
	// (recorded at most once a minute); idle auto-stop counts from it.
	LastActiveAt *time.Time `json:"lastActiveAt,omitempty"`
	UpdatedAt    time.Time  `json:"updatedAt"`
	// Version increases with every write; updates name the version they
	// read so concurrent writers (API, scheduling loop) never overwrite
	// each other.
	Version int64 `json:"version"`
}

// Request returns the job's gang as pod sets per role: count × per-pod
// vector and gpuType, parsed from the validated spec.
func (j *Job) Request() ([]RoleRequest, error) {
	out := make([]RoleRequest, 0, len(j.Spec.JobSpecs))
	for i, r := range j.Spec.JobSpecs {
		v, err := r.Resources.Vector("jobSpecs[" + itoa(i) + "].resources")
		if err != nil {
			return nil, err
		}
		out = append(out, RoleRequest{Role: r.Type, Count: r.PodCount, Vector: v, GPUType: r.Resources.GPUType})
	}
	return out, nil
}

// RoleRequest is what one role of a job asks for.
type RoleRequest struct {
	Role    string
	Count   int
	Vector  resource.Vector
	GPUType string
}

// JobEvent is a line of a job's own event list (GET …/jobs/{id}/events):
// what happened to it, for people reading why.
type JobEvent struct {
	JobID   string    `json:"jobId"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // Normal or Warning
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
}

// JobFilter selects jobs.
type JobFilter struct {
	WorkspaceID string
	Kind        string
	IDs         []string
	Statuses    []string
	Creator     string
	JobType     string
	QuotaID     string
	// VisibleTo limits to the user's own jobs and PUBLIC ones; "" means no limit.
	VisibleTo string
	Live      bool // only not-finished jobs
	Offset    int
	Limit     int
}

// JobUpdate is a change the API or the scheduling loop makes to a job.
// Fields left nil stay. A status change appends to statusHistory and, with
// Event, to the job's events, in one transaction.
type JobUpdate struct {
	Priority        *int
	Accessibility   *string
	Description     *string
	Status          *string
	ReasonCode      *string
	ReasonMessage   *string
	QueuePosition   *int
	Pods            *[]Pod
	Attempt         *int
	ResourceGroupID *string
	Backend         *string
	ExecutorHandle  *string
	StartedAt       **time.Time
	FinishedAt      **time.Time
	LastActiveAt    *time.Time // set only; never cleared
	// Spec replaces the spec; only the SQL runner uses it, to record a SQL
	// job's result (Spec.SQL.Result).
	Spec   *JobSpec
	Events []JobEvent
	// OpenAllocations are inserted (JobID, WorkspaceID filled from the job
	// when empty); CloseAllocations ends every open allocation of the job at
	// the update's time. Both in the update's transaction.
	OpenAllocations  []Allocation
	CloseAllocations bool
}

// JobService keeps jobs, their history and their events.
type JobService interface {
	// CreateJob inserts j with status Creating→Queuing history set by the caller.
	CreateJob(ctx context.Context, j *Job) error
	// FindJobByID returns ENOTFOUND if absent.
	FindJobByID(ctx context.Context, id string) (*Job, error)
	// FindJobs returns a page, newest first, and the total.
	FindJobs(ctx context.Context, f JobFilter) ([]*Job, int, error)
	// UpdateJob applies upd if the job is still at version; ECONFLICT when
	// someone else changed it since (re-read and retry).
	UpdateJob(ctx context.Context, id string, version int64, upd JobUpdate) (*Job, error)
	// DeleteJob removes a finished job; ECONFLICT while it is live.
	DeleteJob(ctx context.Context, id string) error
	// FindJobEvents lists a job's events, oldest first.
	FindJobEvents(ctx context.Context, id string) ([]*JobEvent, error)
}
