package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"atrium"
	"atrium/alertcel"
	"atrium/authz"
)

// alertEventTypes are the event types a rule may name (event.go).
var alertEventTypes = []string{
	atrium.EventJobStatusChanged, atrium.EventJobTimeout, atrium.EventJobPreempted, atrium.EventDSWStatusChanged,
	atrium.EventPipelineRunChanged, atrium.EventPipelineNodeChanged, atrium.EventModelApprovalChanged, atrium.EventWorkspaceMemberChange,
}

const (
	maxAlertTargets  = 10
	maxAlertThrottle = 7 * 24 * time.Hour
)

// AlertRuleRequest is the body of creating or replacing an alert rule.
type AlertRuleRequest struct {
	Name       string   `json:"name"`
	EventTypes []string `json:"eventTypes"`
	// Scope is "All", "Mine" or {"resourceId": "…"}.
	Scope  json.RawMessage    `json:"scope,omitempty"`
	Filter atrium.AlertFilter `json:"filter"`
	// Throttle is a duration such as "1m"; "" or "0s" is none.
	Throttle string `json:"throttle,omitempty"`
	// Enabled defaults to true.
	Enabled *bool                `json:"enabled,omitempty"`
	Targets []AlertTargetRequest `json:"targets"`
}

// AlertTargetRequest is one target; secret is write-only (webhook signing
// secret, DingTalk token secret). On replace, a target without secret keeps
// the secret of the target at the same index if its type and url are the
// same; "" removes it.
type AlertTargetRequest struct {
	Type   string   `json:"type"`
	URL    string   `json:"url,omitempty"`
	To     []string `json:"to,omitempty"`
	Secret *string  `json:"secret,omitempty"`
}

func alertRoutes(ws string) []*route {
	base := ws + "/alert-rules"
	one := base + "/{ruleId}"
	return []*route{
		{method: "POST", path: base, code: "Alert:CreateRule", status: http.StatusCreated, self: true,
			summary: "Create an alert rule: which events (types, scope Mine|All|{resourceId}, filter with statuses, job types or a CEL expression) go to which targets",
			in:      AlertRuleRequest{}, out: atrium.AlertRule{}, h: createAlertRule},
		{method: "GET", path: base, code: "Alert:ListRules", status: http.StatusOK,
			summary: "List alert rules by name (your own; Admins all)", out: List[*atrium.AlertRule]{}, h: listAlertRules},
		{method: "GET", path: one, code: "Alert:GetRule", status: http.StatusOK, self: true,
			summary: "Read an alert rule (secrets show as hasSecret only)", out: atrium.AlertRule{}, h: getAlertRule},
		{method: "PUT", path: one, code: "Alert:UpdateRule", status: http.StatusOK, self: true,
			summary: "Replace an alert rule (a target without secret keeps the one it had)", in: AlertRuleRequest{}, out: atrium.AlertRule{}, h: updateAlertRule},
		{method: "DELETE", path: one, code: "Alert:DeleteRule", status: http.StatusNoContent, self: true,
			summary: "Delete an alert rule and its delivery history", h: deleteAlertRule},
		{method: "GET", path: one + "/deliveries", code: "Alert:GetRule", status: http.StatusOK, self: true,
			summary: "A rule's deliveries, newest first: status, attempts, last error, response code, latency",
			query:   []param{{"limit", "at most this many, 1–500 (default 50)"}}, out: List[*atrium.Delivery]{}, h: listDeliveries},
		{method: "POST", path: one + "/test", code: "Alert:TestRule", status: http.StatusAccepted, self: true,
			summary: "Send a sample event of the rule's first event type to each of its targets; answers with the queued test deliveries",
			out:     List[*atrium.Delivery]{}, h: testAlertRule},
	}
}

func ruleResource(r *atrium.AlertRule) authz.Resource {
	return authz.Resource{WorkspaceID: r.WorkspaceID, Kind: "alert rule", ID: r.ID, OwnerID: r.Owner}
}

// ruleOf loads the rule named by the path and authorizes code on it; rules
// of other workspaces and those the caller may not read are 404.
func (c *call) ruleOf(code string) (*atrium.AlertRule, error) {
	id := c.r.PathValue("ruleId")
	r, err := c.s.Store.FindAlertRuleByID(c.ctx(), id)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && r.WorkspaceID != c.ws.ID) {
		c.authorized = true
		return nil, atrium.Errorf(atrium.ENOTFOUND, "alert rule %q not found", id)
	} else if err != nil {
		return nil, err
	}
	if err := c.authorize(code, ruleResource(r)); err != nil {
		return nil, err
	}
	return r, nil
}

// parseScope reads "All", "Mine", {"resourceId": …} or a resource id.
func parseScope(raw json.RawMessage) (scope, resourceID string, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return atrium.ScopeMine, "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case atrium.ScopeAll, atrium.ScopeMine:
			return s, "", nil
		case "":
			return "", "", atrium.FieldErrorf("scope", `must be "All", "Mine" or {"resourceId": "…"}`)
		}
		return "", s, nil
	}
	var o struct {
		ResourceID string `json:"resourceId"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return "", "", atrium.FieldErrorf("scope", `must be "All", "Mine" or {"resourceId": "…"}`)
	}
	if o.ResourceID == "" {
		return "", "", atrium.FieldErrorf("scope.resourceId", "is required")
	}
	return "", o.ResourceID, nil
}

// scopeOwner returns whose resources the scope covers, for the authorizer:
// the owner for Mine, "" for All, the resource's owner for one resource,
// which must be a job or asset of the workspace the caller may see.
func (c *call) scopeOwner(scope, resourceID, owner string) (string, error) {
	switch scope {
	case atrium.ScopeAll:
		return "", nil
	case atrium.ScopeMine:
		return owner, nil
	}
	unknown := atrium.FieldErrorf("scope.resourceId", "%q is no job, DSW instance or asset of this workspace that you may see", resourceID)
	if j, err := c.s.Store.FindJobByID(c.ctx(), resourceID); err == nil {
		get := dlcJobs.get
		switch j.Kind {
		case atrium.KindDSW:
			get = dswInstances.get
		case atrium.KindSQL:
			get = sqlJobs.get
		}
		if j.WorkspaceID != c.ws.ID || !c.allowed(get, jobResource(j)) {
			return "", unknown
		}
		return j.Creator, nil
	} else if atrium.ErrorCode(err) != atrium.ENOTFOUND {
		return "", err
	}
	a, err := c.s.Store.FindAssetByID(c.ctx(), resourceID)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return "", unknown
	} else if err != nil {
		return "", err
	}
	for _, k := range assetKinds {
		if k.kind == a.Kind && a.WorkspaceID == c.ws.ID && c.allowed(k.code("Get"), assetResource(k, a)) {
			return a.Owner, nil
		}
	}
	return "", unknown
}

// ruleFromRequest validates req into r (whose ID, WorkspaceID and Owner
// are set); old is the rule being replaced (nil on create). It seals new
// secrets with the rule id and target index.
func (c *call) ruleFromRequest(req *AlertRuleRequest, r, old *atrium.AlertRule) error {
	if err := checkRuleName(req.Name); err != nil {
		return err
	}
	r.Name = req.Name
	if len(req.EventTypes) == 0 {
		return atrium.FieldErrorf("eventTypes", "name at least one event type (%s)", strings.Join(alertEventTypes, ", "))
	}
	for i, t := range req.EventTypes {
		if !slices.Contains(alertEventTypes, t) {
			return atrium.FieldErrorf(fmt.Sprintf("eventTypes[%d]", i), "%q is not an event type (%s)", t, strings.Join(alertEventTypes, ", "))
		}
		if slices.Contains(req.EventTypes[:i], t) {
			return atrium.FieldErrorf(fmt.Sprintf("eventTypes[%d]", i), "%q is named twice", t)
		}
	}
	r.EventTypes = slices.Clone(req.EventTypes)
	var err error
	if r.Scope, r.ResourceID, err = parseScope(req.Scope); err != nil {
		return err
	}
	if err := checkFilterList("filter.statuses", req.Filter.Statuses); err != nil {
		return err
	}
	if err := checkFilterList("filter.jobTypes", req.Filter.JobTypes); err != nil {
		return err
	}
	if req.Filter.CEL != "" {
		if _, err := alertcel.Compile(req.Filter.CEL); err != nil {
			if ce, ok := err.(*alertcel.Error); ok {
				return atrium.FieldErrorf("filter.cel", "%s", ce.Error())
			}
			return err
		}
	}
	r.Filter = atrium.AlertFilter{Statuses: slices.Clone(req.Filter.Statuses), JobTypes: slices.Clone(req.Filter.JobTypes), CEL: req.Filter.CEL}
	r.Throttle = 0
	if req.Throttle != "" {
		d, err := time.ParseDuration(req.Throttle)
		switch {
		case err != nil || d < 0:
			return atrium.FieldErrorf("throttle", "%q is not a duration such as \"1m\" or \"2h\"", req.Throttle)
		case d > maxAlertThrottle:
			return atrium.FieldErrorf("throttle", "must be at most %s", maxAlertThrottle)
		}
		r.Throttle = atrium.Duration(d)
	}
	r.Enabled = req.Enabled == nil || *req.Enabled
	if len(req.Targets) == 0 {
		return atrium.FieldErrorf("targets", "name at least one target")
	}
	if len(req.Targets) > maxAlertTargets {
		return atrium.FieldErrorf("targets", "at most %d targets", maxAlertTargets)
	}
	r.Targets = make([]atrium.AlertTarget, len(req.Targets))
	for i, t := range req.Targets {
		field := fmt.Sprintf("targets[%d]", i)
		out := atrium.AlertTarget{Type: t.Type}
		switch t.Type {
		case atrium.TargetWebhook, atrium.TargetDingTalk, atrium.TargetWeCom, atrium.TargetLark, atrium.TargetSlack:
			if err := checkTargetURL(field+".url", t.URL); err != nil {
				return err
			}
			if len(t.To) > 0 {
				return atrium.FieldErrorf(field+".to", "is for email targets only")
			}
			out.URL = t.URL
		case atrium.TargetEmail:
			if t.URL != "" {
				return atrium.FieldErrorf(field+".url", "email targets take to, not url")
			}
			if len(t.To) == 0 {
				return atrium.FieldErrorf(field+".to", "name at least one recipient")
			}
			if len(t.To) > 50 {
				return atrium.FieldErrorf(field+".to", "at most 50 recipients")
			}
			for j, a := range t.To {
				if addr, err := mail.ParseAddress(a); err != nil || addr.Address != a {
					return atrium.FieldErrorf(fmt.Sprintf("%s.to[%d]", field, j), "%q is not an email address such as alice@example.com", a)
				}
			}
			out.To = slices.Clone(t.To)
		case "":
			return atrium.FieldErrorf(field+".type", "is required (webhook, dingtalk, wecom, lark, slack or email)")
		default:
			return atrium.FieldErrorf(field+".type", "%q is not a target type (webhook, dingtalk, wecom, lark, slack or email)", t.Type)
		}
		secretOK := t.Type == atrium.TargetWebhook || t.Type == atrium.TargetDingTalk
		switch {
		case t.Secret != nil && *t.Secret != "" && !secretOK:
			return atrium.FieldErrorf(field+".secret", "only webhook and dingtalk targets take a secret")
		case t.Secret != nil && *t.Secret != "":
			sealed, err := c.seal(field+".secret", *t.Secret, r.ID+":"+strconv.Itoa(i))
			if err != nil {
				return err
			}
			out.Secret = sealed
		case t.Secret == nil && old != nil && i < len(old.Targets):
			if o := old.Targets[i]; o.Type == out.Type && o.URL == out.URL {
				out.Secret = o.Secret
			}
		}
		out.HasSecret = len(out.Secret) > 0
		r.Targets[i] = out
	}
	return nil
}

func checkRuleName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return atrium.FieldErrorf("name", "is required")
	case len(name) > 128:
		return atrium.FieldErrorf("name", "must be at most 128 bytes")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return atrium.FieldErrorf("name", "must not contain control characters")
	}
	return nil
}

func checkFilterList(field string, vs []string) error {
	for i, v := range vs {
		if strings.TrimSpace(v) == "" || len(v) > 128 {
			return atrium.FieldErrorf(fmt.Sprintf("%s[%d]", field, i), "must be a non-empty value of at most 128 bytes")
		}
	}
	return nil
}

// checkTargetURL accepts absolute http(s) URLs; private addresses are
// refused when delivering, unless the platform allow-lists them.
func checkTargetURL(field, s string) error {
	if s == "" {
		return atrium.FieldErrorf(field, "is required")
	}
	if len(s) > 2048 {
		return atrium.FieldErrorf(field, "must be at most 2048 bytes")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return atrium.FieldErrorf(field, "must be an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return atrium.FieldErrorf(field, "must not hold credentials; use the target's secret")
	}
	return nil
}

func createAlertRule(c *call) (any, error) {
	// Whoever may create no rule at all is told so before the body counts.
	if err := c.authorize("Alert:CreateRule", authz.Resource{Kind: "alert rule", OwnerID: c.user.ID}); err != nil {
		return nil, err
	}
	var req AlertRuleRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	r := &atrium.AlertRule{ID: atrium.NewID(atrium.PrefixRule), WorkspaceID: c.ws.ID, Owner: c.user.ID, OwnerName: c.user.Name}
	if err := c.ruleFromRequest(&req, r, nil); err != nil {
		return nil, err
	}
	owner, err := c.scopeOwner(r.Scope, r.ResourceID, r.Owner)
	if err != nil {
		return nil, err
	}
	if err := c.authorize("Alert:CreateRule", authz.Resource{Kind: "alert rule", OwnerID: owner}); err != nil {
		return nil, err
	}
	if err := c.s.Store.CreateAlertRule(c.ctx(), r); err != nil {
		if atrium.ErrorCode(err) == atrium.ECONFLICT {
			return nil, &atrium.Error{Code: atrium.ECONFLICT, Field: "name", Message: fmt.Sprintf("the workspace already has an alert rule named %q", r.Name)}
		}
		return nil, err
	}
	return r, nil
}

func listAlertRules(c *call) (any, error) {
	owner := c.user.ID
	if c.s.Authz.ScopeOf(c.sub, "Alert:GetRule")&authz.All != 0 {
		owner = ""
	}
	rs, err := c.s.Store.FindAlertRules(c.ctx(), c.ws.ID, owner)
	if err != nil {
		return nil, err
	}
	return newList(rs, len(rs), page{}), nil
}

func getAlertRule(c *call) (any, error) { return c.ruleOf("Alert:GetRule") }

func updateAlertRule(c *call) (any, error) {
	old, err := c.ruleOf("Alert:UpdateRule")
	if err != nil {
		return nil, err
	}
	var req AlertRuleRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	r := &atrium.AlertRule{ID: old.ID, WorkspaceID: old.WorkspaceID, Owner: old.Owner, OwnerName: old.OwnerName, CreatedAt: old.CreatedAt}
	if err := c.ruleFromRequest(&req, r, old); err != nil {
		return nil, err
	}
	// The new scope must be one the caller may create a rule for (a
	// developer cannot widen their rule to All).
	owner, err := c.scopeOwner(r.Scope, r.ResourceID, r.Owner)
	if err != nil {
		return nil, err
	}
	if err := c.authorize("Alert:CreateRule", authz.Resource{Kind: "alert rule", ID: r.ID, OwnerID: owner}); err != nil {
		return nil, err
	}
	if err := c.s.Store.UpdateAlertRule(c.ctx(), r); err != nil {
		if atrium.ErrorCode(err) == atrium.ECONFLICT {
			return nil, &atrium.Error{Code: atrium.ECONFLICT, Field: "name", Message: fmt.Sprintf("the workspace already has an alert rule named %q", r.Name)}
		}
		return nil, err
	}
	return r, nil
}

func deleteAlertRule(c *call) (any, error) {
	r, err := c.ruleOf("Alert:DeleteRule")
	if err != nil {
		return nil, err
	}
	return nil, c.s.Store.DeleteAlertRule(c.ctx(), r.ID)
}

func listDeliveries(c *call) (any, error) {
	r, err := c.ruleOf("Alert:GetRule")
	if err != nil {
		return nil, err
	}
	limit := defaultPageSize
	if s := c.r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return nil, atrium.FieldErrorf("limit", "must be a number from 1 to 500")
		}
		limit = n
	}
	ds, err := c.s.Store.FindDeliveries(c.ctx(), r.ID, limit)
	if err != nil {
		return nil, err
	}
	return newList(ds, len(ds), page{}), nil
}

// sampleEvent is the CloudEvent a test delivery carries.
func sampleEvent(c *call, r *atrium.AlertRule, typ string) (id string, payload json.RawMessage, err error) {
	data := map[string]any{"test": true, "actor": c.user.Name, "reason": "Test", "message": "a test notification of alert rule " + r.Name}
	source, subject := "/workspaces/"+r.WorkspaceID+"/alert-rules/"+r.ID, "test"
	switch typ {
	case atrium.EventJobStatusChanged, atrium.EventJobTimeout, atrium.EventJobPreempted:
		data["from"], data["to"], data["jobType"], data["jobId"] = atrium.JobRunning, atrium.JobFailed, "PyTorchJob", "dlc-test"
		source, subject = "/workspaces/"+r.WorkspaceID+"/jobs/dlc-test", "dlc-test"
	case atrium.EventDSWStatusChanged:
		data["from"], data["to"] = atrium.JobRunning, atrium.JobStopped
	case atrium.EventPipelineRunChanged, atrium.EventPipelineNodeChanged:
		data["from"], data["to"], data["runId"] = "Running", "Succeeded", "run-test"
	case atrium.EventModelApprovalChanged:
		data["from"], data["to"], data["approvalStatus"] = atrium.ApprovalPending, atrium.ApprovalApproved, atrium.ApprovalApproved
		subject = "1.0.0"
	case atrium.EventWorkspaceMemberChange:
		data["userName"], data["roles"] = c.user.Name, []string{atrium.RoleAlgoDeveloper}
	}
	id = atrium.NewID(atrium.PrefixEvent)
	b, err := json.Marshal(map[string]any{"id": id, "type": typ, "source": source, "subject": subject,
		"time": time.Now().UTC().Format(time.RFC3339Nano), "workspaceId": r.WorkspaceID, "data": data})
	return id, b, err
}

func testAlertRule(c *call) (any, error) {
	r, err := c.ruleOf("Alert:TestRule")
	if err != nil {
		return nil, err
	}
	if len(r.EventTypes) == 0 || len(r.Targets) == 0 {
		return nil, atrium.Errorf(atrium.EINVALID, "alert rule %s has no event type or no target to test", r.ID)
	}
	id, payload, err := sampleEvent(c, r, r.EventTypes[0])
	if err != nil {
		return nil, err
	}
	ds := make([]*atrium.Delivery, len(r.Targets))
	for i, t := range r.Targets {
		ds[i] = &atrium.Delivery{RuleID: r.ID, WorkspaceID: r.WorkspaceID, TargetIndex: i, TargetType: t.Type,
			EventID: id, EventType: r.EventTypes[0], Test: true, Payload: payload}
	}
	if err := c.s.Store.EnqueueDeliveries(c.ctx(), ds, 0); err != nil {
		return nil, err
	}
	return newList(ds, len(ds), page{}), nil
}
