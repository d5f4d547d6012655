package atrium

import (
	"context"
	"encoding/json"
	"time"
)

// Event types.
const (
	EventJobStatusChanged      = "dlc.job.status.changed"
	EventJobTimeout            = "dlc.job.timeout"
	EventJobPreempted          = "dlc.job.preempted"
	EventDSWStatusChanged      = "dsw.instance.status.changed"
	EventPipelineRunChanged    = "pipeline.run.status.changed"
	EventModelApprovalChanged  = "model.version.approval.changed"
	EventWorkspaceMemberChange = "workspace.member.changed"
)

// Event is a CloudEvents-shaped record of a state change, written to the
// outbox in the same transaction as the change it describes.
type Event struct {
	ID          string          `json:"id"`
	Seq         int64           `json:"-"` // outbox order
	Type        string          `json:"type"`
	Source      string          `json:"source"`  // e.g. /workspaces/ws-…/models/model-…
	Subject     string          `json:"subject"` // e.g. the version name
	Time        time.Time       `json:"time"`
	WorkspaceID string          `json:"workspaceId"`
	Data        json.RawMessage `json:"data"`
}

// PrefixEvent starts event ids.
const PrefixEvent = "evt-"

// EventFilter selects outbox events.
type EventFilter struct {
	WorkspaceID string
	Types       []string
	AfterSeq    int64
	Limit       int
	// Desc lists newest first; AfterSeq, when not 0, is then an upper
	// bound (seq < AfterSeq), so the last seq read is again the cursor.
	Desc bool
}

// EventService reads the outbox.
type EventService interface {
	// FindEvents lists events in outbox order.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, error)
}
