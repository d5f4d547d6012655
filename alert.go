package atrium

import (
	"context"
	"encoding/json"
	"time"
)

// PrefixRule starts alert rule ids.
const PrefixRule = "rule-"

// Alert rule scopes.
const (
	ScopeMine = "Mine" // events of the rule owner's own resources
	ScopeAll  = "All"  // every event of the workspace (Admin)
	// A scope naming one resource is its id (ScopeResource).
)

// Target types.
const (
	TargetWebhook  = "webhook"
	TargetDingTalk = "dingtalk"
	TargetWeCom    = "wecom"
	TargetLark     = "lark"
	TargetSlack    = "slack"
	TargetEmail    = "email"
)

// AlertRule says which events of a workspace to deliver where.
type AlertRule struct {
	ID          string   `json:"ruleId"`
	WorkspaceID string   `json:"workspaceId"`
	Name        string   `json:"name"`
	Owner       string   `json:"owner"` // user id of the creator
	OwnerName   string   `json:"ownerName"`
	EventTypes  []string `json:"eventTypes"`
	// Scope is ScopeMine, ScopeAll, or "" with ResourceID set.
	Scope      string      `json:"scope"`
	ResourceID string      `json:"resourceId,omitempty"`
	Filter     AlertFilter `json:"filter"`
	// Throttle drops matches within this window after a delivery of the
	// same rule and resource; 0 means none.
	Throttle Duration `json:"throttle"`
	Enabled  bool     `json:"enabled"`
	// Targets hold their secrets sealed (Secret); views never show them.
	Targets   []AlertTarget `json:"targets"`
	CreatedAt time.Time     `json:"createdAt"`
	UpdatedAt time.Time     `json:"updatedAt"`
}

// AlertFilter narrows a rule's events.
type AlertFilter struct {
	Statuses []string `json:"statuses,omitempty"` // data.to status values
	JobTypes []string `json:"jobTypes,omitempty"`
	// CEL is a cel-go expression over `event` (the CloudEvent as a map),
	// type-checked when the rule is saved.
	CEL string `json:"cel,omitempty"`
}

// AlertTarget is one destination of a rule.
type AlertTarget struct {
	Type string   `json:"type"`
	URL  string   `json:"url,omitempty"` // webhook and chat targets
	To   []string `json:"to,omitempty"`  // email recipients
	// Secret is the sealed signing secret or chat token (write-only).
	Secret    []byte `json:"-"`
	HasSecret bool   `json:"hasSecret"`
}

// Delivery statuses.
const (
	DeliveryPending   = "Pending"
	DeliveryDelivered = "Delivered"
	DeliveryFailed    = "Failed" // gave up: permanent error, retry limit or max age
)

// Delivery is one event on its way to one target of one rule.
type Delivery struct {
	ID           int64      `json:"deliveryId"`
	RuleID       string     `json:"ruleId"`
	WorkspaceID  string     `json:"workspaceId"`
	TargetIndex  int        `json:"targetIndex"`
	TargetType   string     `json:"targetType"`
	EventID      string     `json:"eventId"`
	EventType    string     `json:"eventType"`
	Status       string     `json:"status"`
	Attempts     int        `json:"attempts"`
	NextAttempt  time.Time  `json:"nextAttemptAt"`
	LastError    string     `json:"lastError,omitempty"`
	ResponseCode int        `json:"responseCode,omitempty"`
	LatencyMs    int64      `json:"latencyMs,omitempty"`
	Test         bool       `json:"test,omitempty"` // a "send test" delivery
	CreatedAt    time.Time  `json:"createdAt"`
	DeliveredAt  *time.Time `json:"deliveredAt,omitempty"`
	// Payload is the event as delivered (the sample for tests).
	Payload json.RawMessage `json:"-"`
}

// DeliveryResult is what one attempt came to.
type DeliveryResult struct {
	Status       string // Delivered, Pending (retry at Next) or Failed
	Next         time.Time
	Error        string
	ResponseCode int
	LatencyMs    int64
}

// AlertService keeps rules and their delivery queue.
type AlertService interface {
	// CreateAlertRule inserts r (ID set when empty); ECONFLICT on a taken name.
	CreateAlertRule(ctx context.Context, r *AlertRule) error
	// FindAlertRuleByID returns ENOTFOUND if absent.
	FindAlertRuleByID(ctx context.Context, id string) (*AlertRule, error)
	// FindAlertRules lists a workspace's rules by name; owner "" means all.
	FindAlertRules(ctx context.Context, workspaceID, owner string) ([]*AlertRule, error)
	// UpdateAlertRule replaces r (by ID).
	UpdateAlertRule(ctx context.Context, r *AlertRule) error
	// DeleteAlertRule removes a rule; its delivery history goes with it.
	DeleteAlertRule(ctx context.Context, id string) error

	// EnqueueDeliveries inserts deliveries and advances the rule matcher's
	// cursor to afterSeq in one transaction, so an event is matched once.
	EnqueueDeliveries(ctx context.Context, ds []*Delivery, afterSeq int64) error
	// MatchCursor returns the outbox seq up to which events were matched.
	MatchCursor(ctx context.Context) (int64, error)
	// ClaimDeliveries takes up to n due Pending deliveries for a worker
	// until lease ends (FOR UPDATE SKIP LOCKED on PostgreSQL), so no two
	// workers send the same attempt.
	ClaimDeliveries(ctx context.Context, n int, now, lease time.Time) ([]*Delivery, error)
	// FinishDelivery records an attempt's result.
	FinishDelivery(ctx context.Context, id int64, res DeliveryResult) error
	// FindDeliveries lists a rule's deliveries, newest first.
	FindDeliveries(ctx context.Context, ruleID string, limit int) ([]*Delivery, error)
}
