package httpapi

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"

	"atrium"
)

// --- Alert rules and their deliveries ---

func alertRulePath(workspaceID, ruleID string) string {
	p := wsPath(workspaceID) + "/alert-rules"
	if ruleID != "" {
		p += "/" + pathEsc(ruleID)
	}
	return p
}

// CreateAlertRule creates a rule from body: an AlertRuleRequest, or its
// JSON (a json.RawMessage) as read from a file.
func (c *Client) CreateAlertRule(ctx context.Context, workspaceID string, body any) (*atrium.AlertRule, error) {
	var out atrium.AlertRule
	return &out, c.do(ctx, "POST", alertRulePath(workspaceID, ""), nil, body, &out, nil)
}

// ListAlertRules lists the rules the caller may see, by name.
func (c *Client) ListAlertRules(ctx context.Context, workspaceID string) (*List[*atrium.AlertRule], error) {
	var out List[*atrium.AlertRule]
	return &out, c.do(ctx, "GET", alertRulePath(workspaceID, ""), nil, nil, &out, nil)
}

// GetAlertRule reads a rule.
func (c *Client) GetAlertRule(ctx context.Context, workspaceID, ruleID string) (*atrium.AlertRule, error) {
	var out atrium.AlertRule
	return &out, c.do(ctx, "GET", alertRulePath(workspaceID, ruleID), nil, nil, &out, nil)
}

// UpdateAlertRule replaces a rule with body (as CreateAlertRule); targets
// given without secret keep theirs when type and url are unchanged.
func (c *Client) UpdateAlertRule(ctx context.Context, workspaceID, ruleID string, body any) (*atrium.AlertRule, error) {
	var out atrium.AlertRule
	return &out, c.do(ctx, "PUT", alertRulePath(workspaceID, ruleID), nil, body, &out, nil)
}

// DeleteAlertRule deletes a rule and its delivery history.
func (c *Client) DeleteAlertRule(ctx context.Context, workspaceID, ruleID string) error {
	return c.do(ctx, "DELETE", alertRulePath(workspaceID, ruleID), nil, nil, nil, nil)
}

// TestAlertRule queues a sample event to each of the rule's targets.
func (c *Client) TestAlertRule(ctx context.Context, workspaceID, ruleID string) (*List[*atrium.Delivery], error) {
	var out List[*atrium.Delivery]
	return &out, c.do(ctx, "POST", alertRulePath(workspaceID, ruleID)+"/test", nil, nil, &out, nil)
}

// ListDeliveries lists a rule's deliveries, newest first (limit 0: the
// server's default).
func (c *Client) ListDeliveries(ctx context.Context, workspaceID, ruleID string, limit int) (*List[*atrium.Delivery], error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out List[*atrium.Delivery]
	return &out, c.do(ctx, "GET", alertRulePath(workspaceID, ruleID)+"/deliveries", q, nil, &out, nil)
}

// RequestOf turns a rule as read back into the body that replaces it
// unchanged (secrets are kept by the server).
func RequestOf(r *atrium.AlertRule) AlertRuleRequest {
	req := AlertRuleRequest{Name: r.Name, EventTypes: r.EventTypes, Filter: r.Filter, Enabled: &r.Enabled}
	switch {
	case r.ResourceID != "":
		req.Scope, _ = json.Marshal(map[string]string{"resourceId": r.ResourceID})
	case r.Scope != "":
		req.Scope, _ = json.Marshal(r.Scope)
	}
	if r.Throttle != 0 {
		b, _ := r.Throttle.MarshalJSON()
		req.Throttle, _ = strconv.Unquote(string(b))
	}
	for _, t := range r.Targets {
		req.Targets = append(req.Targets, AlertTargetRequest{Type: t.Type, URL: t.URL, To: t.To})
	}
	return req
}
