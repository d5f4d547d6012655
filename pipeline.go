package atrium

import (
	"context"
	"time"
)

// ID prefixes of pipelines and their runs.
const (
	PrefixPipeline    = "pipeline-"
	PrefixPipelineRun = "run-"
)

// Pipeline run statuses: Initialized → Running → Succeeded |
// Failed; Terminating → Terminated from a live status. A rerun moves a
// Failed or Terminated run back to Running.
const (
	RunInitialized = "Initialized"
	RunRunning     = "Running"
	RunSucceeded   = "Succeeded"
	RunFailed      = "Failed"
	RunTerminating = "Terminating"
	RunTerminated  = "Terminated"
)

// RunFinished reports whether a run status is terminal.
func RunFinished(status string) bool {
	return status == RunSucceeded || status == RunFailed || status == RunTerminated
}

// Node statuses: Pending until its inputs are ready; Queuing and Running
// follow its job; then Succeeded, Failed, Skipped (an upstream node failed)
// or Terminated (the run was terminated).
const (
	NodePending    = "Pending"
	NodeQueuing    = "Queuing"
	NodeRunning    = "Running"
	NodeSucceeded  = "Succeeded"
	NodeFailed     = "Failed"
	NodeSkipped    = "Skipped"
	NodeTerminated = "Terminated"
)

// NodeFinished reports whether a node status is terminal.
func NodeFinished(status string) bool {
	return status == NodeSucceeded || status == NodeFailed || status == NodeSkipped || status == NodeTerminated
}

// Reason codes of pipeline runs.
const (
	ReasonRunCreated    = "Created"
	ReasonRunStarted    = "Started"
	ReasonRunCompleted  = "Completed"
	ReasonNodeFailed    = "NodeFailed"
	ReasonTerminated    = "TerminatedByUser"
	ReasonRerun         = "Rerun"
	ReasonUpstreamFail  = "UpstreamFailed"
	ReasonSubmitFailure = "SubmitFailed"
)

// EventPipelineNodeChanged is the per-node status event of a run.
const EventPipelineNodeChanged = "pipeline.run.node.status.changed"

// Pipeline is a versioned DAG definition (pipeline-…). Spec is the spec of
// Version (the latest unless a version was asked for).
type Pipeline struct {
	ID            string       `json:"pipelineId"`
	WorkspaceID   string       `json:"workspaceId"`
	Name          string       `json:"name"`
	Description   string       `json:"description"`
	Creator       string       `json:"creator"`
	CreatorName   string       `json:"creatorName"`
	Accessibility string       `json:"accessibility"`
	Version       int          `json:"version"`
	Spec          PipelineSpec `json:"spec"`
	CreatedAt     time.Time    `json:"createdAt"`
	UpdatedAt     time.Time    `json:"updatedAt"`
}

// PipelineFilter selects pipelines of a workspace.
type PipelineFilter struct {
	WorkspaceID string
	Name        string // exact name
	// VisibleTo limits to the user's own pipelines and PUBLIC ones.
	VisibleTo string
	Offset    int
	Limit     int
}

// PipelineNode is the state of one node of a run.
type PipelineNode struct {
	Name          string     `json:"name"`
	Status        string     `json:"status"`
	ReasonMessage string     `json:"reasonMessage,omitempty"`
	Optional      bool       `json:"optional,omitempty"`
	JobID         string     `json:"jobId,omitempty"`
	JobKind       string     `json:"jobKind,omitempty"`
	StartedAt     *time.Time `json:"startedAt,omitempty"`
	FinishedAt    *time.Time `json:"finishedAt,omitempty"`
	// Outputs maps each output port to its path, once the node succeeded.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Attempt counts the node's jobs; PreviousJobIDs are those of earlier
	// attempts, replaced by a rerun.
	Attempt        int      `json:"attempt"`
	PreviousJobIDs []string `json:"previousJobIds,omitempty"`
}

// PipelineRun is one execution of a pipeline version (run-…). Spec and
// Components are snapshots taken at creation, so later edits of the
// pipeline or its algorithms do not change a run.
type PipelineRun struct {
	ID              string                        `json:"runId"`
	WorkspaceID     string                        `json:"workspaceId"`
	PipelineID      string                        `json:"pipelineId"`
	PipelineVersion int                           `json:"pipelineVersion"`
	DisplayName     string                        `json:"displayName"`
	Creator         string                        `json:"creator"`
	CreatorName     string                        `json:"creatorName"`
	Accessibility   string                        `json:"accessibility"`
	Arguments       map[string]any                `json:"arguments"`
	Spec            PipelineSpec                  `json:"spec"`
	Components      map[string]*PipelineComponent `json:"-"`
	Status          string                        `json:"status"`
	ReasonCode      string                        `json:"reasonCode"`
	ReasonMessage   string                        `json:"reasonMessage"`
	StatusHistory   []StatusChange                `json:"statusHistory"`
	Nodes           []PipelineNode                `json:"nodes"`
	Attempt         int                           `json:"attempt"`
	CreatedAt       time.Time                     `json:"createdAt"`
	StartedAt       *time.Time                    `json:"startedAt,omitempty"`
	FinishedAt      *time.Time                    `json:"finishedAt,omitempty"`
	UpdatedAt       time.Time                     `json:"updatedAt"`
	Version         int64                         `json:"version"`
}

// Node returns the node named name, or nil.
func (r *PipelineRun) Node(name string) *PipelineNode {
	for i := range r.Nodes {
		if r.Nodes[i].Name == name {
			return &r.Nodes[i]
		}
	}
	return nil
}

// PipelineRunFilter selects runs.
type PipelineRunFilter struct {
	WorkspaceID string
	PipelineID  string
	Statuses    []string
	Live        bool // only runs not finished
	VisibleTo   string
	Offset      int
	Limit       int
}

// PipelineRunUpdate changes a run; nil fields stay. Nodes replaces the node
// list; the store writes a node event for every node whose status changed
// and a run event when the status changed. Jobs are created in the same
// transaction, so a node's job exists exactly when the run records it.
type PipelineRunUpdate struct {
	Status        *string
	ReasonCode    *string
	ReasonMessage *string
	Nodes         []PipelineNode
	Arguments     map[string]any
	Attempt       *int
	StartedAt     **time.Time
	FinishedAt    **time.Time
	Jobs          []*Job
}

// PipelineService keeps pipelines, their versions and runs.
type PipelineService interface {
	// CreatePipeline inserts p as version 1; ECONFLICT if the workspace has
	// a pipeline of that name.
	CreatePipeline(ctx context.Context, p *Pipeline) error
	// FindPipelineByID returns the latest version, or version when > 0;
	// ENOTFOUND if absent.
	FindPipelineByID(ctx context.Context, id string, version int) (*Pipeline, error)
	// FindPipelineVersions lists a pipeline's versions, newest first, each
	// as the pipeline with that version's spec and creation time;
	// ENOTFOUND if absent.
	FindPipelineVersions(ctx context.Context, id string) ([]*Pipeline, error)
	// FindPipelines returns a page, by name, and the total.
	FindPipelines(ctx context.Context, f PipelineFilter) ([]*Pipeline, int, error)
	// UpdatePipeline saves spec as the next version (and the description);
	// ENOTFOUND if absent.
	UpdatePipeline(ctx context.Context, id, description string, spec PipelineSpec) (*Pipeline, error)
	// DeletePipeline removes a pipeline and its versions (runs keep their
	// snapshot); ENOTFOUND if absent.
	DeletePipeline(ctx context.Context, id string) error

	// CreatePipelineRun inserts r and its first status event.
	CreatePipelineRun(ctx context.Context, r *PipelineRun) error
	// FindPipelineRunByID returns ENOTFOUND if absent.
	FindPipelineRunByID(ctx context.Context, id string) (*PipelineRun, error)
	// FindPipelineRuns returns a page, newest first, and the total.
	FindPipelineRuns(ctx context.Context, f PipelineRunFilter) ([]*PipelineRun, int, error)
	// UpdatePipelineRun applies upd if the run is still at version
	// (ECONFLICT otherwise), with its events and jobs.
	UpdatePipelineRun(ctx context.Context, id string, version int64, upd PipelineRunUpdate) (*PipelineRun, error)
	// DeletePipelineRun removes a finished run; ECONFLICT while it is live.
	DeletePipelineRun(ctx context.Context, id string) error
}
