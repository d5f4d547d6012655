package atrium

import (
	"context"
	"time"
)

// Operation results.
const (
	ResultSucceeded = "Succeeded"
	ResultDenied    = "Denied"
	ResultFailed    = "Failed"
)

// OperationLog records one mutating call or one denial.
type OperationLog struct {
	ID          string    `json:"operationId"`
	WorkspaceID string    `json:"workspaceId,omitempty"` // "" for platform-level operations
	ActorID     string    `json:"actorId,omitempty"`
	ActorName   string    `json:"actorName,omitempty"`
	Action      string    `json:"action"` // permission code, e.g. Workspace:CreateMember
	Target      string    `json:"target,omitempty"`
	Result      string    `json:"result"`
	StatusCode  int       `json:"statusCode"`
	Detail      string    `json:"detail,omitempty"`
	RequestID   string    `json:"requestId"`
	Time        time.Time `json:"time"`
}

// OperationLogFilter selects operation logs, newest first.
type OperationLogFilter struct {
	WorkspaceID *string // nil: all workspaces and platform operations
	ActorID     string
	Action      string
	Result      string
	Offset      int
	Limit       int
}

// OperationLogService keeps the operation log.
type OperationLogService interface {
	// AppendOperationLog inserts l, setting ID and Time when empty.
	AppendOperationLog(ctx context.Context, l *OperationLog) error
	// FindOperationLogs returns a page, newest first, and the total count.
	FindOperationLogs(ctx context.Context, f OperationLogFilter) ([]*OperationLog, int, error)
}

// Audit describes the API call in progress. The HTTP layer puts it in the
// context; a store write records it in the same transaction as the change
// (so no change is ever without its log line) and sets Recorded. Calls whose
// change did not happen are logged by the HTTP layer instead.
type Audit struct {
	ActorID   string
	ActorName string
	Action    string
	RequestID string
	Status    int // HTTP status the call answers with when it succeeds
	Recorded  bool
}

type auditKey struct{}

// WithAudit returns a context carrying a.
func WithAudit(ctx context.Context, a *Audit) context.Context {
	return context.WithValue(ctx, auditKey{}, a)
}

// AuditFrom returns the call's audit record, or nil outside an API call.
func AuditFrom(ctx context.Context) *Audit {
	a, _ := ctx.Value(auditKey{}).(*Audit)
	return a
}
